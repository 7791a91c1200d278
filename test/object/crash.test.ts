// Crash safety of the commit protocol: a child process writes, overwrites and deletes objects
// and is killed with SIGKILL at random moments, 50 times. After each kill, recovery must show
// every acknowledged write (or the one in flight after it, complete), nothing half-written,
// no temporary files, and no shard file that no metadata refers to.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openEngine } from '../../src/object/engine.js';
import { collect } from '../helpers/data.js';
import { S3Error } from '../../src/errors.js';
import { layoutsOf } from '../../src/object/garbage.js';

const CHILD = fileURLToPath(new URL('../helpers/crash-writer.js', import.meta.url));
const ROUNDS = 50;

interface Op { op: 'put' | 'del'; gen: number; md5: string }

function runUntilKilled(root: string, seed: number, killAfterMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, root, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!timer && out.includes('ready\n')) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(out);
      else reject(new Error(`crash writer exited on its own (${code}): ${err}`));
    });
  });
}

test(`acknowledged writes survive ${ROUNDS} SIGKILLs; nothing half-visible; no temp files or orphans`, { timeout: 600_000 }, async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-crash-'));
  // Per key: the last acknowledged op, and an op started after it (in flight at the kill).
  const acked = new Map<string, Op>();
  let totalAcks = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const out = await runUntilKilled(root, round + 1, 150 + ((round * 7919) % 600));
      const inflight = new Map<string, Op>();
      for (const line of out.split('\n')) {
        const [kind, op, key, gen, md5] = line.split(' ');
        if (kind !== 'start' && kind !== 'ack') continue;
        const rec = { op: op as Op['op'], gen: Number(gen), md5 };
        if (kind === 'start') inflight.set(key, rec);
        else {
          acked.set(key, rec);
          inflight.delete(key);
          totalAcks++;
        }
      }

      const e = await openEngine({ disks: [1, 2, 3, 4].map((i) => `${root}/disk${i}`), metaDir: `${root}/meta`, parity: 2, blockSize: 64 * 1024, inlineThreshold: 4096 });
      try {
        const keys = new Set([...acked.keys(), ...inflight.keys()]);
        for (const key of keys) {
          const allowed = [acked.get(key), inflight.get(key)].filter((x): x is Op => x !== undefined);
          let state: { exists: false } | { exists: true; md5: string };
          try {
            const v = await e.store.resolve('crash', key);
            const body = await collect(e.store.openData(v));
            const md5 = createHash('md5').update(body).digest('hex');
            assert.equal(md5, v.etag, `round ${round}: ${key} content does not match its own ETag`);
            state = { exists: true, md5 };
          } catch (err) {
            if (!(err instanceof S3Error && err.code === 'NoSuchKey')) throw err;
            state = { exists: false };
          }
          const ok = allowed.some((o) => (o.op === 'del' ? !state.exists : state.exists && state.md5 === o.md5));
          // A key never acknowledged may also simply not exist.
          const neverAcked = !acked.has(key) && !state.exists;
          assert.ok(ok || neverAcked, `round ${round}: ${key} is ${JSON.stringify(state)}, expected one of ${JSON.stringify(allowed)}`);
          // What recovery decided becomes the new truth for the next round.
          if (inflight.has(key)) {
            const o = inflight.get(key)!;
            const took = o.op === 'del' ? !state.exists : state.exists && state.md5 === o.md5;
            if (took) acked.set(key, o);
          }
        }
        // Recovery removed every temporary file, and every shard file on disk is referenced.
        const referenced = new Set<string>();
        const page = await e.store.meta.listVersions('crash', { maxKeys: 1000 });
        for (const v of page.versions) for (const l of layoutsOf(v.data)) referenced.add(l.dataId);
        for (const d of e.store.disks) {
          assert.deepEqual(await readdir(d.tmpDir), [], `round ${round}: temp files left on ${d.root}`);
          for (const sub of await readdir(path.join(d.root, 'shards'))) {
            for (const f of await readdir(path.join(d.root, 'shards', sub))) {
              assert.ok(referenced.has(f), `round ${round}: orphan shard file ${f} on ${d.root}`);
            }
          }
        }
        assert.deepEqual(await e.store.meta.listGarbage(10), []);
      } finally {
        await e.close();
      }
    }
    assert.ok(totalAcks > ROUNDS * 5, `the writer acknowledged only ${totalAcks} operations`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
