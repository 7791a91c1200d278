// A small throughput benchmark for the erasure codec. Run it directly after a build:
//   node dist/src/erasure/bench-codec.js
// Figures are MB/s (10^6 bytes per second) of *data* processed: one stripe counts as
// k × blockSize bytes, for encoding as for reconstruction, so the two are comparable with
// the rate at which objects can be written or degraded-read.

import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { createCodec } from './index-codec.js';

export interface CodecBenchResult {
  k: number;
  m: number;
  blockSize: number;
  /** MB/s of data encoded. */
  encodeMBps: number;
  /**
   * MB/s of data recovered with min(2, m) data blocks lost (data blocks, not parity: losing
   * parity alone costs no decoding). NaN when m = 0, as nothing can be lost.
   */
  reconstructMBps: number;
}

/** Runs `op` repeatedly for about `seconds`, yielding to the event loop between batches. */
async function measure(op: () => void, bytesPerOp: number, seconds: number): Promise<number> {
  // Warm up so the JIT has optimised the hot loops before the clock starts.
  const warmUntil = performance.now() + Math.min(200, seconds * 200);
  while (performance.now() < warmUntil) op();

  const budgetMs = seconds * 1000;
  const start = performance.now();
  let ops = 0;
  let elapsed = 0;
  while (elapsed < budgetMs) {
    for (let i = 0; i < 4; i++) op();
    ops += 4;
    elapsed = performance.now() - start;
    // Let timers and I/O run: the benchmark may share a process with other work.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return (ops * bytesPerOp) / 1e6 / (elapsed / 1000);
}

/** Measures encode and reconstruct throughput; each measurement runs for about `seconds`. */
export async function benchCodec(k: number, m: number, blockSize: number, seconds: number): Promise<CodecBenchResult> {
  const codec = createCodec(k, m);
  const data = Array.from({ length: k }, () => randomFillSync(new Uint8Array(blockSize)));
  const parity = Array.from({ length: m }, () => new Uint8Array(blockSize));
  const stripeBytes = k * blockSize;

  const encodeMBps = await measure(() => codec.encode(data, parity), stripeBytes, seconds);

  let reconstructMBps = Number.NaN;
  const lost = Math.min(2, m, k);
  if (lost > 0) {
    const shards = [...data, ...parity];
    const present = shards.map((_, i) => i >= lost);
    // The same blocks are overwritten with the same content on every call; only time matters.
    reconstructMBps = await measure(() => codec.reconstruct(shards, present), stripeBytes, seconds);
  }
  return { k, m, blockSize, encodeMBps, reconstructMBps };
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

if (invokedDirectly) {
  const MiB = 1024 * 1024;
  const cases: [number, number, number][] = [
    [2, 2, MiB],
    [4, 4, MiB],
    [4, 2, MiB],
  ];
  for (const [k, m, blockSize] of cases) {
    const r = await benchCodec(k, m, blockSize, 2);
    console.log(
      `k=${k} m=${m} block=${blockSize / MiB} MiB: encode ${r.encodeMBps.toFixed(0)} MB/s, ` +
        `reconstruct (2 data lost) ${r.reconstructMBps.toFixed(0)} MB/s`,
    );
  }
}
