// `tessera bench memory`: how much memory a real server process holds under the workloads that
// used to blow it up, one after the other on the same process (what a long-running server
// sees):
//
//   (a) a listing burst: C clients ListObjectsV2 a 1,000-key bucket for N seconds; RSS before,
//       at its peak, and after some seconds idle (memory must come back);
//   (b) L concurrent large uploads (1 GiB each by default), streamed from a generator, never held
//       in memory by the client either: peak RSS;
//   (c) S concurrent 16 MiB uploads: peak RSS and the memory budget's high-water mark.
//
// RSS is the server's own, read from /proc/PID/status: VmRSS sampled every few milliseconds,
// and VmHWM (the kernel's exact peak) reset before each phase through /proc/PID/clear_refs, so
// a phase's peak is not an earlier phase's. The budget figures come from the admin API's info
// route (GET /tessera/admin/v1/info); a server without it reports them as unknown.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeFailure, S3BenchClient, type BodySource } from './client.js';
import { Workload } from './workload.js';
import { SERVER_NODE_FLAGS } from '../util/node-flags.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export interface MemoryBenchOptions {
  /** Seconds of listing (phase a). */
  listSeconds: number;
  /** Seconds the server is left idle after the listing burst before its RSS is read. */
  idleSeconds: number;
  listClients: number;
  listKeys: number;
  largeUploads: number;
  largeSize: number;
  smallUploads: number;
  smallSize: number;
  /** limits.memory_budget for the server (bytes); default: the server's default. */
  memoryBudget?: number;
  /** Extra environment for the server process. */
  env?: Record<string, string>;
  /** Milliseconds between two RSS samples. */
  sampleMs?: number;
  log?: (msg: string) => void;
}

export const MEMORY_BENCH_DEFAULTS: MemoryBenchOptions = {
  listSeconds: 15,
  idleSeconds: 10,
  listClients: 4,
  listKeys: 1000,
  largeUploads: 4,
  largeSize: GiB,
  smallUploads: 64,
  smallSize: 16 * MiB,
};

/** What GET /tessera/admin/v1/info says about memory (bytes). */
export interface ServerMemoryInfo {
  rss: number;
  heapUsed: number;
  budget: number;
  budgetInUse: number;
  budgetHighWater: number;
}

export interface PhaseResult {
  seconds: number;
  requests: number;
  errors: number;
  errorMessages: string[];
  /** RSS when the phase started, bytes. */
  rssBefore: number;
  peakRss: number;
  /** The budget's high-water mark (since the server started) at the end of the phase; undefined when the server does not tell. */
  budgetHighWater?: number;
}

export interface MemoryBenchResult {
  node: string;
  /** The server's memory budget, bytes (undefined when it does not tell). */
  budget?: number;
  /** RSS of the freshly started server, before anything was written. */
  startRss: number;
  listing: PhaseResult & { clients: number; keys: number; idleSeconds: number; rssAfterIdle: number };
  large: PhaseResult & { uploads: number; size: number };
  small: PhaseResult & { uploads: number; size: number };
}

/** The `tessera` entry point beside this file (dist/src/cli/main.js once built). */
const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** The root key of the server the bench starts (on loopback, for its lifetime only). */
export const ACCESS_KEY = 'AKIAMEMORYBENCH00001';
export const SECRET_KEY = 'memory-bench-secret-key-not-for-anything-else';

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  endpoint: string;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `tessera server` as a child process on a free loopback port with 4 disks under `root`. */
export async function startServerProcess(root: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const disks = [1, 2, 3, 4].map((i) => path.join(root, `disk${i}`));
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, MAIN, 'server'], {
    cwd: root,
    env: {
      ...process.env,
      TESSERA_ADDRESS: '127.0.0.1:0',
      TESSERA_DISKS: disks.join(','),
      TESSERA_META_DIR: path.join(root, 'meta'),
      TESSERA_ROOT_ACCESS_KEY: ACCESS_KEY,
      TESSERA_ROOT_SECRET_KEY: SECRET_KEY,
      TESSERA_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-64 * 1024)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-64 * 1024)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  let endpoint: string | undefined;
  while (!(endpoint = /endpoint:\s+(http:\/\/[^\s]+)/.exec(out)?.[1])) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the server exited at start-up:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the server did not start within 30 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    pid: child.pid!,
    endpoint,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** VmRSS and VmHWM of a process, bytes. */
export function readRss(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

/** Follows one process's RSS during a phase: frequent samples plus the kernel's peak since start(). */
export class RssSampler {
  private peak = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Whether VmHWM could be reset (else only the samples count). */
  private hwmReset = false;

  constructor(private readonly pid: number, private readonly everyMs = 20) {}

  start(): number {
    try {
      // "5" resets the peak RSS (VmHWM) to the current RSS (Linux ≥ 4.0, own processes).
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
      this.hwmReset = true;
    } catch {
      this.hwmReset = false;
    }
    const { rss } = readRss(this.pid);
    this.peak = rss;
    this.timer = setInterval(() => this.sample(), this.everyMs);
    return rss;
  }

  private sample(): number {
    try {
      const { rss, hwm } = readRss(this.pid);
      this.peak = Math.max(this.peak, rss, this.hwmReset ? hwm : 0);
      return rss;
    } catch {
      return NaN; // the process is gone; the caller finds out from its own requests
    }
  }

  /** Stops sampling; the peak RSS since start(), bytes. */
  stop(): number {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    return this.peak;
  }
}

/** The memory part of the admin info route, or undefined when the server has no such route. */
export async function serverMemoryInfo(client: S3BenchClient): Promise<ServerMemoryInfo | undefined> {
  const r = await client.request({ method: 'GET', bucket: '', rawPath: '/tessera/admin/v1/info', keepBody: 64 * 1024 });
  if (r.status !== 200) return undefined;
  try {
    const info = JSON.parse(r.body.toString('utf8')) as { memory?: ServerMemoryInfo };
    return info.memory;
  } catch {
    return undefined;
  }
}

/** Runs `count` PUTs of `size` generated bytes at once; returns the failures. */
async function concurrentUploads(client: S3BenchClient, bucket: string, prefix: string, count: number, size: number): Promise<string[]> {
  // One random MiB repeated: random so nothing can compress it, shared so the client holds 1 MiB.
  const pattern = randomFillSync(Buffer.allocUnsafe(Math.min(size, MiB)));
  const body: BodySource = { pattern, size };
  const failures: string[] = [];
  await Promise.all(Array.from({ length: count }, async (_, i) => {
    const key = `${prefix}${i}`;
    try {
      const r = await client.request({ method: 'PUT', bucket, key, body });
      if (r.status !== 200) failures.push(`PUT ${key}: ${describeFailure(r)}`);
    } catch (e) {
      failures.push(`PUT ${key}: ${(e as Error).message}`);
    }
  }));
  // Leave the disks as they were: the next phase (or run) needs the space.
  await Promise.all(Array.from({ length: count }, (_, i) => client.request({ method: 'DELETE', bucket, key: `${prefix}${i}` }).catch(() => undefined)));
  return failures;
}

export async function runMemoryBench(opts: Partial<MemoryBenchOptions> = {}): Promise<MemoryBenchResult> {
  const o: MemoryBenchOptions = { ...MEMORY_BENCH_DEFAULTS, ...opts };
  if (process.platform !== 'linux') throw new Error('tessera bench memory reads /proc and runs on Linux only');
  const log = o.log ?? (() => undefined);
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-membench-'));
  const env = { ...o.env };
  if (o.memoryBudget !== undefined) env.TESSERA_MEMORY_BUDGET = String(o.memoryBudget);
  let server: ServerProcess | undefined;
  let client: S3BenchClient | undefined;
  let listing: Workload | undefined;
  try {
    server = await startServerProcess(root, env);
    const srv = server;
    log(`server pid ${srv.pid} at ${srv.endpoint}`);
    await new Promise((r) => setTimeout(r, 500));
    const startRss = readRss(srv.pid).rss;
    const maxSockets = Math.max(o.largeUploads, o.smallUploads, 1) + 2;
    client = new S3BenchClient({ endpoint: srv.endpoint, accessKey: ACCESS_KEY, secretKey: SECRET_KEY, region: 'us-east-1', maxSockets });
    const info = await serverMemoryInfo(client);
    const bucket = 'memory-bench';

    // (a) Listing burst.
    log(`writing ${o.listKeys} objects for the listing`);
    listing = await Workload.prepare({
      endpoint: srv.endpoint, accessKey: ACCESS_KEY, secretKey: SECRET_KEY, op: 'list', size: 1,
      concurrency: o.listClients, durationSec: o.listSeconds, bucket, listKeys: o.listKeys, prefix: 'listing/',
    });
    await new Promise((r) => setTimeout(r, 1000));
    log(`${o.listClients} clients list ${o.listKeys} keys for ${o.listSeconds} s`);
    const sampler = new RssSampler(srv.pid, o.sampleMs);
    const listRssBefore = sampler.start();
    const started = Date.now();
    const lr = await listing.run(o.listSeconds);
    const listSeconds = (Date.now() - started) / 1000;
    const listPeak = sampler.stop();
    log(`idle for ${o.idleSeconds} s`);
    await new Promise((r) => setTimeout(r, o.idleSeconds * 1000));
    const rssAfterIdle = readRss(srv.pid).rss;
    listing.close();
    listing = undefined;

    /** One upload phase: `count` concurrent PUTs of `size` bytes, with the server's peak RSS. */
    const uploadPhase = async (prefix: string, count: number, size: number): Promise<PhaseResult & { uploads: number; size: number }> => {
      log(`${count} concurrent uploads of ${size} bytes`);
      const sampler = new RssSampler(srv.pid, o.sampleMs);
      const rssBefore = sampler.start();
      const started = Date.now();
      const failures = await concurrentUploads(client!, bucket, prefix, count, size);
      const seconds = (Date.now() - started) / 1000;
      const peakRss = sampler.stop();
      const after = await serverMemoryInfo(client!);
      return {
        uploads: count, size, seconds, requests: count - failures.length, errors: failures.length,
        errorMessages: failures.slice(0, 5), rssBefore, peakRss, budgetHighWater: after?.budgetHighWater,
      };
    };
    // (b) Large uploads on the same server, then (c) many medium uploads at once.
    const large = await uploadPhase('large/', o.largeUploads, o.largeSize);
    const small = await uploadPhase('small/', o.smallUploads, o.smallSize);

    return {
      node: process.version,
      budget: info?.budget,
      startRss,
      listing: {
        clients: o.listClients, keys: o.listKeys, seconds: listSeconds, requests: lr.ops, errors: lr.errors, errorMessages: lr.errorMessages,
        rssBefore: listRssBefore,
        peakRss: listPeak, idleSeconds: o.idleSeconds, rssAfterIdle,
      },
      large,
      small,
    };
  } finally {
    listing?.close();
    client?.close();
    await server?.stop();
    await rm(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}
