// Bounded S3 workloads: N workers each run a request loop against one endpoint until a
// deadline, and the completed requests become ops/s, MB/s and latency percentiles.
//
// A workload is prepared once (bucket created, objects for GET/LIST written) and may then be
// run for several rounds; bench-compare interleaves rounds of two servers so that slow drift
// (page cache filling, the disk getting busier) is shared by both and not blamed on one.

import { randomBytes, randomFillSync } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { describeFailure, S3BenchClient, type BodySource, type Reply } from './client.js';
import { mbPerSec, Samples, type LatencySummary } from './stats.js';
import { uriEncode } from '../auth/sigv4.js';

export type BenchOp = 'put' | 'get' | 'list' | 'mixed';
export const BENCH_OPS: readonly BenchOp[] = ['put', 'get', 'list', 'mixed'];

export interface WorkloadOptions {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region?: string;
  op: BenchOp;
  /** Object size for PUT and GET (LIST always uses 1-byte objects). */
  size: number;
  concurrency: number;
  durationSec: number;
  bucket?: string;
  /** How many objects GET cycles over; default: enough to cover 256 MiB, at least `concurrency`, at most 64. */
  keys?: number;
  /** Objects LIST lists (one ListObjectsV2 page each time); default 1000. */
  listKeys?: number;
  /** Key prefix of everything this workload writes; default a fresh "bench-…/" per workload. */
  prefix?: string;
  /** Progress messages (preparation steps); default: none. */
  log?: (msg: string) => void;
}

export interface WorkloadResult {
  endpoint: string;
  bucket: string;
  prefix: string;
  op: BenchOp;
  size: number;
  concurrency: number;
  /** Seconds of request loop asked for (summed over rounds). */
  durationSec: number;
  /** Seconds from the first request to the last reply (summed over rounds). */
  elapsedSec: number;
  /** Successful requests. */
  ops: number;
  errors: number;
  /** Body bytes moved by successful requests: sent for PUT, received for GET and LIST. */
  bytes: number;
  opsPerSec: number;
  mbPerSec: number;
  latencyMs: LatencySummary;
  /** Successful requests per kind (differs from `ops` only for mixed). */
  byOp: Record<'put' | 'get' | 'list', number>;
  /** Up to five distinct error descriptions. */
  errorMessages: string[];
}

/** What the mixed workload does: 60 % GET, 30 % PUT, 10 % LIST (a read-heavy object store). */
const MIXED: ReadonlyArray<[number, 'get' | 'put' | 'list']> = [[0.6, 'get'], [0.9, 'put'], [1, 'list']];

/** Past the deadline, in-flight requests get this long to finish before they are aborted. */
const GRACE_MS = 30_000;

const PATTERN_MAX = 1024 * 1024;

export class Workload {
  readonly client: S3BenchClient;
  readonly bucket: string;
  readonly prefix: string;
  private readonly body: BodySource;
  private getKeys: string[] = [];
  private putSeq = 0;
  // Totals over every round run so far.
  private readonly latencies = new Samples();
  private total = { durationSec: 0, elapsedSec: 0, ops: 0, errors: 0, bytes: 0, byOp: { put: 0, get: 0, list: 0 } };
  private readonly errorMessages = new Set<string>();

  private constructor(readonly o: WorkloadOptions) {
    if (!Number.isInteger(o.concurrency) || o.concurrency < 1) throw new Error(`concurrency must be a whole number ≥ 1, got ${o.concurrency}`);
    if (!(o.durationSec > 0)) throw new Error(`duration must be > 0 seconds, got ${o.durationSec}`);
    if (!Number.isSafeInteger(o.size) || o.size < 0) throw new Error(`size must be a whole number of bytes, got ${o.size}`);
    this.client = new S3BenchClient({
      endpoint: o.endpoint,
      accessKey: o.accessKey,
      secretKey: o.secretKey,
      region: o.region ?? 'us-east-1',
      maxSockets: o.concurrency,
    });
    this.bucket = o.bucket ?? 'tessera-bench';
    this.prefix = o.prefix ?? `bench-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}/`;
    // One random pattern per workload, reused by every PUT: random so that no layer can win
    // by compressing or deduplicating, shared so a 64 MiB PUT costs no allocation.
    this.body = { pattern: randomFillSync(Buffer.allocUnsafe(Math.max(1, Math.min(o.size, PATTERN_MAX)))), size: o.size };
  }

  /** Creates the bucket if needed and writes the objects GET and LIST need. */
  static async prepare(o: WorkloadOptions): Promise<Workload> {
    const w = new Workload(o);
    try {
      await w.ensureBucket();
      if (o.op === 'get' || o.op === 'mixed') await w.populateGet();
      if (o.op === 'list' || o.op === 'mixed') await w.populateList();
      return w;
    } catch (e) {
      w.close();
      throw e;
    }
  }

  get listKeyCount(): number {
    return this.o.listKeys ?? 1000;
  }

  /** Key of the n-th object PUT by the timed loop (n from 0), so a caller can check it exists. */
  putKey(n: number): string {
    return `${this.prefix}put/${n}`;
  }

  private async ensureBucket(): Promise<void> {
    const head = await this.client.request({ method: 'HEAD', bucket: this.bucket });
    if (head.status === 200) return;
    if (head.status !== 404) throw new Error(`HEAD bucket ${this.bucket}: ${describeFailure(head)}`);
    const region = this.o.region ?? 'us-east-1';
    const body = region === 'us-east-1'
      ? undefined
      : Buffer.from(`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>${region}</LocationConstraint></CreateBucketConfiguration>`);
    const put = await this.client.request({ method: 'PUT', bucket: this.bucket, body });
    // Another bench process may have created it in between: that is fine too.
    if (put.status !== 200 && !(put.status === 409 && /BucketAlreadyOwnedByYou/.test(put.body.toString()))) {
      throw new Error(`create bucket ${this.bucket}: ${describeFailure(put)}`);
    }
  }

  private async populateGet(): Promise<void> {
    const n = this.o.keys ?? Math.min(64, Math.max(this.o.concurrency, Math.floor((256 * 1024 * 1024) / Math.max(1, this.o.size))));
    this.getKeys = Array.from({ length: n }, (_, i) => `${this.prefix}get/${i}`);
    this.o.log?.(`writing ${n} object(s) of ${this.o.size} bytes for GET`);
    await this.forEachParallel(this.getKeys, (key) => this.client.request({ method: 'PUT', bucket: this.bucket, key, body: this.body }));
  }

  private async populateList(): Promise<void> {
    const n = this.listKeyCount;
    const one: BodySource = { pattern: this.body.pattern.length > 0 ? this.body.pattern : Buffer.from('x'), size: 1 };
    // Zero-padded so the listing order equals the write order; handy when reading a listing by eye.
    const keys = Array.from({ length: n }, (_, i) => `${this.prefix}list/${String(i).padStart(6, '0')}`);
    this.o.log?.(`writing ${n} one-byte object(s) for LIST`);
    await this.forEachParallel(keys, (key) => this.client.request({ method: 'PUT', bucket: this.bucket, key, body: one }));
    // Check once, outside the timed loop, that a listing really returns every key: a server
    // that returned a short page would otherwise look fast.
    const r = await this.list(1024 * 1024);
    const count = Number(/<KeyCount>(\d+)<\/KeyCount>/.exec(r.body.toString('utf8'))?.[1] ?? (r.body.toString('utf8').match(/<Key>/g)?.length ?? 0));
    if (r.status !== 200 || count !== Math.min(n, 1000)) {
      throw new Error(`ListObjectsV2 of ${this.prefix}list/ returned ${r.status === 200 ? `${count} keys, expected ${Math.min(n, 1000)}` : describeFailure(r)}`);
    }
  }

  private async forEachParallel(items: string[], f: (item: string) => Promise<Reply>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < items.length) {
        const item = items[next++]!;
        const r = await f(item);
        if (r.status !== 200) throw new Error(`preparing ${item}: ${describeFailure(r)}`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency, items.length) }, worker));
  }

  private list(keepBody = 0, signal?: AbortSignal): Promise<Reply> {
    const query = `list-type=2&max-keys=1000&prefix=${uriEncode(`${this.prefix}list/`, true)}`;
    return this.client.request({ method: 'GET', bucket: this.bucket, query, keepBody, signal });
  }

  private pickOp(): 'put' | 'get' | 'list' {
    if (this.o.op !== 'mixed') return this.o.op;
    const r = Math.random();
    for (const [upTo, op] of MIXED) if (r < upTo) return op;
    return 'get';
  }

  /**
   * One timed round of `seconds`: every worker loops until the deadline (requests already
   * sent then are allowed to finish), so the loop always ends by itself. The round is added
   * to the totals and returned on its own.
   */
  async run(seconds: number = this.o.durationSec): Promise<WorkloadResult> {
    const round = await this.loop(seconds);
    this.total.durationSec += seconds;
    this.total.elapsedSec += round.elapsedSec;
    this.total.ops += round.ops;
    this.total.errors += round.errors;
    this.total.bytes += round.bytes;
    for (const k of ['put', 'get', 'list'] as const) this.total.byOp[k] += round.byOp[k];
    this.latencies.append(round.samples);
    for (const m of round.messages) if (this.errorMessages.size < 5) this.errorMessages.add(m);
    return this.result(round, round.samples, round.messages);
  }

  /**
   * Runs the loop without counting it: the first seconds against a freshly started server
   * measure its JIT compiler and cold caches, not its steady state.
   */
  async warmUp(seconds: number): Promise<WorkloadResult> {
    const round = await this.loop(seconds);
    return this.result(round, round.samples, round.messages);
  }

  private async loop(seconds: number) {
    const round = { durationSec: seconds, elapsedSec: 0, ops: 0, errors: 0, bytes: 0, byOp: { put: 0, get: 0, list: 0 }, samples: new Samples(), messages: new Set<string>() };
    const fail = (msg: string) => {
      round.errors++;
      if (round.messages.size < 5) round.messages.add(msg);
    };
    const abort = new AbortController();
    // Every request in flight listens on the signal; more than 10 is normal here, not a leak.
    setMaxListeners(this.o.concurrency + 10, abort.signal);
    const start = performance.now();
    const deadline = start + seconds * 1000;
    const killer = setTimeout(() => abort.abort(), seconds * 1000 + GRACE_MS);
    let getIndex = 0;

    const once = async (): Promise<void> => {
      const op = this.pickOp();
      let r: Reply;
      let bytes: number;
      try {
        if (op === 'put') {
          const key = this.putKey(this.putSeq++);
          r = await this.client.request({ method: 'PUT', bucket: this.bucket, key, body: this.body, signal: abort.signal });
          bytes = r.bytesOut;
        } else if (op === 'get') {
          const key = this.getKeys[getIndex++ % this.getKeys.length]!;
          r = await this.client.request({ method: 'GET', bucket: this.bucket, key, signal: abort.signal });
          bytes = r.bytesIn;
          if (r.status === 200 && r.bytesIn !== this.o.size) {
            fail(`GET ${key}: ${r.bytesIn} bytes received, expected ${this.o.size}`);
            return;
          }
        } else {
          r = await this.list(0, abort.signal);
          bytes = r.bytesIn;
        }
      } catch (e) {
        fail(`${op}: ${(e as Error).message}`);
        return;
      }
      if (r.status !== 200) {
        fail(`${op}: ${describeFailure(r)}`);
        return;
      }
      round.ops++;
      round.byOp[op]++;
      round.bytes += bytes;
      round.samples.push(r.latencyMs);
    };

    const worker = async (): Promise<void> => {
      while (performance.now() < deadline && !abort.signal.aborted) await once();
    };
    try {
      await Promise.all(Array.from({ length: this.o.concurrency }, worker));
    } finally {
      clearTimeout(killer);
    }
    round.elapsedSec = (performance.now() - start) / 1000;
    return round;
  }

  /** Everything run so far, rounds merged (latency percentiles over all samples). */
  totals(): WorkloadResult {
    return this.result(this.total, this.latencies, this.errorMessages);
  }

  private result(
    t: { durationSec: number; elapsedSec: number; ops: number; errors: number; bytes: number; byOp: Record<'put' | 'get' | 'list', number> },
    s: Samples,
    messages: Set<string>,
  ): WorkloadResult {
    return {
      endpoint: this.o.endpoint,
      bucket: this.bucket,
      prefix: this.prefix,
      op: this.o.op,
      size: this.o.size,
      concurrency: this.o.concurrency,
      durationSec: t.durationSec,
      elapsedSec: t.elapsedSec,
      ops: t.ops,
      errors: t.errors,
      bytes: t.bytes,
      opsPerSec: t.elapsedSec > 0 ? t.ops / t.elapsedSec : 0,
      mbPerSec: mbPerSec(t.bytes, t.elapsedSec),
      latencyMs: s.summary(),
      byOp: { ...t.byOp },
      errorMessages: [...messages],
    };
  }

  close(): void {
    this.client.close();
  }
}

/** Prepares a workload, runs it for `durationSec`, and closes its connections. */
export async function runWorkload(o: WorkloadOptions): Promise<WorkloadResult> {
  const w = await Workload.prepare(o);
  try {
    return await w.run(o.durationSec);
  } finally {
    w.close();
  }
}
