// The body of a hashing worker thread (see hash-offload.ts). It keeps one MD5 and the requested
// checksums per upload ("session") and feeds them the stripes the main thread sends, in the
// order they arrive, straight from the shared stripe buffers (no copy). Every update is
// acknowledged so the main thread knows when it may refill the buffer.

import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { ChecksumAlgorithm } from '../meta/types.js';
import { createChecksummer, type Checksummer } from '../util/checksums.js';

export type HashRequest =
  | { t: 'open'; id: number; algorithms: ChecksumAlgorithm[] }
  | { t: 'update'; id: number; seq: number; buffer: SharedArrayBuffer; offset: number; length: number }
  | { t: 'digest'; id: number }
  | { t: 'close'; id: number };

export type HashReply =
  | { t: 'updated'; id: number; seq: number }
  | { t: 'digest'; id: number; md5: Uint8Array; checksums: [ChecksumAlgorithm, Uint8Array][] }
  | { t: 'error'; id: number; message: string };

interface Session {
  md5: Hash;
  sums: [ChecksumAlgorithm, Checksummer][];
}

const port = parentPort;
if (port) {
  const sessions = new Map<number, Session>();
  const reply = (r: HashReply) => port.postMessage(r);
  port.on('message', (msg: HashRequest) => {
    try {
      switch (msg.t) {
        case 'open':
          sessions.set(msg.id, { md5: createHash('md5'), sums: msg.algorithms.map((a) => [a, createChecksummer(a)]) });
          break;
        case 'update': {
          const s = sessions.get(msg.id);
          if (!s) break; // closed (aborted upload): nothing to do, nobody waits
          const view = Buffer.from(msg.buffer, msg.offset, msg.length);
          s.md5.update(view);
          for (const [, c] of s.sums) c.update(view);
          reply({ t: 'updated', id: msg.id, seq: msg.seq });
          break;
        }
        case 'digest': {
          const s = sessions.get(msg.id);
          if (!s) throw new Error(`hash session ${msg.id} is not open`);
          sessions.delete(msg.id);
          reply({ t: 'digest', id: msg.id, md5: s.md5.digest(), checksums: s.sums.map(([a, c]) => [a, c.digest()]) });
          break;
        }
        case 'close':
          sessions.delete(msg.id);
          break;
      }
    } catch (e) {
      sessions.delete(msg.id);
      reply({ t: 'error', id: msg.id, message: (e as Error).message ?? String(e) });
    }
  });
}
