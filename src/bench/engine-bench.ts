// The storage engine's own throughput, without HTTP, next to what bounds it on this machine.
// Run it after a build (no npm script needed):
//
//   node dist/src/bench/engine-bench.js [--size 1GiB] [--dir DIR]
//
// It opens an engine on 4 temp disks (2 data + 2 parity) under DIR (default: the OS temp
// dir), writes one generated object of --size with putObject, reads it back with openData
// while checking every byte, and measures in the same run: raw disk write (1 MiB writes +
// fsync) and read of a file as large as the object, MD5 on one core, Reed-Solomon encoding
// (2+2, 1 MiB blocks) and CRC32C. A PUT hashes (MD5, on a worker thread for large bodies),
// encodes and CRCs every byte and writes N/k bytes per object byte, so min(MD5, RS encode,
// disk × k/N) is what the write path could reach if nothing else cost anything; the report
// says which one that is. The "in series" line is the rate of one thread doing all the CPU
// work alone: on a machine with cores to spare the worker lets a PUT beat it.

import { randomFillSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { parseSize } from '../config/values.js';
import { benchCodec } from '../erasure/bench-codec.js';
import { crc32cIsNative } from '../erasure/bitrot.js';
import { openEngine } from '../object/engine.js';
import { crc32cRate, diskRates, md5Rate } from './probes.js';
import { fmt, formatBytes, mbPerSec, renderTable } from './stats.js';

const MiB = 1024 * 1024;
const N = 4;
const K = 2;

/**
 * A reproducible body: 1 MiB chunks cut from a 16 MiB random pool in a scrambled order, so
 * neighbouring stripes differ and the read-back can be checked without keeping a copy.
 */
export class GeneratedBody {
  private readonly pool = randomFillSync(Buffer.allocUnsafe(16 * MiB));
  constructor(readonly size: number) {}

  /** The i-th 1 MiB chunk of the body, as a view into the pool (no copy). */
  private chunk(i: number): Buffer {
    const at = ((i * 7) % 16) * MiB;
    return this.pool.subarray(at, at + MiB);
  }

  stream(): Readable {
    let i = 0;
    let sent = 0;
    const size = this.size;
    const chunk = (n: number) => this.chunk(n);
    return new Readable({
      highWaterMark: 4 * MiB,
      read() {
        while (sent < size) {
          const n = Math.min(MiB, size - sent);
          const c = chunk(i++).subarray(0, n);
          sent += n;
          if (!this.push(c)) return;
        }
        this.push(null);
      },
    });
  }

  /** True when `data` equals the body's bytes at [offset, offset + data.length). */
  matches(offset: number, data: Buffer): boolean {
    let pos = 0;
    while (pos < data.length) {
      const abs = offset + pos;
      const i = Math.floor(abs / MiB);
      const within = abs - i * MiB;
      const n = Math.min(MiB - within, data.length - pos);
      if (!data.subarray(pos, pos + n).equals(this.chunk(i).subarray(within, within + n))) return false;
      pos += n;
    }
    return true;
  }
}

export interface EngineBenchResult {
  size: number;
  /** 1-minute load average when the run started: on a shared machine, other work skews every figure. */
  loadAverage: number;
  diskWriteMBps: number;
  diskReadMBps: number;
  md5MBps: number;
  rsEncodeMBps: number;
  crc32cMBps: number;
  crc32cNative: boolean;
  putMBps: number;
  getMBps: number;
  writeBound: { name: string; MBps: number };
  /**
   * The same costs added up as one thread pays them: MD5 + RS encode + CRC32C of N/k bytes per
   * object byte. Lower than `writeBound` because ingest does them one after another.
   */
  serialCpuMBps: number;
  readBound: { name: string; MBps: number };
}

export async function engineBench(size: number, dir: string): Promise<EngineBenchResult> {
  const loadAverage = os.loadavg()[0]!;
  const root = await mkdtemp(path.join(dir, 'tessera-engine-bench-'));
  try {
    // Raw rates first, while the disk is quiet, then the engine on the same filesystem.
    const disk = await diskRates(path.join(root, 'disk-probe.bin'), size);
    const md5MBps = await md5Rate(2);
    const rsEncodeMBps = (await benchCodec(K, N - K, MiB, 2)).encodeMBps;
    const crc32cMBps = await crc32cRate(1);

    const engine = await openEngine({
      disks: Array.from({ length: N }, (_, i) => path.join(root, `disk${i + 1}`)),
      metaDir: path.join(root, 'meta', 'leveldb'),
      parity: N - K,
      scannerBytesPerSecond: 0,
    });
    let putMBps: number;
    let getMBps: number;
    try {
      await engine.store.createBucket('bench', 'us-east-1');
      const body = new GeneratedBody(size);

      let t = performance.now();
      const v = await engine.store.putObject('bench', 'object', body.stream(), { expectedSize: size });
      putMBps = mbPerSec(size, (performance.now() - t) / 1000);
      if (v.size !== size) throw new Error(`putObject stored ${v.size} bytes, expected ${size}`);

      t = performance.now();
      const cur = await engine.store.resolve('bench', 'object');
      let offset = 0;
      for await (const c of engine.store.openData(cur) as AsyncIterable<Buffer>) {
        if (!body.matches(offset, c)) throw new Error(`read-back differs in the ${c.length} bytes at offset ${offset}`);
        offset += c.length;
      }
      getMBps = mbPerSec(size, (performance.now() - t) / 1000);
      if (offset !== size) throw new Error(`read back ${offset} bytes, expected ${size}`);
    } finally {
      await engine.close();
    }

    const writeBounds = [
      { name: 'MD5 (one core)', MBps: md5MBps },
      { name: `RS encode ${K}+${N - K}`, MBps: rsEncodeMBps },
      { name: `disk write × k/N (${K}/${N})`, MBps: (disk.writeMBps * K) / N },
    ];
    const readBounds = [
      { name: 'disk read', MBps: disk.readMBps },
      { name: 'CRC32C', MBps: crc32cMBps },
    ];
    const lowest = (xs: typeof writeBounds) => xs.reduce((a, b) => (b.MBps < a.MBps ? b : a));
    return {
      size,
      loadAverage,
      diskWriteMBps: disk.writeMBps,
      diskReadMBps: disk.readMBps,
      md5MBps,
      rsEncodeMBps,
      crc32cMBps,
      crc32cNative: crc32cIsNative(),
      putMBps,
      getMBps,
      writeBound: lowest(writeBounds),
      serialCpuMBps: 1 / (1 / md5MBps + 1 / rsEncodeMBps + N / K / crc32cMBps),
      readBound: lowest(readBounds),
    };
  } finally {
    // Retries: a background task of the engine may still be creating a directory as we go.
    await rm(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }
}

export function formatEngineBench(r: EngineBenchResult): string {
  const sz = formatBytes(r.size);
  const rows: string[][] = [
    [`raw disk write (${sz}, 1 MiB writes + fsync)`, fmt(r.diskWriteMBps)],
    [`raw disk read (${sz}, just written: page cache)`, fmt(r.diskReadMBps)],
    ['MD5, one core', fmt(r.md5MBps)],
    [`RS encode ${K}+${N - K}, 1 MiB blocks`, fmt(r.rsEncodeMBps)],
    [`CRC32C${r.crc32cNative ? '' : ' (JS fallback!)'}`, fmt(r.crc32cMBps)],
    [`disk write × k/N (${K}/${N})`, fmt((r.diskWriteMBps * K) / N)],
    [`engine putObject ${sz}`, fmt(r.putMBps)],
    [`engine openData ${sz} + verify`, fmt(r.getMBps)],
  ];
  return [
    `Tessera engine, ${N} disks ${K}+${N - K}, no HTTP — ${os.cpus().length} CPU(s), Node ${process.version}, load average at start ${r.loadAverage.toFixed(1)}`,
    renderTable(['measure', 'MB/s'], rows),
    `write path bound: ${r.writeBound.name} at ${fmt(r.writeBound.MBps)} MB/s; putObject reaches ${fmt(r.putMBps / r.writeBound.MBps)} of it`,
    `one thread doing MD5 + RS encode + CRC32C (× N/k) in series: ${fmt(r.serialCpuMBps)} MB/s; putObject reaches ${fmt(r.putMBps / r.serialCpuMBps)} of it`,
    `read path bound:  ${r.readBound.name} at ${fmt(r.readBound.MBps)} MB/s; openData reaches ${fmt(r.getMBps / r.readBound.MBps)} of it`,
  ].join('\n');
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

if (invokedDirectly) {
  let size = 1024 * MiB;
  let dir = os.tmpdir();
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? '';
    if (name === '--size') size = parseSize(value());
    else if (name === '--dir') dir = path.resolve(value());
    else {
      process.stderr.write('usage: node dist/src/bench/engine-bench.js [--size 1GiB] [--dir DIR]\n');
      process.exit(2);
    }
  }
  if (size < 1) {
    process.stderr.write('engine-bench: --size must be at least 1 byte\n');
    process.exit(2);
  }
  process.stdout.write(formatEngineBench(await engineBench(size, dir)) + '\n');
}
