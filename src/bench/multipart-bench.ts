// Multipart upload vs a single PutObject, through the AWS SDK for JavaScript v3 at its default
// settings, against one Tessera server on temp disks. Run it after a build:
//
//   node dist/src/bench/multipart-bench.js [--size 1GiB] [--part 16MiB] [--queue 4] [--rounds 2]
//                                          [--dir DIR] [--in-process] [--only put|upload]
//
// The server runs in a child process (so the client's and the server's work are on separate
// threads, as they would be in production) unless --in-process is given. Each round does one
// PutObject of --size (Body a stream with ContentLength: aws-chunked with a trailing CRC32,
// the SDK's default for streams) and one lib-storage Upload of --size (parts of --part bytes,
// --queue parts in flight), alternating, deleting each object before the next upload.
// The SDK packages are dev dependencies: this is a development tool, like the tests.

import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CreateBucketCommand, DeleteObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { loadConfig } from '../config/config.js';
import { parseSize } from '../config/values.js';
import { startServer, type Started } from '../cli/server.js';

const MiB = 1024 * 1024;
const ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const REGION = 'us-east-1';

interface Options {
  size: number;
  part: number;
  queue: number;
  rounds: number;
  dir: string;
  inProcess: boolean;
  /** Run only one of the two kinds of upload. */
  only?: 'put' | 'upload';
}

function parseArgs(argv: string[]): Options {
  const o: Options = { size: 1024 * MiB, part: 16 * MiB, queue: 4, rounds: 2, dir: os.tmpdir(), inProcess: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--size') o.size = parseSize(next());
    else if (a === '--part') o.part = parseSize(next());
    else if (a === '--queue') o.queue = Number(next());
    else if (a === '--rounds') o.rounds = Number(next());
    else if (a === '--dir') o.dir = next();
    else if (a === '--in-process') o.inProcess = true;
    else if (a === '--only') {
      const v = next();
      if (v !== 'put' && v !== 'upload') throw new Error('--only takes put or upload');
      o.only = v;
    }
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

/** A body of `size` bytes from a 16 MiB random-looking pool, 1 MiB at a time (no copies kept). */
function body(size: number): Readable {
  const pool = Buffer.allocUnsafe(16 * MiB);
  let x = 0x9e3779b9;
  for (let i = 0; i < pool.length; i += 4) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    pool.writeUInt32LE(x, i);
  }
  let sent = 0;
  let i = 0;
  return new Readable({
    highWaterMark: 4 * MiB,
    read() {
      while (sent < size) {
        const n = Math.min(MiB, size - sent);
        const at = ((i++ * 7) % 16) * MiB;
        sent += n;
        if (!this.push(pool.subarray(at, at + n))) return;
      }
      this.push(null);
    },
  });
}

async function startOn(root: string): Promise<Started> {
  const disks = [1, 2, 3, 4].map((i) => path.join(root, `disk${i}`));
  const config = await loadConfig({
    argv: [],
    cwd: root,
    env: {
      TESSERA_ADDRESS: '127.0.0.1:0',
      TESSERA_DISKS: disks.join(','),
      TESSERA_PARITY: '2',
      TESSERA_ROOT_ACCESS_KEY: ACCESS_KEY,
      TESSERA_ROOT_SECRET_KEY: SECRET_KEY,
      TESSERA_REGION: REGION,
      TESSERA_LOG_LEVEL: 'error',
      TESSERA_SCANNER_BYTES_PER_SECOND: '0',
    },
  });
  return startServer(config, () => undefined);
}

/** Child mode: start a server on `root`, report its URL, stop on 'stop' or when the parent goes. */
async function serve(root: string): Promise<void> {
  const s = await startOn(root);
  process.send!({ url: s.http.url });
  const stop = async () => {
    await s.stop();
    process.exit(0);
  };
  process.on('message', (m) => {
    if (m === 'stop') void stop();
    if (m === 'cpu') {
      const u = process.cpuUsage();
      process.send!({ cpu: (u.user + u.system) / 1000 });
    }
  });
  process.on('disconnect', () => void stop());
}

interface Server {
  url: string;
  /** CPU time the server process has used so far, in ms (undefined in process). */
  cpuMs(): Promise<number | undefined>;
  stop(): Promise<void>;
}

async function startServerFor(o: Options, root: string): Promise<Server> {
  if (o.inProcess) {
    const s = await startOn(root);
    return { url: s.http.url, cpuMs: async () => undefined, stop: () => s.stop() };
  }
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve', root], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return {
    url,
    cpuMs: () => new Promise<number>((resolve) => {
      const on = (m: unknown) => {
        const cpu = (m as { cpu?: number }).cpu;
        if (cpu === undefined) return;
        child.off('message', on);
        resolve(cpu);
      };
      child.on('message', on);
      child.send('cpu');
    }),
    stop: () => new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.send('stop');
    }),
  };
}

const mbps = (bytes: number, ms: number) => bytes / MiB / (ms / 1000);

async function main(o: Options): Promise<void> {
  const root = await mkdtemp(path.join(o.dir, 'tessera-mpbench-'));
  const server = await startServerFor(o, root);
  const s3 = new S3Client({ endpoint: server.url, region: REGION, forcePathStyle: true, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY } });
  const results: { what: string; ms: number; clientCpuMs: number; serverCpuMs?: number }[] = [];
  const timed = async (what: string, f: () => Promise<unknown>) => {
    const s0 = await server.cpuMs();
    const c0 = process.cpuUsage();
    const t = performance.now();
    await f();
    const ms = performance.now() - t;
    const c = process.cpuUsage(c0);
    const s1 = await server.cpuMs();
    results.push({ what, ms, clientCpuMs: (c.user + c.system) / 1000, serverCpuMs: s0 === undefined || s1 === undefined ? undefined : s1 - s0 });
  };
  try {
    const Bucket = 'bench';
    await s3.send(new CreateBucketCommand({ Bucket }));
    const check = async (Key: string) => {
      const h = await s3.send(new HeadObjectCommand({ Bucket, Key }));
      if (h.ContentLength !== o.size) throw new Error(`${Key}: stored ${h.ContentLength} bytes, sent ${o.size}`);
      await s3.send(new DeleteObjectCommand({ Bucket, Key }));
      return h.ETag;
    };
    for (let r = 1; r <= o.rounds; r++) {
      if (o.only !== 'upload') await timed('PutObject (one stream)', () => s3.send(new PutObjectCommand({ Bucket, Key: 'single', Body: body(o.size), ContentLength: o.size })));
      if (o.only !== 'upload') await check('single');

      if (o.only !== 'put') await timed(`Upload (${o.part / MiB} MiB parts, queueSize ${o.queue})`, () =>
        new Upload({ client: s3, queueSize: o.queue, partSize: o.part, params: { Bucket, Key: 'multi', Body: body(o.size), ContentLength: o.size } }).done(),
      );
      if (o.only !== 'put') {
        const etag = await check('multi');
        if (!/-\d+"$/.test(etag ?? '')) throw new Error(`multi: not a multipart ETag: ${etag}`);
      }
    }
  } finally {
    s3.destroy();
    await server.stop();
    await rm(root, { recursive: true, force: true });
  }
  const size = `${(o.size / MiB).toFixed(0)} MiB`;
  process.stdout.write(`Tessera multipart bench: ${size} per upload, server ${o.inProcess ? 'in process' : 'in a child process'}, ${os.cpus().length} CPUs, 4 disks (2+2) under ${o.dir}\n`);
  process.stdout.write(`  ${'what'.padEnd(40)} ${'time'.padStart(9)}  ${'throughput'.padStart(13)}  ${'client CPU'.padStart(10)}  ${'server CPU'.padStart(10)}\n`);
  for (const r of results) {
    const server = r.serverCpuMs === undefined ? '-' : `${(r.serverCpuMs / 1000).toFixed(1)} s`;
    process.stdout.write(`  ${r.what.padEnd(40)} ${(r.ms / 1000).toFixed(2).padStart(7)} s  ${mbps(o.size, r.ms).toFixed(1).padStart(7)} MiB/s  ${`${(r.clientCpuMs / 1000).toFixed(1)} s`.padStart(10)}  ${server.padStart(10)}\n`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const argv = process.argv.slice(2);
  const run = argv[0] === '--serve' ? serve(argv[1]) : main(parseArgs(argv));
  run.catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
