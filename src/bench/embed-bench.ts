// Embedded mode's two numbers, beside s3rver's in the same run (`tessera bench embed`):
//
// - Cold start to the first acknowledged PUT. Each round is a fresh Node process that loads a
//   small SigV4 client (aws4, the same for both servers, loaded before the clock starts), then
//   imports the server, starts it on a fresh temporary directory, creates a bucket and PUTs a
//   1 KiB object. Measured inside the child from before the import to the PUT's 200; its
//   process start (Node's own boot) and the parent's spawn-to-answer time are reported too.
//   Tessera and s3rver rounds alternate, so drift on a shared machine hits both alike.
// - reset() between tests: three buckets, each with a few small objects and an erasure-coded
//   one (one bucket versioned, with a delete marker; s3rver has no versioning), emptied again
//   and again. Tessera's
//   reset() also creates the configured buckets again; s3rver's reset() only deletes (its
//   buckets are gone afterwards), and without an fsync.
//
// s3rver is a development dependency: where it is not installed its columns say so.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startTessera } from '../embed/start-tessera.js';
import { S3BenchClient, describeFailure, type Reply } from './client.js';

export interface ColdStart {
  /** Node's own start-up until the script ran (ms since the process started). */
  bootMs: number;
  /** import of the server's module. */
  importMs: number;
  /** startTessera() / new S3rver().run(). */
  startMs: number;
  /** CreateBucket + PUT 1 KiB, both acknowledged. */
  firstPutMs: number;
  /** import + start + bucket + PUT: the "start to first acknowledged PUT". */
  coldMs: number;
  /** The parent's view: spawn until the child reported (includes the child's Node boot). */
  wallMs: number;
}

export interface ServerFigures {
  available: boolean;
  /** Why not, when not available. */
  note?: string;
  cold: ColdStart[];
  /** Milliseconds of each reset() call. */
  resets: number[];
}

export interface EmbedBenchResult {
  node: string;
  rounds: number;
  resetRounds: number;
  tessera: ServerFigures;
  s3rver: ServerFigures;
}

export interface EmbedBenchOptions {
  /** Cold starts per server (default 5). */
  rounds: number;
  /** reset() calls per server (default 20). */
  resetRounds: number;
  log?: (msg: string) => void;
}

export const EMBED_BENCH_DEFAULTS: EmbedBenchOptions = { rounds: 5, resetRounds: 20 };

const require = createRequire(import.meta.url);
const INDEX = fileURLToPath(new URL('../index.js', import.meta.url));

/** The child: ESM, told what to start through its environment. */
const CHILD = `
import http from 'node:http';
import { createRequire } from 'node:module';
const env = process.env;
const aws4 = createRequire(env.BENCH_AWS4)(env.BENCH_AWS4);
function send(endpoint, creds, region, method, path, body) {
  const u = new URL(endpoint);
  const o = aws4.sign({ host: u.host, path, method, service: 's3', region, body, headers: body ? { 'content-length': String(body.length) } : {} }, creds);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname: u.hostname, port: u.port, path, method, headers: o.headers }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(method + ' ' + path + ': HTTP ' + res.statusCode))));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const t0 = performance.now();
let endpoint, creds, region = 'us-east-1', close, t1;
if (env.BENCH_SERVER === 'tessera') {
  const { startTessera } = await import(env.BENCH_TARGET);
  t1 = performance.now();
  const t = await startTessera();
  endpoint = t.endpoint; region = t.region; creds = { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey };
  close = () => t.close();
} else {
  const S3rver = (await import(env.BENCH_TARGET)).default;
  t1 = performance.now();
  const s = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: env.BENCH_DIR, vhostBuckets: false });
  const addr = await s.run();
  endpoint = 'http://127.0.0.1:' + addr.port; creds = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  close = () => s.close();
}
const t2 = performance.now();
await send(endpoint, creds, region, 'PUT', '/bench-cold');
await send(endpoint, creds, region, 'PUT', '/bench-cold/first', Buffer.alloc(1024, 120));
const t3 = performance.now();
process.stdout.write(JSON.stringify({ bootMs: t0, importMs: t1 - t0, startMs: t2 - t1, firstPutMs: t3 - t2, coldMs: t3 - t0 }) + '\\n');
await close();
process.exit(0);
`;

function s3rverPath(): string | undefined {
  try {
    return require.resolve('s3rver');
  } catch {
    return undefined;
  }
}

async function coldStart(server: 'tessera' | 's3rver', target: string): Promise<ColdStart> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-bench-embed-'));
  try {
    const started = performance.now();
    const child = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', CHILD], {
      env: { ...process.env, BENCH_SERVER: server, BENCH_TARGET: target, BENCH_AWS4: require.resolve('aws4'), BENCH_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let wallMs = 0;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!wallMs && out.includes('\n')) wallMs = performance.now() - started;
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    if (code !== 0 || !out.includes('\n')) throw new Error(`${server} cold start failed (exit ${code}): ${err.trim().slice(-2000)}`);
    return { ...(JSON.parse(out.slice(0, out.indexOf('\n'))) as Omit<ColdStart, 'wallMs'>), wallMs };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const BUCKETS = ['reset-a', 'reset-b', 'reset-c'];

/** What each round puts in the buckets before a reset (s3rver has no versioning: `versioned` false). */
async function fill(c: S3BenchClient, versioned: boolean): Promise<void> {
  const ok = (r: Reply, what: string) => {
    if (r.status !== 200 && r.status !== 204) throw new Error(`${what}: HTTP ${r.status} ${describeFailure(r)}`);
  };
  const small = Buffer.alloc(1024, 97);
  const large = { pattern: Buffer.alloc(64 * 1024, 98), size: 256 * 1024 };
  await Promise.all(
    BUCKETS.map(async (bucket) => {
      for (let i = 0; i < 5; i++) ok(await c.request({ method: 'PUT', bucket, key: `small-${i}`, body: small }), `PUT ${bucket}`);
      ok(await c.request({ method: 'PUT', bucket, key: 'large', body: large }), `PUT ${bucket}/large`);
    }),
  );
  if (!versioned) return;
  const versioning = Buffer.from('<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>');
  ok(await c.request({ method: 'PUT', bucket: BUCKETS[0]!, query: 'versioning=', body: versioning }), 'PutBucketVersioning');
  ok(await c.request({ method: 'PUT', bucket: BUCKETS[0]!, key: 'small-0', body: small }), 'PUT version');
  ok(await c.request({ method: 'DELETE', bucket: BUCKETS[0]!, key: 'small-1' }), 'delete marker');
}

async function tesseraResets(rounds: number): Promise<number[]> {
  const t = await startTessera({ buckets: BUCKETS });
  const c = new S3BenchClient({ endpoint: t.endpoint, accessKey: t.accessKeyId, secretKey: t.secretAccessKey, region: t.region, maxSockets: 4 });
  const times: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      await fill(c, true);
      const t0 = performance.now();
      await t.reset();
      times.push(performance.now() - t0);
    }
  } finally {
    c.close();
    await t.close();
  }
  return times;
}

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  reset(): void;
}

async function s3rverResets(modulePath: string, rounds: number): Promise<number[]> {
  const S3rver = require(modulePath) as new (o: Record<string, unknown>) => S3rverInstance;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-bench-s3rver-'));
  const s = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir, vhostBuckets: false });
  const { port } = await s.run();
  const c = new S3BenchClient({ endpoint: `http://127.0.0.1:${port}`, accessKey: 'S3RVER', secretKey: 'S3RVER', region: 'us-east-1', maxSockets: 4 });
  const times: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      // s3rver's reset() removes the buckets too: make them again, as a test suite would.
      for (const bucket of BUCKETS) await c.request({ method: 'PUT', bucket });
      await fill(c, false);
      const t0 = performance.now();
      s.reset();
      times.push(performance.now() - t0);
    }
  } finally {
    c.close();
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
  return times;
}

export async function runEmbedBench(o: EmbedBenchOptions = EMBED_BENCH_DEFAULTS): Promise<EmbedBenchResult> {
  const log = o.log ?? (() => undefined);
  const s3rver = s3rverPath();
  const result: EmbedBenchResult = {
    node: process.version,
    rounds: o.rounds,
    resetRounds: o.resetRounds,
    tessera: { available: true, cold: [], resets: [] },
    s3rver: s3rver ? { available: true, cold: [], resets: [] } : { available: false, note: 's3rver is not installed (it is a development dependency of Tessera)', cold: [], resets: [] },
  };
  for (let i = 0; i < o.rounds; i++) {
    log(`cold start ${i + 1}/${o.rounds}`);
    result.tessera.cold.push(await coldStart('tessera', INDEX));
    if (s3rver) result.s3rver.cold.push(await coldStart('s3rver', s3rver));
  }
  log(`reset() × ${o.resetRounds}`);
  result.tessera.resets = await tesseraResets(o.resetRounds);
  if (s3rver) result.s3rver.resets = await s3rverResets(s3rver, o.resetRounds);
  return result;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
