// Measurements of what bounds a write path on this machine, taken in the same run as the
// benchmark they explain: MD5 on one core (every PUT computes the ETag), CRC32C (every shard
// block), and the raw sequential write/read rate of the filesystem the disks live on.

import { createHash, randomFillSync } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { crc32c } from '../erasure/bitrot.js';
import { mbPerSec } from './stats.js';

const MiB = 1024 * 1024;

/** Repeats `op` (one op = `bytesPerOp` bytes) for at least `seconds` and at least 3 times; MB/s. */
async function rate(op: () => void, bytesPerOp: number, seconds: number): Promise<number> {
  op(); // warm-up: JIT, and the first touch of freshly allocated pages
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < seconds * 1000 || n < 3) {
    op();
    n++;
    elapsed = performance.now() - start;
    // Yield so timers and I/O of anything sharing the process keep running.
    if (n % 4 === 0) await new Promise<void>((r) => setImmediate(r));
  }
  return mbPerSec(n * bytesPerOp, elapsed / 1000);
}

/** MD5 throughput of one core over 64 MiB buffers (what a PUT spends on the ETag). */
export async function md5Rate(seconds = 1): Promise<number> {
  const buf = randomFillSync(Buffer.allocUnsafe(64 * MiB));
  return rate(() => void createHash('md5').update(buf).digest(), buf.length, seconds);
}

/** CRC32C throughput over 1 MiB blocks (the bit-rot checksum of every shard block). */
export async function crc32cRate(seconds = 1): Promise<number> {
  const buf = randomFillSync(Buffer.allocUnsafe(MiB));
  return rate(() => void crc32c(buf), buf.length, seconds);
}

export interface DiskRates {
  /** Sequential write of `bytes` in 1 MiB writes followed by one fsync (like dd conv=fsync); MB/s. */
  writeMBps: number;
  /** Sequential read of the same file in 1 MiB reads right after (mostly the page cache); MB/s. */
  readMBps: number;
  bytes: number;
}

/**
 * Writes `bytes` to `file` in 1 MiB writes, fsyncs, reads it back, then deletes it. The
 * read comes right after the write, so on a machine with spare memory it is served by the
 * page cache, as are the reads of freshly written shard files it is compared with.
 */
export async function diskRates(file: string, bytes = 1024 * MiB): Promise<DiskRates> {
  const block = randomFillSync(Buffer.allocUnsafe(MiB));
  const fh = await open(file, 'w');
  let writeMBps: number;
  try {
    const start = performance.now();
    for (let done = 0; done < bytes; ) {
      const n = Math.min(block.length, bytes - done);
      await fh.write(block, 0, n);
      done += n;
    }
    await fh.sync();
    writeMBps = mbPerSec(bytes, (performance.now() - start) / 1000);
  } finally {
    await fh.close();
  }
  let readMBps: number;
  const rh = await open(file, 'r');
  try {
    const into = Buffer.allocUnsafe(MiB);
    const start = performance.now();
    let total = 0;
    for (;;) {
      const { bytesRead } = await rh.read(into, 0, into.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    readMBps = mbPerSec(total, (performance.now() - start) / 1000);
  } finally {
    await rh.close();
    await rm(file, { force: true });
  }
  return { writeMBps, readMBps, bytes };
}
