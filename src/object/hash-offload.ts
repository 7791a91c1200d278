// MD5 (the ETag) and the requested checksums of a large upload, computed on a worker thread.
//
// On the main thread a PUT pays MD5, Reed-Solomon encoding and CRC32C one after the other, and
// MD5 alone (one core, ~450-750 MB/s) is the largest of them. Moved to a worker it runs
// alongside the encoding and the disk writes. Stripe buffers live in SharedArrayBuffers, so a
// stripe is handed over as (buffer, offset, length) and never copied; the main thread refills
// a buffer only after the worker acknowledged it (and its writes are done). Updates reach the
// worker in the order they were sent, so the digests are exactly those of the body.
//
// A few worker threads are shared by every upload; an upload ("session") stays on one. A worker
// that dies fails the sessions on it (the uploads end with an error, their temp files removed),
// and the next upload starts a fresh one. Idle workers do not keep the process alive.

import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ChecksumAlgorithm } from '../meta/types.js';
import type { HashReply, HashRequest } from './hash-worker.js';

export interface Digests {
  md5: Buffer;
  checksums: Partial<Record<ChecksumAlgorithm, Buffer>>;
}

/** Worker threads at most: on a machine with few cores, leave one for the main thread. */
const MAX_THREADS = Math.max(1, Math.min(4, os.availableParallelism() - 1));

/** With a single core there is nothing to overlap with: hashing on the main thread is cheaper. */
export const HASH_OFFLOAD_USEFUL = os.availableParallelism() > 1;

class HashThread {
  private readonly worker: Worker;
  readonly sessions = new Map<number, HashSession>();
  private gone = false;

  constructor(private readonly onGone: (t: HashThread) => void) {
    this.worker = new Worker(new URL('./hash-worker.js', import.meta.url));
    this.worker.unref();
    this.worker.on('message', (r: HashReply) => this.sessions.get(r.id)?.onReply(r));
    this.worker.on('error', (e: Error) => this.fail(new Error(`hash worker failed: ${e.message}`)));
    this.worker.on('exit', (code) => this.fail(new Error(`hash worker exited (code ${code})`)));
  }

  get alive(): boolean {
    return !this.gone;
  }

  post(msg: HashRequest): void {
    this.worker.postMessage(msg);
  }

  add(s: HashSession): void {
    // While an upload waits on it, the worker must keep the process alive.
    if (this.sessions.size === 0) this.worker.ref();
    this.sessions.set(s.id, s);
  }

  remove(s: HashSession): void {
    if (this.sessions.get(s.id) !== s) return;
    this.sessions.delete(s.id);
    if (this.sessions.size === 0) this.worker.unref();
  }

  private fail(e: Error): void {
    if (this.gone) return;
    this.gone = true;
    this.onGone(this);
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of sessions) s.fail(e);
    void this.worker.terminate().catch(() => undefined);
  }
}

const threads: HashThread[] = [];
let nextSessionId = 1;

function pickThread(): HashThread {
  let best: HashThread | undefined;
  for (const t of threads) if (!best || t.sessions.size < best.sessions.size) best = t;
  if (!best || (best.sessions.size > 0 && threads.length < MAX_THREADS)) {
    best = new HashThread((gone) => {
      const i = threads.indexOf(gone);
      if (i >= 0) threads.splice(i, 1);
    });
    threads.push(best);
  }
  return best;
}

/** A stripe buffer the hashing workers can read without a copy. */
export function allocShared(size: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(size));
}

/** One upload's digests, computed on a worker. */
export class HashSession {
  readonly id = nextSessionId++;
  private readonly thread: HashThread;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private digestWaiter: { resolve: (d: Digests) => void; reject: (e: Error) => void } | undefined;
  private error: Error | undefined;
  private ended = false;

  constructor(algorithms: ChecksumAlgorithm[]) {
    this.thread = pickThread();
    this.thread.add(this);
    this.thread.post({ t: 'open', id: this.id, algorithms });
  }

  /**
   * Feeds bytes [0, length) of `buf` (which must live in a SharedArrayBuffer) to the digests.
   * Resolves once the worker has read them: only then may `buf` be written again.
   */
  update(buf: Buffer, length: number): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (this.ended) return Promise.reject(new Error('HashSession: update after digest or close'));
    if (!(buf.buffer instanceof SharedArrayBuffer)) return Promise.reject(new Error('HashSession: buffer is not shared'));
    if (length === 0) return Promise.resolve();
    const seq = this.seq++;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      this.thread.post({ t: 'update', id: this.id, seq, buffer: buf.buffer as SharedArrayBuffer, offset: buf.byteOffset, length });
    });
  }

  /** MD5 and checksums of everything fed so far; ends the session. */
  digest(): Promise<Digests> {
    if (this.error) return Promise.reject(this.error);
    if (this.ended) return Promise.reject(new Error('HashSession: digest after digest or close'));
    this.ended = true;
    return new Promise((resolve, reject) => {
      this.digestWaiter = { resolve, reject };
      this.thread.post({ t: 'digest', id: this.id });
    });
  }

  /**
   * Ends the session without a digest (the upload failed). Updates still queued are dropped
   * by the worker; their promises never settle, so their buffers must not be reused.
   */
  close(): void {
    if (this.ended && !this.digestWaiter) return;
    this.ended = true;
    this.pending.clear();
    this.digestWaiter = undefined;
    if (this.thread.alive) this.thread.post({ t: 'close', id: this.id });
    this.thread.remove(this);
  }

  /** @internal A reply from the worker. */
  onReply(r: HashReply): void {
    switch (r.t) {
      case 'updated': {
        const p = this.pending.get(r.seq);
        this.pending.delete(r.seq);
        p?.resolve();
        break;
      }
      case 'digest': {
        const w = this.digestWaiter;
        this.digestWaiter = undefined;
        this.thread.remove(this);
        const checksums: Partial<Record<ChecksumAlgorithm, Buffer>> = {};
        for (const [a, v] of r.checksums) checksums[a] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
        w?.resolve({ md5: Buffer.from(r.md5.buffer, r.md5.byteOffset, r.md5.byteLength), checksums });
        break;
      }
      case 'error':
        this.fail(new Error(`hashing failed: ${r.message}`));
        this.thread.remove(this);
        break;
    }
  }

  /** @internal The worker failed: every waiter gets the error. */
  fail(e: Error): void {
    if (this.error) return;
    this.error = e;
    const waiters = [...this.pending.values()];
    this.pending.clear();
    for (const p of waiters) p.reject(e);
    const w = this.digestWaiter;
    this.digestWaiter = undefined;
    w?.reject(e);
  }
}
