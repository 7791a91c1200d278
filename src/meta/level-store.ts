// MetaStore on LevelDB (classic-level through `level`). Key layout: see keys.ts.
//
// With a journal (the engine always gives one), LevelDB is an index that can be rebuilt: every
// group of writes is first appended to the journal on write-quorum disks (the commit point),
// then written to LevelDB without a sync of its own. The state record (`Z`) in the same
// LevelDB write names the last journal record applied and the digest of the whole index, so a
// start-up knows which journal records to apply again and can check the index against them.

import { Level } from 'level';
import type {
  BucketRecord, BucketUsage, GarbageEntry, IamKind, ListCurrentOptions, ListCurrentResult, ListUploadsOptions,
  ListUploadsResult, ListVersionsOptions, ListVersionsResult, MetaOp, MetaStore,
  ListedObject, MultipartUpload, ObjectVersion, QueuedEvent, UploadPart,
} from './types.js';
import * as K from './keys.js';
import { BatchBuilder, type RawOp } from './batch-builder.js';
import { closeIterator, ITERATOR_BATCH, walk, type Db, type Stats, type WalkItem } from './listing.js';
import { decodeCurrent, decodeListed } from './records.js';
import { addEntry, emptyDigest, removeEntry, sameDigest, formatDigest, type Digest } from './digest.js';
import { decodeWrites, encodeWrites, GENESIS, idText, Kind, type RawWrite, type RecordId } from './journal/record.js';
import { S3Error } from '../errors.js';
import { rename } from 'node:fs/promises';
import { makePrivateWithEntries } from '../util/private-files.js';

type Waiter =
  | { ops: MetaOp[]; task?: undefined; resolve: () => void; reject: (err: unknown) => void }
  | { task: () => Promise<void>; ops?: undefined; resolve: () => void; reject: (err: unknown) => void };

/** Where committed groups go before LevelDB: the quorum journal on the disks. */
export interface Journal {
  append(kind: Kind, payload: Buffer, digest: Digest): Promise<RecordId>;
}

/** What the state record says: the index holds exactly the history up to `applied`. */
export interface IndexState {
  deploymentId?: string;
  applied: RecordId;
  digest: Digest;
}

export class IndexMismatchError extends Error {}

/** Callers merged into one LevelDB write stop being added at this many ops (a caller is never split). */
const GROUP_MAX_OPS = 10_000;
/**
 * …or at about this many bytes: a group is one journal record, read back whole by a rebuild
 * (and held in memory while it is written), so inline objects must not make it huge.
 */
const GROUP_MAX_BYTES = 16 * 1024 * 1024;

/** Rough size of a caller's ops: inline data plus a record's worth per op. */
function approxBytes(ops: MetaOp[]): number {
  let n = 0;
  for (const op of ops) n += op.type === 'putInline' ? op.data.length + 64 : 1024;
  return n;
}
/** Largest instant the upload-age index can hold (16 decimal digits of ms). */
const MAX_TIME = 9_999_999_999_999_999;

/**
 * LevelDB's memtable size. Inline objects (up to the inline threshold, 128 KiB by default) make
 * values large, and with LevelDB's 4 MiB default a burst of small PUTs flushed and compacted
 * the memtable every second or so; those flushes (and their fsyncs) compete with the commit
 * fsyncs on the same disk and made the commit latency spiky. Costs up to twice this in memory
 * and at most this much log to replay at start-up.
 */
const WRITE_BUFFER_BYTES = 32 * 1024 * 1024;

/** Bytes a scan or listing may hold per iterator read (LevelDB's default would split a 1000-key page into dozens). */
export const SCAN_BYTES = 4 * 1024 * 1024;

const parse = <T>(raw: Buffer): T => JSON.parse(raw.toString('utf8')) as T;
const text = (b: Buffer) => b.toString('utf8');

export class LevelMetaStore implements MetaStore {
  /** Counters for tests and metrics. */
  readonly stats: Stats & { batchesWritten: number } = { iteratorSteps: 0, batchesWritten: 0 };
  /** Replaced only by `replaceWith` (an online repair), between two groups. */
  private db: Db;
  private readonly queue: Waiter[] = [];
  /** The running commit loop; at most one, so at most one synced write is in flight. */
  private committer: Promise<void> | undefined;
  private closing = false;
  private journal: Journal | undefined;
  /** Set when LevelDB failed a write the journal had already committed: only a restart (replay) can mend that. */
  private broken: Error | undefined;
  /** Digest of every record but the state record, kept up to date by each write. */
  digest: Digest = emptyDigest();
  applied: RecordId = GENESIS;
  deploymentId: string | undefined;
  /**
   * Writes committed to the journal whose LevelDB write is still running, by key (latin1), with
   * the number of the group that wrote them. Point reads look here first, so the next group
   * can be built and committed while LevelDB catches up with this one.
   */
  private readonly pending = new Map<string, { value: Buffer | null; group: number }>();
  private groups = 0;
  /** The LevelDB write of the latest committed group; each one starts after the one before. */
  private levelTail: Promise<void> = Promise.resolve();

  constructor(readonly dir: string) {
    this.db = openLevel(dir);
  }

  /**
   * Swaps in an index built elsewhere (a repair while serving): closes this one, moves its
   * directory to `asideDir`, moves `builtDir` into its place and opens it. Call from inside
   * `exclusive`, so no write is in flight; a listing still reading the old index fails once.
   */
  async replaceWith(builtDir: string, asideDir: string): Promise<void> {
    await this.db.close();
    await rename(this.dir, asideDir);
    await rename(builtDir, this.dir);
    this.db = openLevel(this.dir);
    this.pending.clear();
    this.broken = undefined;
    await this.open();
  }

  /** Throws unless every committed group is in LevelDB and it is at `head` (checked before a checkpoint). */
  assertConsistent(head: RecordId): void {
    if (this.broken) throw brokenError(this.broken);
    if (this.applied.epoch !== head.epoch || this.applied.seq !== head.seq) {
      throw new Error(`meta: the index is at ${idText(this.applied)}, the journal at ${idText(head)}`);
    }
  }

  async open(): Promise<void> {
    this.closing = false;
    await this.db.open();
    // LevelDB makes its directory and files with the process umask (0755/0644 usually). The
    // directory at 0700 keeps every file in it, present and future, from other users; the
    // files there now are tightened too so a look at the directory shows nothing loose.
    await makePrivateWithEntries(this.dir);
    const raw = this.getRaw(K.stateKey);
    // Without one (a new index, or one written before the journal existed) start-up checks
    // the index by a full read (meta-open.ts).
    if (raw) {
      const st = parse<IndexState>(raw);
      this.applied = st.applied;
      this.digest = st.digest;
      this.deploymentId = st.deploymentId;
    }
  }

  /** From now on every group is committed to the journal first. */
  attachJournal(journal: Journal, deploymentId: string): void {
    this.journal = journal;
    this.deploymentId = deploymentId;
  }

  /** Why the store cannot serve right now (closed, or a failed write that needs a restart), or undefined when it can. */
  get unavailable(): string | undefined {
    if (this.broken) return `the metadata store failed a write and needs a restart: ${this.broken.message}`;
    if (this.closing || this.db.status !== 'open') return `the metadata store is ${this.closing ? 'closing' : this.db.status}`;
    return undefined;
  }

  get state(): IndexState {
    return { deploymentId: this.deploymentId, applied: this.applied, digest: { ...this.digest } };
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.committer; // batches already accepted still commit
    await this.levelTail;
    await this.db.close();
  }

  // ---- writes: group commit -------------------------------------------------------------

  /**
   * Callers that arrive while a synced write is in flight wait together and go out as the
   * next single synced write, so N concurrent commits cost about two fsyncs, not N. Each
   * caller is still all-or-nothing: an invalid op rejects only its own caller (its ops are
   * left out), and a failed write rejects every caller in it. Callers are applied in
   * arrival order, each caller's ops in the order given. Ops are read when their group is
   * built, which may be after this call returns: do not mutate them until it settles.
   */
  batch(ops: MetaOp[]): Promise<void> {
    if (this.closing) return Promise.reject(new Error('meta: store is closed'));
    if (this.broken) return Promise.reject(brokenError(this.broken));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ops, resolve, reject });
      this.committer ??= this.commitLoop();
    });
  }

  /**
   * Runs `fn` between two groups, with no write in flight: what it reads (a snapshot, the
   * digest, `applied`) is one consistent point of the history. Checkpoints start here.
   */
  exclusive(fn: () => Promise<void>): Promise<void> {
    if (this.closing) return Promise.reject(new Error('meta: store is closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ task: fn, resolve, reject });
      this.committer ??= this.commitLoop();
    });
  }

  private async commitLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const first = this.queue[0]!;
        if (first.task) {
          this.queue.shift();
          await this.levelTail; // a task sees LevelDB with every committed group in it
          await first.task().then(first.resolve, first.reject);
        } else {
          await this.commitGroup(this.takeGroup());
        }
      }
    } finally {
      // Runs in the same tick as the final empty-queue check, so no caller can slip in between.
      this.committer = undefined;
    }
  }

  private takeGroup(): Waiter[] {
    const group = [this.queue.shift()!];
    let ops = group[0]!.ops!.length;
    let bytes = approxBytes(group[0]!.ops!);
    while (this.queue.length > 0 && !this.queue[0]!.task) {
      const nextOps = this.queue[0]!.ops!;
      const nextBytes = approxBytes(nextOps);
      if (ops + nextOps.length > GROUP_MAX_OPS || bytes + nextBytes > GROUP_MAX_BYTES) break;
      ops += nextOps.length;
      bytes += nextBytes;
      group.push(this.queue.shift()!);
    }
    return group;
  }

  private async commitGroup(group: Waiter[]): Promise<void> {
    // Nothing else writes while this runs, so the builder's reads plus its overlay are exact.
    const builder = new BatchBuilder((k) => this.getRaw(k));
    const accepted: Waiter[] = [];
    for (const w of group) {
      try {
        builder.add(w.ops!);
        accepted.push(w);
      } catch (err) {
        w.reject(err);
      }
    }
    let inLevel: Promise<void> = Promise.resolve();
    try {
      if (builder.ops.length > 0) {
        ({ inLevel } = await this.commitWrites(coalesce(builder.ops)));
        this.stats.batchesWritten++;
      }
    } catch (err) {
      for (const w of accepted) w.reject(err);
      return;
    }
    // Committed. Callers hear so once LevelDB has the writes too (listings read LevelDB); the
    // loop goes on to the next group meanwhile.
    inLevel.then(
      () => {
        for (const w of accepted) w.resolve();
      },
      (err) => {
        for (const w of accepted) w.reject(err);
      },
    );
  }

  /** The digest after `writes`, from the values they replace. */
  private digestAfter(writes: RawWrite[]): Digest {
    const d = { ...this.digest };
    for (const w of writes) {
      const old = this.getRaw(w.key);
      if (old) removeEntry(d, w.key, old);
      if (w.type === 'put') addEntry(d, w.key, w.value);
    }
    return d;
  }

  /**
   * Journal first (the commit point), then LevelDB. Runs inside the commit loop only. Resolves
   * once the group is committed, with a promise of its LevelDB write.
   */
  private async commitWrites(writes: RawWrite[]): Promise<{ inLevel: Promise<void> }> {
    if (this.broken) throw brokenError(this.broken);
    const digest = this.digestAfter(writes);
    if (!this.journal) {
      await this.write(writes, undefined, true);
      this.digest = digest;
      return { inLevel: Promise.resolve() };
    }
    const id = await this.journal.append(Kind.Ops, encodeWrites(writes), digest);
    this.applied = id;
    this.digest = digest;
    const group = ++this.groups;
    for (const w of writes) this.pending.set(w.key.toString('latin1'), { value: w.type === 'put' ? w.value : null, group });
    const state: IndexState = { deploymentId: this.deploymentId, applied: id, digest };
    const inLevel = this.levelTail.then(async () => {
      if (this.broken) throw brokenError(this.broken);
      try {
        await this.write(writes, state, false);
      } catch (e) {
        this.broken = e as Error;
        throw brokenError(this.broken);
      } finally {
        for (const w of writes) {
          const k = w.key.toString('latin1');
          if (this.pending.get(k)?.group === group) this.pending.delete(k);
        }
      }
    });
    this.levelTail = inLevel.catch(() => undefined);
    // A wrapper: returned bare, the promise would be awaited by the caller's await.
    return { inLevel };
  }

  /** LevelDB catches up with a record the journal holds; a failure here needs a restart to mend. */
  private async applyCommitted(writes: RawWrite[], id: RecordId, digest: Digest): Promise<void> {
    const state: IndexState = { deploymentId: this.deploymentId, applied: id, digest };
    try {
      await this.write(writes, state, false);
    } catch (e) {
      this.broken = e as Error;
      throw brokenError(this.broken);
    }
    this.applied = id;
    this.digest = digest;
  }

  /**
   * Appends a record that changes no index entry (a checkpoint's) and notes it as applied.
   * Call from inside `exclusive`.
   */
  async appendMarker(kind: Kind, payload: Buffer): Promise<RecordId> {
    if (!this.journal) throw new Error('meta: no journal attached');
    const id = await this.journal.append(kind, payload, this.digest);
    await this.applyCommitted([], id, this.digest);
    return id;
  }

  /**
   * Applies a committed journal record again (start-up catch-up or rebuild). The digest it
   * carries must come out: otherwise the index is not the history it claims to be.
   */
  async replay(id: RecordId, kind: Kind, payload: Buffer, expected: Digest): Promise<void> {
    const writes = kind === Kind.Ops ? decodeWrites(payload) : [];
    const digest = this.digestAfter(writes);
    if (!sameDigest(digest, expected)) {
      throw new IndexMismatchError(`replaying journal record ${idText(id)} gives ${formatDigest(digest)}, the journal says ${formatDigest(expected)}`);
    }
    await this.write(writes, { deploymentId: this.deploymentId, applied: id, digest }, false);
    this.applied = id;
    this.digest = digest;
  }

  /** Loads entries into an empty index (a checkpoint), keeping the digest. */
  async load(entries: Array<[Buffer, Buffer]>): Promise<void> {
    const digest = { ...this.digest };
    for (const [k, v] of entries) addEntry(digest, k, v);
    await this.write(entries.map(([key, value]) => ({ type: 'put' as const, key, value })), undefined, false);
    this.digest = digest;
  }

  /** Records the state reached by a load (the checkpoint's snapshot id), synced. */
  async markApplied(id: RecordId, deploymentId: string): Promise<void> {
    this.deploymentId = deploymentId;
    await this.write([], { deploymentId, applied: id, digest: this.digest }, true);
    this.applied = id;
  }

  /** Flushes LevelDB's log to disk (after a rebuild, before it is trusted). */
  async sync(): Promise<void> {
    await this.write([], this.state, true);
  }

  /**
   * Reads every record once, as of one point in time: the digest recomputed from the bytes and
   * the state record they were written with. LevelDB does not check its own block checksums
   * on reads unless told to, so this is what finds a flipped byte in a table or log file.
   */
  async fullScan(): Promise<{ digest: Digest; state?: IndexState }> {
    const digest = emptyDigest();
    let state: IndexState | undefined;
    for await (const [k, v] of this.entries(undefined, true)) {
      if (k.equals(K.stateKey)) state = parse<IndexState>(v);
      else addEntry(digest, k, v);
    }
    return { digest, state };
  }

  /** A point-in-time view for a checkpoint; take it inside `exclusive`, close it when done. */
  snapshot(): { close(): Promise<void> } {
    return this.db.snapshot() as unknown as { close(): Promise<void> };
  }

  /** Every record but the state record, in key order, from a snapshot (or now). */
  async *entries(snapshot?: unknown, withState = false): AsyncGenerator<[Buffer, Buffer]> {
    // The state record has the last tag ('Z'), so a bound leaves it out.
    const it = this.db.iterator({ highWaterMarkBytes: SCAN_BYTES, ...(withState ? {} : { lt: K.stateKey }), ...(snapshot ? { snapshot: snapshot as never } : {}) });
    try {
      for (;;) {
        const chunk = await it.nextv(ITERATOR_BATCH);
        if (chunk.length === 0) return;
        yield* chunk;
      }
    } finally {
      await closeIterator(it, Buffer.alloc(0), withState ? undefined : K.stateKey, ITERATOR_BATCH);
    }
  }

  /**
   * One LevelDB write, with the state record when given. A chained batch, not db.batch(array):
   * the array form clones and re-validates every op in JavaScript, which cost more than the
   * native write call itself.
   */
  private async write(ops: RawOp[], state: IndexState | undefined, sync: boolean): Promise<void> {
    const batch = this.db.batch();
    try {
      for (const op of ops) {
        if (op.type === 'put') batch.put(op.key, op.value);
        else batch.del(op.key);
      }
      if (state) batch.put(K.stateKey, Buffer.from(JSON.stringify(state), 'utf8'));
    } catch (err) {
      await batch.close();
      throw err;
    }
    await batch.write({ sync });
  }

  // ---- point reads -----------------------------------------------------------------------

  // Point reads are synchronous: a LevelDB lookup of a small, usually cached record takes a
  // microsecond or two on this thread, while an asynchronous get costs a round trip through
  // the thread pool (tens of microseconds, milliseconds on a busy machine) on every request.

  private getRaw(key: Buffer): Buffer | undefined {
    if (this.pending.size > 0) {
      const p = this.pending.get(key.toString('latin1'));
      if (p) return p.value ?? undefined;
    }
    return (this.db.getSync(key) as Buffer | undefined) ?? undefined;
  }

  private async get(key: Buffer): Promise<Buffer | undefined> {
    return this.getRaw(key);
  }

  private async getJson<T>(key: Buffer): Promise<T | undefined> {
    const raw = this.getRaw(key);
    return raw && parse<T>(raw);
  }

  /** Entries in [gte, lt), at most `limit`. */
  private async scan(gte: Buffer, lt: Buffer, limit: number): Promise<Array<[Buffer, Buffer]>> {
    if (!(limit > 0)) return [];
    // No `limit` option: the loop below stops at it (see closeIterator).
    const it = this.db.iterator({ gte, lt, highWaterMarkBytes: SCAN_BYTES });
    let largestRead = 0;
    try {
      const entries: Array<[Buffer, Buffer]> = [];
      while (entries.length < limit) {
        const ask = Math.min(limit - entries.length, ITERATOR_BATCH);
        largestRead = Math.max(largestRead, ask);
        const chunk = await it.nextv(ask);
        if (chunk.length === 0) break;
        for (const e of chunk) entries.push(e);
      }
      this.stats.iteratorSteps += entries.length;
      return entries;
    } finally {
      await closeIterator(it, gte, lt, largestRead);
    }
  }

  private async scanJson<T>(ns: Buffer, limit: number): Promise<T[]> {
    return (await this.scan(ns, K.end(ns), limit)).map(([, v]) => parse<T>(v));
  }

  getBucket(name: string): Promise<BucketRecord | undefined> {
    return this.getJson(K.bucketKey(name));
  }

  listBuckets(): Promise<BucketRecord[]> {
    return this.scanJson(K.ns('B'), Infinity);
  }

  getUsage(bucket: string): Promise<BucketUsage | undefined> {
    return this.getJson(K.usageKey(bucket));
  }

  async bucketHasObjects(bucket: string): Promise<boolean> {
    for (const tag of ['C', 'V'] as const) {
      if ((await this.scan(K.ns(tag, bucket), K.end(K.ns(tag, bucket)), 1)).length > 0) return true;
    }
    return false;
  }

  async getCurrent(bucket: string, key: string): Promise<ObjectVersion | undefined> {
    const raw = this.getRaw(K.currentKey(bucket, key));
    return raw && decodeCurrent(raw);
  }

  async getVersion(bucket: string, key: string, versionId: string): Promise<ObjectVersion | undefined> {
    // Two reads, and a synced write may land between them (writes run on another thread). A
    // write that replaces the version moves the index to a new record and deletes the old one
    // atomically, so a record missing under an index entry means exactly that: read again.
    const idKey = K.versionIdKey(bucket, key, versionId);
    for (let attempt = 0; attempt < 8; attempt++) {
      const sortKey = this.getRaw(idKey);
      if (!sortKey) return undefined;
      const raw = this.getRaw(K.versionKey(bucket, key, text(sortKey)));
      if (raw) return parse<ObjectVersion>(raw);
    }
    return undefined;
  }

  async getLatestVersion(bucket: string, key: string): Promise<ObjectVersion | undefined> {
    return (await this.listKeyVersions(bucket, key, 1))[0];
  }

  listKeyVersions(bucket: string, key: string, limit: number): Promise<ObjectVersion[]> {
    return this.scanJson(K.ns('V', bucket, key), limit);
  }

  async scanVersions(bucket: string, after: { key: string; sortKey?: string } | undefined, limit: number): Promise<ObjectVersion[]> {
    const ns = K.ns('V', bucket);
    let from = ns;
    if (after) {
      const keyNs = K.ns('V', bucket, after.key);
      from = after.sortKey === undefined ? K.afterAllOf(keyNs.subarray(0, -1)) : K.justAfter(K.versionKey(bucket, after.key, after.sortKey));
    }
    return (await this.scan(from, K.end(ns), limit)).map(([, v]) => parse<ObjectVersion>(v));
  }

  getWorkerState(name: string): Promise<unknown> {
    return this.getJson(K.workerStateKey(name));
  }

  async getInline(dataId: string): Promise<Buffer | undefined> {
    return this.getRaw(K.inlineKey(dataId));
  }

  getUpload(bucket: string, key: string, uploadId: string): Promise<MultipartUpload | undefined> {
    return this.getJson(K.uploadKey(bucket, key, uploadId));
  }

  async listUploadsOlderThan(before: number, limit: number): Promise<MultipartUpload[]> {
    const until = Math.min(Math.ceil(before), MAX_TIME);
    if (!(until > 0)) return [];
    const index = await this.scan(K.ns('T'), K.uploadAgeBound(until), limit);
    const uploads = (await this.db.getMany(index.map(([, uploadKey]) => uploadKey))) as Array<Buffer | undefined>;
    return uploads.filter((u): u is Buffer => u !== undefined).map((u) => parse<MultipartUpload>(u));
  }

  getPart(uploadId: string, partNumber: number): Promise<UploadPart | undefined> {
    return this.getJson(K.partKey(uploadId, partNumber));
  }

  async listParts(uploadId: string, partNumberMarker: number, maxParts: number): Promise<UploadPart[]> {
    const ns = K.ns('P', uploadId);
    const marker = Math.max(0, Math.floor(partNumberMarker));
    if (marker >= 99_999) return [];
    const entries = await this.scan(K.justAfter(K.partKey(uploadId, marker)), K.end(ns), maxParts);
    return entries.map(([, v]) => parse<UploadPart>(v));
  }

  listGarbage(limit: number): Promise<GarbageEntry[]> {
    return this.scanJson(K.ns('G'), limit);
  }

  async listEvents(target: string, afterSeq: number, limit: number): Promise<QueuedEvent[]> {
    const ns = K.ns('E', target);
    const from = afterSeq > 0 ? K.justAfter(K.eventKey(target, afterSeq)) : ns;
    return (await this.scan(from, K.end(ns), limit)).map(([k, v]) => ({ target, seq: Number(text(k.subarray(ns.length))), record: parse<unknown>(v) }));
  }

  async lastEventSeq(): Promise<number> {
    let last = 0;
    for (const target of await this.eventTargets()) {
      // Per target, the last key is its highest seq: one reverse seek.
      const ns = K.ns('E', target);
      const it = this.db.iterator({ gte: ns, lt: K.end(ns), reverse: true, limit: 1 });
      try {
        const [entry] = await it.nextv(1);
        if (entry) last = Math.max(last, Number(text(entry[0].subarray(ns.length))));
      } finally {
        await it.close();
      }
    }
    return last;
  }

  async eventTargets(): Promise<string[]> {
    const targets: string[] = [];
    const all = K.ns('E');
    let from = all;
    for (;;) {
      const [entry] = await this.scan(from, K.end(all), 1);
      if (!entry) return targets;
      const rest = entry[0].subarray(all.length);
      const name = text(rest.subarray(0, rest.indexOf(0)));
      targets.push(name);
      from = K.afterAllOf(K.key('E', name));
    }
  }

  async listIam(kind: IamKind): Promise<Array<{ name: string; record: unknown }>> {
    const ns = K.ns('A', kind);
    return (await this.scan(ns, K.end(ns), Infinity)).map(([k, v]) => ({ name: text(k.subarray(ns.length)), record: parse<unknown>(v) }));
  }

  // ---- listings --------------------------------------------------------------------------

  async listCurrent(bucket: string, opts: ListCurrentOptions): Promise<ListCurrentResult> {
    const ns = K.ns('C', bucket);
    const marker = opts.startAfter ? K.utf8(opts.startAfter) : undefined;
    const { items, truncated } = await walk(this.db, this.stats, {
      ns,
      prefix: K.utf8(opts.prefix ?? ''),
      delimiter: opts.delimiter ? K.utf8(opts.delimiter) : undefined,
      from: marker ? K.justAfter(Buffer.concat([ns, marker])) : ns,
      marker,
      max: opts.maxKeys,
      suffixed: false,
    });
    const objects: ListedObject[] = [];
    for (const i of items) if (i.kind === 'entry') objects.push(decodeListed(i.key, i.value));
    const result: ListCurrentResult = { objects, commonPrefixes: prefixes(items), isTruncated: truncated };
    const last = items.at(-1);
    if (last) result.lastReturned = last.kind === 'entry' ? last.key : last.prefix;
    return result;
  }

  /**
   * Versions in key order, newest first within a key. Resuming after a versionIdMarker that
   * no longer exists (the version was deleted between pages) restarts at the first version of
   * keyMarker: the store cannot place a missing id, and repeating entries beats skipping them.
   */
  async listVersions(bucket: string, opts: ListVersionsOptions): Promise<ListVersionsResult> {
    const ns = K.ns('V', bucket);
    let from = ns;
    if (opts.keyMarker) {
      const keyNs = K.ns('V', bucket, opts.keyMarker);
      from = K.afterAllOf(keyNs.subarray(0, -1));
      if (opts.versionIdMarker) {
        const sortKey = await this.get(K.versionIdKey(bucket, opts.keyMarker, opts.versionIdMarker));
        from = sortKey ? K.justAfter(Buffer.concat([keyNs, sortKey])) : keyNs;
      }
    }
    const { items, truncated } = await walk(this.db, this.stats, {
      ns,
      prefix: K.utf8(opts.prefix ?? ''),
      delimiter: opts.delimiter ? K.utf8(opts.delimiter) : undefined,
      from,
      marker: opts.keyMarker ? K.utf8(opts.keyMarker) : undefined,
      max: opts.maxKeys,
      suffixed: true,
    });
    const versions = entries<ObjectVersion>(items);
    const result: ListVersionsResult = { versions, commonPrefixes: prefixes(items), isTruncated: truncated };
    const last = items.at(-1);
    if (truncated && last) {
      if (last.kind === 'prefix') result.nextKeyMarker = last.prefix;
      else {
        result.nextKeyMarker = versions.at(-1)!.key;
        result.nextVersionIdMarker = versions.at(-1)!.versionId;
      }
    }
    return result;
  }

  /**
   * Uploads in key order, then uploadId order within a key (S3 documents the upload-id-marker
   * as lexicographic). Generate uploadIds time-sortable and this is also initiation order.
   */
  async listUploads(bucket: string, opts: ListUploadsOptions): Promise<ListUploadsResult> {
    const ns = K.ns('U', bucket);
    let from = ns;
    if (opts.keyMarker) {
      const keyNs = K.ns('U', bucket, opts.keyMarker);
      from = opts.uploadIdMarker
        ? K.justAfter(Buffer.concat([keyNs, K.utf8(opts.uploadIdMarker)]))
        : K.afterAllOf(keyNs.subarray(0, -1));
    }
    const { items, truncated } = await walk(this.db, this.stats, {
      ns,
      prefix: K.utf8(opts.prefix ?? ''),
      delimiter: opts.delimiter ? K.utf8(opts.delimiter) : undefined,
      from,
      marker: opts.keyMarker ? K.utf8(opts.keyMarker) : undefined,
      max: opts.maxUploads,
      suffixed: true,
    });
    const uploads = entries<MultipartUpload>(items);
    const result: ListUploadsResult = { uploads, commonPrefixes: prefixes(items), isTruncated: truncated };
    const last = items.at(-1);
    if (truncated && last) {
      if (last.kind === 'prefix') result.nextKeyMarker = last.prefix;
      else {
        result.nextKeyMarker = uploads.at(-1)!.key;
        result.nextUploadIdMarker = uploads.at(-1)!.uploadId;
      }
    }
    return result;
  }
}

function openLevel(dir: string): Db {
  return new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer', writeBufferSize: WRITE_BUFFER_BYTES });
}

/** The last write of each key, in the order of those last writes: what the batch leaves behind. */
function coalesce(ops: RawOp[]): RawWrite[] {
  const last = new Map<string, RawOp>();
  for (const op of ops) {
    const id = op.key.toString('latin1');
    last.delete(id);
    last.set(id, op);
  }
  return [...last.values()];
}

function brokenError(cause: Error): S3Error {
  return new S3Error('ServiceUnavailable', `The metadata index failed a write (${cause.message}); restart the server to recover it from the journal.`);
}

function entries<T>(items: WalkItem[]): T[] {
  const out: T[] = [];
  for (const i of items) if (i.kind === 'entry') out.push(JSON.parse(i.value) as T);
  return out;
}

function prefixes(items: WalkItem[]): string[] {
  const out: string[] = [];
  for (const i of items) if (i.kind === 'prefix') out.push(i.prefix);
  return out;
}
