// The memory budget on its own (leases, waiting, aborts, oversized leases), then an upload
// through the real ingest path under a tiny budget: the stripe buffers of every upload in
// flight stay within it, and a client that goes away releases what it held.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Disk } from '../../src/disk/disk.js';
import { BudgetAbortedError, MemoryBudget } from '../../src/erasure/memory-budget.js';
import { ShardWriter } from '../../src/erasure/writer.js';
import { ingest, uploadLeaseBytes, type IngestOptions } from '../../src/object/ingest.js';

const MiB = 1024 * 1024;
const tick = () => new Promise((r) => setImmediate(r));

describe('MemoryBudget', { timeout: 10_000 }, () => {
  test('leases within the budget are granted at once and counted; release is idempotent', async () => {
    const b = new MemoryBudget(100);
    const a = await b.acquire(60);
    const c = await b.acquire(40);
    assert.equal(b.inUse, 100);
    assert.equal(b.highWater, 100);
    a.release();
    a.release();
    assert.equal(b.inUse, 40);
    c.release();
    assert.equal(b.inUse, 0);
    assert.equal(b.highWater, 100);
  });

  test('a lease that does not fit waits until enough is released, in arrival order', async () => {
    const b = new MemoryBudget(100);
    const first = await b.acquire(80);
    const order: string[] = [];
    const big = b.acquire(50).then((l) => (order.push('big'), l));
    const small = b.acquire(10).then((l) => (order.push('small'), l));
    await tick();
    // `small` would fit (80 + 10) but must not pass `big`, or a stream of small leases could starve it.
    assert.deepEqual(order, []);
    assert.equal(b.waiting, 2);
    first.release();
    const [l1, l2] = await Promise.all([big, small]);
    assert.deepEqual(order, ['big', 'small']);
    assert.equal(b.inUse, 60);
    assert.ok(b.highWater <= 100);
    l1.release();
    l2.release();
    assert.equal(b.inUse, 0);
  });

  test('tryAcquire and tryGrow never wait and never pass a waiter', async () => {
    const b = new MemoryBudget(100);
    const l = await b.acquire(50);
    assert.equal(l.tryGrow(40), true);
    assert.equal(l.bytes, 90);
    assert.equal(l.tryGrow(20), false);
    assert.equal(b.tryAcquire(20), undefined);
    const waiting = b.acquire(30);
    await tick();
    l.split(80).release(); // 10 leased now: 30 would fit, but the waiter comes first
    const w = await waiting;
    assert.equal(b.inUse, 40);
    assert.equal(l.bytes, 10);
    assert.ok(b.tryAcquire(60));
    assert.equal(b.tryAcquire(1), undefined);
    w.release();
  });

  test('an abort while waiting rejects, leaves nothing leased, and lets the next waiter in', async () => {
    const b = new MemoryBudget(100);
    const held = await b.acquire(90);
    const stop = new AbortController();
    const aborted = b.acquire(50, stop.signal);
    const next = b.acquire(10);
    await tick();
    assert.equal(b.waiting, 2);
    stop.abort();
    await assert.rejects(aborted, BudgetAbortedError);
    // The aborted waiter held up `next`, which fits beside the 90.
    const n = await next;
    assert.equal(b.inUse, 100);
    n.release();
    held.release();
    assert.equal(b.inUse, 0);
    await assert.rejects(b.acquire(1, AbortSignal.abort()), BudgetAbortedError);
    assert.equal(b.inUse, 0);
  });

  test('a lease larger than the whole budget is granted alone, never deadlocks', async () => {
    const b = new MemoryBudget(100);
    const small = await b.acquire(10);
    const huge = b.acquire(500);
    await tick();
    assert.equal(b.waiting, 1);
    small.release();
    const h = await huge;
    assert.equal(b.inUse, 500);
    const after = b.acquire(1);
    await tick();
    assert.equal(b.waiting, 1, 'nothing else runs beside an oversized lease');
    h.release();
    (await after).release();
    assert.equal(b.inUse, 0);
  });

  test('split moves bytes between leases; each is released on its own', async () => {
    const b = new MemoryBudget(100);
    const l = await b.acquire(70);
    const part = l.split(30);
    assert.equal(part.bytes, 30);
    assert.equal(l.bytes, 40);
    part.release();
    assert.equal(b.inUse, 40);
    l.release();
    assert.equal(b.inUse, 0);
  });
});

describe('uploads under a memory budget (real ingest, temp disks)', { timeout: 60_000 }, () => {
  let root: string;
  let disks: Disk[];
  const k = 2;
  const m = 2;
  const blockSize = 256 * 1024;

  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'tessera-budget-'));
    disks = [];
    for (let i = 0; i < 4; i++) {
      const d = new Disk(path.join(root, `disk${i}`), i);
      await mkdir(d.root, { recursive: true });
      await d.ensureDirs();
      disks.push(d);
    }
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const opts = (budget: MemoryBudget, size: number, id: string): IngestOptions => ({
    disks, k, m, blockSize, inlineThreshold: 64 * 1024, dataId: id, describe: { bucket: 'b', key: id },
    expectedSize: size, maxSize: 1024 * MiB, checksumAlgorithms: [], budget, hashOffloadMinSize: Infinity,
  });

  function body(size: number): Readable {
    let sent = 0;
    const chunk = Buffer.alloc(64 * 1024, 7);
    return new Readable({
      read() {
        if (sent >= size) return void this.push(null);
        const n = Math.min(chunk.length, size - sent);
        sent += n;
        this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
      },
    });
  }

  test('16 concurrent uploads never lease beyond the budget, and all complete', async () => {
    const stage = uploadLeaseBytes({ k, m, blockSize, inlineThreshold: 64 * 1024, expectedSize: 8 * MiB });
    // Room for 3 uploads' first stripe: the other 13 must wait (and do not deadlock).
    const budget = new MemoryBudget(3 * stage + 1);
    let waitedFor = 0;
    const results = await Promise.all(Array.from({ length: 16 }, async (_, i) => {
      const got = await ingest(body(4 * MiB + i), opts(budget, 4 * MiB + i, `up${i}`));
      waitedFor = Math.max(waitedFor, budget.waiting);
      await got.writer!.abort();
      return got.size;
    }));
    assert.deepEqual(results, Array.from({ length: 16 }, (_, i) => 4 * MiB + i));
    assert.ok(budget.highWater <= budget.limit, `high-water ${budget.highWater} > ${budget.limit}`);
    assert.ok(budget.waited > 0, 'no upload had to wait: the test did not test back-pressure');
    assert.equal(budget.inUse, 0);
  });

  test('with room to spare, an upload pipelines up to ShardWriter.DEPTH stripes', async () => {
    const budget = new MemoryBudget(1024 * MiB);
    const got = await ingest(body(8 * MiB), opts(budget, 8 * MiB, 'deep'));
    await got.writer!.abort();
    const stage = uploadLeaseBytes({ k, m, blockSize, inlineThreshold: 0, expectedSize: 8 * MiB });
    assert.equal(budget.highWater, ShardWriter.DEPTH * stage);
    assert.equal(budget.inUse, 0);
  });

  test('a client that goes away releases its lease, and one still waiting stops waiting', async () => {
    const stage = uploadLeaseBytes({ k, m, blockSize, inlineThreshold: 64 * 1024, expectedSize: 8 * MiB });
    const budget = new MemoryBudget(stage);
    // The first upload gets the whole budget and then stalls mid-body.
    const stalled = new PassThrough();
    const first = ingest(stalled, opts(budget, 8 * MiB, 'stalled'));
    stalled.write(Buffer.alloc(blockSize, 1));
    // Reading (its files open, its first bytes taken) before anything else happens.
    for (let i = 0; i < 500 && stalled.readableLength + stalled.writableLength > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(stalled.readableLength + stalled.writableLength, 0, 'the first upload never read its body');
    assert.equal(budget.inUse, stage);
    // The second waits for memory without reading its body; its client hangs up meanwhile.
    const waitingBody = new PassThrough();
    const second = ingest(waitingBody, opts(budget, 8 * MiB, 'waiting'));
    await tick();
    assert.equal(budget.waiting, 1);
    waitingBody.destroy();
    await assert.rejects(second, { code: 'IncompleteBody' });
    assert.equal(budget.waiting, 0);
    stalled.destroy(new Error('client hung up'));
    await assert.rejects(first, /client hung up/);
    assert.equal(budget.inUse, 0);
    // Nothing of either upload is left on the disks.
    for (const d of disks) assert.deepEqual((await readdir(d.tmpDir)).filter((f) => f === 'stalled' || f === 'waiting'), []);
  });
});
