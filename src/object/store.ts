// The object layer: buckets, objects and versions as a TypeScript API with no HTTP in it.
// It owns the commit protocol: data is written to temporary shard files (fsynced), then ONE
// metadata batch makes the new version visible (the commit point), then the shard files are
// moved into place and data that became unreachable is removed through the garbage queue.

import { randomBytes } from 'node:crypto';
import { Readable, Transform, pipeline } from 'node:stream';
import type { Disk } from '../disk/disk.js';
import type { SpaceGuard } from '../disk/space.js';
import { S3Error } from '../errors.js';
import type { BucketRecord, BucketSettings, BucketUsage, CannedAcl, ChecksumAlgorithm, DataLayout, ListCurrentOptions, ListCurrentResult, ListVersionsOptions, ListVersionsResult, MetaOp, MetaStore, ObjectVersion, SseInfo, StoredChecksum, Versioning } from '../meta/types.js';
import { crc32c } from '../erasure/bitrot.js';
import { GarbageCollector, layoutsOf } from './garbage.js';
import { IdGenerator, isWellFormedVersionId } from './ids.js';
import { MemoryBudget, UNLIMITED, type Lease } from '../erasure/memory-budget.js';
import { ingest, uploadLeaseBytes, type Ingested } from './ingest.js';
import { BucketGate } from './bucket-gate.js';
import { KeyLock } from './key-lock.js';
import { copyReadLease, openDataStream, openDataStreamReady, READ_LEASE_BYTES, readLeaseBytes } from './read.js';
import { HealQueue } from './heal-queue.js';
import { HealStats } from './heal-stats.js';
import { Multipart } from './multipart.js';
import { lifecycleClock, type LifecycleClock } from './lifecycle-rules.js';
import { openDecrypted, openDecryptedReady, SseKeyring, type SseRequest } from './sse.js';
import { sealedSize, SealStream } from './sse-format.js';
import { createChecksummer } from '../util/checksums.js';
import { createHash } from 'node:crypto';
import { Notifier, type Change } from './events.js';

export const MAX_OBJECT_SIZE = 5 * 1024 ** 3;

export interface ObjectStoreOptions {
  disks: Disk[];
  meta: MetaStore;
  k: number;
  m: number;
  blockSize: number;
  inlineThreshold: number;
  now?: () => number;
  ids?: IdGenerator;
  log?: (msg: string) => void;
  /** The budget every request's stripe buffers are leased from (limits.memory_budget); default: no limit. */
  memory?: MemoryBudget;
  /** Keys for server-side encryption; without one, only SSE-C can be served. */
  sse?: SseKeyring;
  /** The free-space reserve object writes are checked against (none: no check). */
  space?: SpaceGuard;
}

export interface Conditions {
  /** '*' = only if the key has no current object. */
  ifNoneMatch?: string;
  /** ETag (no quotes) the current object must have. */
  ifMatch?: string;
}

export interface PutObjectOptions extends Conditions {
  expectedSize?: number;
  headers?: Record<string, string>;
  userMeta?: Record<string, string>;
  /** base64 MD5 the client sent in Content-MD5. */
  contentMd5?: string;
  /** Algorithm to compute and store (from x-amz-checksum-*, x-amz-sdk-checksum-algorithm or x-amz-trailer). */
  checksumAlgorithm?: ChecksumAlgorithm;
  /** Value the client declared up front (header); verified. */
  expectedChecksum?: string;
  /** Value the client declared in a trailer; read once the body has ended, verified. */
  trailerChecksum?: () => string | undefined;
  /** The HTTP layer already verified the declared checksum while streaming: don't compute it twice. */
  checksumVerifiedUpstream?: boolean;
  tags?: Record<string, string>;
  storageClass?: string;
  acl?: CannedAcl;
  /** Server-side encryption the write asks for (putObject makes a new data key for it). */
  encryption?: SseRequest;
  /** Set by putObject / uploadPart: the data key to seal the body with (object/sse-format.ts). */
  sealWith?: SealWith;
}

export interface SealWith {
  dataKey: Buffer;
  /** SSE-C: the ETag is the MD5 of the stored bytes, not of the plaintext (as S3: not an MD5 of the data). */
  cipherEtag: boolean;
}

export interface ReadOptions {
  versionId?: string;
}

export interface DeleteOptions extends ReadOptions {
  /** Who deletes: a client (absent) or the lifecycle worker (events name the cause). */
  cause?: 'lifecycle';
  /**
   * Checked under the key's lock, given the key's two newest versions (newest first): when it
   * answers false nothing changes and the result says `skipped`. The lifecycle worker acts
   * only if the key is still as it found it (a PUT that raced it is never expired).
   */
  onlyIf?: (newest: ObjectVersion[]) => boolean;
}

export interface DeleteResult {
  versionId?: string;
  deleteMarker: boolean;
  /** The onlyIf check answered false: nothing was deleted. */
  skipped?: boolean;
}

export class ObjectStore {
  readonly disks: Disk[];
  readonly meta: MetaStore;
  readonly k: number;
  readonly m: number;
  readonly blockSize: number;
  readonly inlineThreshold: number;
  readonly now: () => number;
  readonly ids: IdGenerator;
  readonly locks = new KeyLock();
  /** Keeps writes that add versions or uploads out of a bucket DeleteBucket is deleting. */
  readonly bucketGate = new BucketGate();
  readonly garbage: GarbageCollector;
  readonly heals: HealQueue;
  /** What healing found and repaired so far (metrics). */
  readonly healStats = new HealStats();
  readonly multipart: Multipart;
  /** Stripe buffers of uploads, downloads and copies in flight are leased from this. */
  readonly memory: MemoryBudget;
  readonly sse: SseKeyring;
  readonly space: SpaceGuard | undefined;
  /** How long a lifecycle day lasts (lifecycle.day_seconds): x-amz-expiration and the worker agree on it. */
  lifecycleClock: LifecycleClock = lifecycleClock(undefined);
  /** Event notifications and the live event stream (object/events.ts). */
  readonly events: Notifier;
  private readonly log: (msg: string) => void;
  private readonly background = new Set<Promise<unknown>>();
  /**
   * Bucket records, read on every request. This process is the only writer of the metadata
   * store and every bucket change goes through the methods below, which keep this in step.
   */
  private readonly bucketCache = new Map<string, BucketRecord>();
  /** Bumped around every bucket write, so a read that raced a write never caches the old record. */
  private bucketEpoch = 0;

  constructor(o: ObjectStoreOptions) {
    this.disks = o.disks;
    this.meta = o.meta;
    this.k = o.k;
    this.m = o.m;
    this.blockSize = o.blockSize;
    this.inlineThreshold = o.inlineThreshold;
    this.now = o.now ?? Date.now;
    this.ids = o.ids ?? new IdGenerator(this.now, pooledRandomBytes);
    this.log = o.log ?? (() => undefined);
    this.memory = o.memory ?? UNLIMITED();
    this.space = o.space;
    this.garbage = new GarbageCollector(this.disks, this.meta, this.log);
    this.heals = new HealQueue(this, this.log);
    this.multipart = new Multipart(this);
    this.sse = o.sse ?? new SseKeyring();
    this.events = new Notifier(this.now);
  }

  /** Runs a task after the reply without losing track of it (close() waits for these). */
  track<T>(p: Promise<T>): void {
    const q = p.catch((e) => this.log(`background task failed: ${(e as Error).message}`));
    this.background.add(q);
    void q.finally(() => this.background.delete(q));
  }

  async settle(): Promise<void> {
    while (this.background.size) await Promise.all([...this.background]);
    await this.garbage.kick();
    await this.heals.idle();
  }

  // ---------------------------------------------------------------- buckets

  /** Creates a bucket owned by `o.owner` (a user name; absent = the root key). */
  async createBucket(name: string, region: string, o: { owner?: string; acl?: CannedAcl } = {}): Promise<BucketRecord> {
    return this.locks.run(`bucket\0${name}`, async () => {
      const existing = await this.meta.getBucket(name);
      if (existing && existing.owner !== o.owner) throw new S3Error('BucketAlreadyExists', undefined, { BucketName: name });
      if (existing) throw new S3Error('BucketAlreadyOwnedByYou', undefined, { BucketName: name });
      const rec: BucketRecord = { name, created: this.now(), region, versioning: 'Unversioned' };
      if (o.owner !== undefined) rec.owner = o.owner;
      if (o.acl !== undefined && o.acl !== 'private') rec.acl = o.acl;
      await this.writeBucket(rec);
      return rec;
    });
  }

  async getBucket(name: string): Promise<BucketRecord> {
    const cached = this.bucketCache.get(name);
    if (cached) return cached;
    const epoch = this.bucketEpoch;
    const b = await this.meta.getBucket(name);
    if (!b) throw new S3Error('NoSuchBucket', undefined, { BucketName: name });
    if (epoch === this.bucketEpoch) this.bucketCache.set(name, b);
    return b;
  }

  private async writeBucket(b: BucketRecord | { name: string; deleted: true }): Promise<void> {
    this.bucketEpoch++;
    this.bucketCache.delete(b.name);
    try {
      await this.meta.batch(['deleted' in b ? { type: 'delBucket', name: b.name } : { type: 'putBucket', bucket: b }]);
    } finally {
      this.bucketEpoch++;
      // A read that started after the first bump and finished before the batch was applied
      // cached the old record (its epoch still matched): drop it too.
      this.bucketCache.delete(b.name);
    }
  }

  listBuckets(): Promise<BucketRecord[]> {
    return this.meta.listBuckets();
  }

  /**
   * Objects, versions and delete markers make a bucket BucketNotEmpty; unfinished multipart
   * uploads do not: they are aborted with the bucket, as S3 does (test suites that clean up by
   * deleting their buckets would otherwise be stuck on the first upload a test left behind).
   */
  async deleteBucket(name: string): Promise<void> {
    // With the gate closed no write is in flight on the bucket and none can start until the
    // bucket is gone (or found not empty): see bucket-gate.ts.
    await this.locks.run(`bucket\0${name}`, () => this.bucketGate.closed(name, async () => {
      await this.getBucket(name);
      for (;;) {
        if (await this.meta.bucketHasObjects(name)) throw new S3Error('BucketNotEmpty', undefined, { BucketName: name });
        // A page at a time from the start (aborted ones are gone), until none is left; one
        // started meanwhile is found by the next page.
        const page = await this.meta.listUploads(name, { maxUploads: 1000 });
        if (page.uploads.length === 0) break;
        for (const u of page.uploads) {
          await this.multipart.abort(name, u.key, u.uploadId).catch((e: unknown) => {
            if (!(e instanceof S3Error && e.code === 'NoSuchUpload')) throw e;
          });
        }
      }
      await this.writeBucket({ name, deleted: true });
    }));
  }

  async setVersioning(name: string, status: Exclude<Versioning, 'Unversioned'>): Promise<void> {
    await this.locks.run(`bucket\0${name}`, async () => {
      const b = await this.getBucket(name);
      await this.writeBucket({ ...b, versioning: status });
    });
  }

  async setBucketTags(name: string, tags: Record<string, string> | undefined): Promise<void> {
    await this.locks.run(`bucket\0${name}`, async () => {
      const b = await this.getBucket(name);
      const next = { ...b };
      if (tags) next.tags = tags;
      else delete next.tags;
      await this.writeBucket(next);
    });
  }

  /**
   * Sets (or, given undefined, removes) bucket settings; fields not named in `patch` keep
   * their value.
   */
  async updateBucket(name: string, patch: Partial<BucketSettings>): Promise<BucketRecord> {
    return this.locks.run(`bucket\0${name}`, async () => {
      const next: BucketRecord = { ...(await this.getBucket(name)) };
      for (const [k, v] of Object.entries(patch) as Array<[keyof BucketSettings, unknown]>) {
        if (v === undefined) delete next[k];
        else (next as unknown as Record<string, unknown>)[k] = v;
      }
      await this.writeBucket(next);
      return next;
    });
  }

  // ---------------------------------------------------------------- quotas

  /** Bytes and versions the bucket holds; undefined for a bucket made before usage was kept. */
  async bucketUsage(name: string): Promise<BucketUsage | undefined> {
    await this.getBucket(name);
    return this.meta.getUsage(name);
  }

  /** Sets (or, with undefined, removes) the bucket's quota. */
  async setQuota(name: string, maxBytes: number | undefined): Promise<BucketRecord> {
    if (maxBytes !== undefined && !(await this.bucketUsage(name))) {
      throw new S3Error('InvalidRequest', `The bucket ${name} was created before Tessera kept bucket usage, so it cannot have a quota. Copy its objects into a new bucket to set one.`);
    }
    return this.updateBucket(name, { quota: maxBytes === undefined ? undefined : { maxBytes } });
  }

  /**
   * Refuses a write of `bytes` that would take the bucket over its quota. A write to a key
   * whose null version it replaces (unversioned or suspended buckets) gets that version's bytes
   * back. Checked before the data is written (with the declared size) and again before the
   * commit (with the real one); concurrent writes may together overshoot by what they carry.
   * Returns the bytes the write may have in all (undefined: no quota).
   */
  async checkQuota(b: BucketRecord, key: string | undefined, bytes: number): Promise<number | undefined> {
    const max = b.quota?.maxBytes;
    if (max === undefined) return undefined;
    const usage = await this.meta.getUsage(b.name);
    if (!usage) return undefined;
    let used = usage.bytes;
    if (key !== undefined && b.versioning !== 'Enabled') {
      const old = await this.meta.getVersion(b.name, key, 'null');
      if (old && !old.isDeleteMarker) used -= old.size;
    }
    if (used + bytes > max) throw quotaExceeded(b.name, max, usage.bytes);
    return max - used;
  }

  /**
   * A body of unknown size, cut off with XTesseraQuotaExceeded as soon as it passes `room`
   * bytes, so a long upload into a bucket near its quota is not written out in full first.
   */
  limitToQuota(body: Readable, room: number | undefined, b: BucketRecord): Readable {
    if (room === undefined) return body;
    let seen = 0;
    const limiter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        seen += chunk.length;
        if (seen > room) return done(quotaExceeded(b.name, b.quota!.maxBytes, b.quota!.maxBytes - room));
        done(null, chunk);
      },
    });
    return pipeline(body, limiter, () => undefined) as unknown as Readable;
  }

  // ---------------------------------------------------------------- writes

  /** Streams a body into the store (inline or erasure-coded) and verifies every digest. */
  async receive(bucket: string, key: string, body: Readable, o: PutObjectOptions, extra: { uploadId?: string; partNumber?: number } = {}): Promise<Ingested> {
    const readBytes = (body as Readable & { [READ_LEASE_BYTES]?: number })[READ_LEASE_BYTES];
    if (readBytes === undefined) return this.receiveBody(bucket, key, body, o, extra);
    // A copy reads and writes at once: it leases both sides in one go, so no copy ever holds
    // one side while it waits for the other (which could leave every copy waiting on the rest).
    const shape = { k: this.k, m: this.m, blockSize: this.blockSize, inlineThreshold: this.inlineThreshold, expectedSize: o.expectedSize };
    const writeLease = await this.memory.acquire(readBytes + uploadLeaseBytes(shape));
    const readLease = writeLease.split(readBytes);
    try {
      return await copyReadLease.run(readLease, () => this.receiveBody(bucket, key, body, o, extra, writeLease));
    } catch (e) {
      // A source that was not read to its end: stop its reads.
      body.destroy();
      throw e;
    } finally {
      readLease.release();
      writeLease.release(); // ingest gave it back already, unless it never started
    }
  }

  private async receiveBody(bucket: string, key: string, body: Readable, o: PutObjectOptions, extra: { uploadId?: string; partNumber?: number }, writeLease?: Lease): Promise<Ingested> {
    const upstream = o.checksumVerifiedUpstream === true && (o.expectedChecksum !== undefined || o.trailerChecksum !== undefined);
    const algs: ChecksumAlgorithm[] = o.checksumAlgorithm && !upstream ? [o.checksumAlgorithm] : [];
    const dataId = this.ids.dataId();
    // Encrypted, the body is sealed before erasure coding: ingest sees (and hashes) only the
    // stored form, so the plaintext's digests and size are taken here, on the way in.
    const seal = o.sealWith;
    let sealer: SealStream | undefined;
    let plainMd5: ReturnType<typeof createHash> | undefined;
    const plainSums = seal ? algs.map((a) => [a, createChecksummer(a)] as const) : [];
    if (seal) {
      // The plaintext's MD5 is the SSE-S3 ETag; under SSE-C (ETag of the stored bytes) it is
      // wanted only to check a Content-MD5, so it is not taken without one.
      const md5 = (plainMd5 = !seal.cipherEtag || o.contentMd5 !== undefined ? createHash('md5') : undefined);
      sealer = new SealStream(seal.dataKey, dataId, (chunk) => {
        if (sealer!.size > MAX_OBJECT_SIZE) throw new S3Error('EntityTooLarge', undefined, { ProposedSize: String(sealer!.size), MaxSizeAllowed: String(MAX_OBJECT_SIZE) });
        md5?.update(chunk);
        for (const [, c] of plainSums) c.update(chunk);
      });
      body = pipeline(body, sealer, () => undefined) as unknown as Readable;
    }
    const got = await ingest(body, {
      disks: this.disks,
      k: this.k,
      m: this.m,
      blockSize: this.blockSize,
      inlineThreshold: this.inlineThreshold,
      dataId,
      describe: { bucket, key, ...extra },
      expectedSize: seal && o.expectedSize !== undefined ? sealedSize(o.expectedSize) : o.expectedSize,
      maxSize: seal ? sealedSize(MAX_OBJECT_SIZE) : MAX_OBJECT_SIZE,
      checksumAlgorithms: seal ? [] : algs,
      space: this.space,
      budget: this.memory,
      lease: writeLease,
    });
    let contentMd5 = got.md5;
    if (sealer) {
      got.size = sealer.size;
      if (plainMd5) contentMd5 = plainMd5.digest();
      got.checksums = Object.fromEntries(plainSums.map(([a, c]) => [a, c.digest()]));
      if (!seal!.cipherEtag) got.md5 = contentMd5;
    }
    try {
      if (o.expectedSize !== undefined && got.size !== o.expectedSize) throw new S3Error('IncompleteBody');
      if (o.contentMd5 !== undefined && contentMd5.toString('base64') !== o.contentMd5) {
        throw new S3Error('BadDigest', undefined, { ExpectedDigest: Buffer.from(o.contentMd5, 'base64').toString('hex'), CalculatedDigest: contentMd5.toString('hex') });
      }
      if (o.checksumAlgorithm) {
        const declared = o.expectedChecksum ?? o.trailerChecksum?.();
        if (upstream) {
          if (declared === undefined) throw new S3Error('InvalidRequest', `The ${o.checksumAlgorithm} checksum announced for this request was not sent.`);
          got.checksums[o.checksumAlgorithm] = Buffer.from(declared, 'base64');
        } else {
          const computed = got.checksums[o.checksumAlgorithm]!.toString('base64');
          if (declared !== undefined && declared !== computed) {
            throw new S3Error('BadDigest', `The ${o.checksumAlgorithm} you specified did not match the calculated checksum.`);
          }
        }
      }
    } catch (e) {
      await got.writer?.abort();
      throw e;
    }
    return got;
  }

  async putObject(bucket: string, key: string, body: Readable, o: PutObjectOptions = {}): Promise<ObjectVersion> {
    const b = await this.getBucket(bucket);
    const room = await this.checkQuota(b, key, o.expectedSize ?? 0);
    if (o.expectedSize === undefined) body = this.limitToQuota(body, room, b);
    // Fail fast on a condition that already cannot hold; it is checked again at commit.
    if (o.ifNoneMatch !== undefined || o.ifMatch !== undefined) await this.checkConditions(bucket, key, o);
    const sealed = o.encryption ? this.sse.seal(o.encryption) : undefined;
    const got = await this.receive(bucket, key, body, sealed ? { ...o, sealWith: { dataKey: sealed.dataKey, cipherEtag: o.encryption!.mode === 'C' } } : o);
    const checksum: StoredChecksum | undefined = o.checksumAlgorithm
      ? { algorithm: o.checksumAlgorithm, value: got.checksums[o.checksumAlgorithm]!.toString('base64'), type: 'FULL_OBJECT' }
      : undefined;
    const draft: Draft = {
      size: got.size,
      etag: got.md5.toString('hex'),
      headers: o.headers ?? {},
      userMeta: o.userMeta ?? {},
      checksum,
      tags: o.tags,
      storageClass: o.storageClass,
      acl: o.acl,
      sse: sealed?.info,
      data: got.layout,
    };
    const extraOps: MetaOp[] = got.inline ? [{ type: 'putInline', dataId: got.layout.dataId, data: got.inline }] : [];
    try {
      // Again with the real size: a body of unknown size was not checked before.
      await this.checkQuota(await this.getBucket(bucket), key, got.size);
      const v = await this.commitVersion(bucket, key, draft, extraOps, o);
      await got.writer?.publish();
      return v;
    } catch (e) {
      await got.writer?.abort();
      throw e;
    }
  }

  private async checkConditions(bucket: string, key: string, c: Conditions): Promise<void> {
    const cur = await this.meta.getCurrent(bucket, key);
    if (c.ifNoneMatch !== undefined && cur) {
      if (c.ifNoneMatch === '*' || stripQuotes(c.ifNoneMatch) === cur.etag) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
    }
    if (c.ifMatch !== undefined) {
      if (!cur) throw new S3Error('NoSuchKey', undefined, { Key: key });
      if (c.ifMatch !== '*' && stripQuotes(c.ifMatch) !== cur.etag) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
    }
  }

  /**
   * The commit point of every write: under the key's lock, decide the version id from the
   * bucket's versioning state, queue what the new version replaces, and write it all in one
   * metadata batch.
   */
  async commitVersion(bucket: string, key: string, draft: Draft, extraOps: MetaOp[], c: Conditions = {}, o: { gated?: boolean } = {}): Promise<ObjectVersion> {
    // `gated`: the caller already counted itself in at the bucket gate (Complete does, before
    // taking the upload's lock that DeleteBucket's aborts need).
    if (!o.gated) return this.bucketGate.around(bucket, () => this.commitVersion(bucket, key, draft, extraOps, c, { gated: true }));
    return this.locks.run(`${bucket}\0${key}`, async () => {
      const b = await this.getBucket(bucket);
      if (c.ifNoneMatch !== undefined || c.ifMatch !== undefined) await this.checkConditions(bucket, key, c);
      const sortKey = this.ids.versionSortKey();
      const versionId = b.versioning === 'Enabled' ? sortKey : 'null';
      const v: ObjectVersion = {
        bucket,
        key,
        versionId,
        sortKey,
        isDeleteMarker: false,
        lastModified: this.now(),
        ...draft,
      };
      if (v.checksum === undefined) delete v.checksum;
      if (v.tags === undefined) delete v.tags;
      if (v.storageClass === undefined) delete v.storageClass;
      if (v.acl === undefined || v.acl === 'private') delete v.acl;
      if (v.uploadId === undefined) delete v.uploadId;
      if (v.sse === undefined) delete v.sse;
      const ops: MetaOp[] = [...extraOps, { type: 'putVersion', version: v }, { type: 'setCurrent', bucket, key, version: v }];
      if (versionId === 'null') ops.push(...(await this.replaceNullOps(bucket, key, b.versioning === 'Suspended')));
      const events = this.events.prepare(b, { kind: 'created', version: v });
      ops.push(...events.ops);
      await this.meta.batch(ops);
      events.committed();
      this.kickGarbage(ops);
      return v;
    });
  }

  /** Ops that retire the key's existing null version (its data goes to the garbage queue). */
  private async replaceNullOps(bucket: string, key: string, versionsKept: boolean): Promise<MetaOp[]> {
    const old = await this.meta.getVersion(bucket, key, 'null');
    if (!old) return [];
    // putVersion of the new null version replaces the old record itself; only its data is queued.
    const ops = old.data ? [this.garbageOp([old.data])] : [];
    // In a suspended bucket older versions may stand behind the replaced null version.
    if (versionsKept) ops.push(...(await this.successorGoneOps(old)));
    return ops;
  }

  /**
   * The version just older than `gone` (its successor, about to be removed and not becoming
   * current itself) keeps the time it became noncurrent, which was `gone`'s write time: after
   * the removal its successor would say a later time (lifecycle's NoncurrentDays count from it).
   */
  private async successorGoneOps(gone: ObjectVersion): Promise<MetaOp[]> {
    const older = (await this.meta.scanVersions(gone.bucket, { key: gone.key, sortKey: gone.sortKey }, 1))[0];
    if (!older || older.key !== gone.key || older.noncurrentSince !== undefined) return [];
    return [{ type: 'putVersion', version: { ...older, noncurrentSince: gone.lastModified } }];
  }

  async deleteObject(bucket: string, key: string, o: DeleteOptions = {}): Promise<DeleteResult> {
    await this.getBucket(bucket);
    if (o.versionId !== undefined && !isWellFormedVersionId(o.versionId)) throw new S3Error('InvalidArgument', 'Invalid version id specified', { ArgumentName: 'versionId', ArgumentValue: o.versionId });
    // A delete may add a delete marker: it must not land in a bucket being deleted.
    return this.bucketGate.around(bucket, () => this.locks.run(`${bucket}\0${key}`, async () => {
      const b = await this.getBucket(bucket);
      if (o.onlyIf && !o.onlyIf(await this.meta.listKeyVersions(bucket, key, 2))) return { deleteMarker: false, skipped: true };
      const ops: MetaOp[] = [];
      let result: DeleteResult;
      let change: Change;
      if (o.versionId !== undefined) {
        const v = await this.meta.getVersion(bucket, key, o.versionId);
        if (!v) return { versionId: o.versionId, deleteMarker: false };
        ops.push({ type: 'delVersion', bucket, key, versionId: v.versionId });
        if (v.data) ops.push(this.garbageOp([v.data]));
        // If it was the newest version, the next one (if any) becomes current.
        const newest = await this.meta.listKeyVersions(bucket, key, 2);
        if (newest[0]?.sortKey === v.sortKey) {
          let next = newest[1];
          if (next?.noncurrentSince !== undefined) {
            // Current again: it is no longer noncurrent since any time.
            next = { ...next };
            delete next.noncurrentSince;
            ops.push({ type: 'putVersion', version: next });
          }
          ops.push({ type: 'setCurrent', bucket, key, version: next && !next.isDeleteMarker ? next : null });
        } else {
          ops.push(...(await this.successorGoneOps(v)));
        }
        result = { versionId: v.versionId, deleteMarker: v.isDeleteMarker };
        change = { kind: 'removed', key, versionId: v.versionId };
      } else if (b.versioning === 'Unversioned') {
        const cur = await this.meta.getVersion(bucket, key, 'null');
        if (!cur) return { deleteMarker: false };
        ops.push({ type: 'delVersion', bucket, key, versionId: 'null' }, { type: 'setCurrent', bucket, key, version: null });
        if (cur.data) ops.push(this.garbageOp([cur.data]));
        result = { deleteMarker: false };
        change = { kind: 'removed', key };
      } else {
        const sortKey = this.ids.versionSortKey();
        const marker: ObjectVersion = {
          bucket, key, sortKey,
          versionId: b.versioning === 'Enabled' ? sortKey : 'null',
          isDeleteMarker: true,
          lastModified: this.now(),
          size: 0, etag: '', headers: {}, userMeta: {},
        };
        if (marker.versionId === 'null') ops.push(...(await this.replaceNullOps(bucket, key, true)));
        ops.push({ type: 'putVersion', version: marker }, { type: 'setCurrent', bucket, key, version: null });
        result = { versionId: marker.versionId, deleteMarker: true };
        change = { kind: 'marker', marker };
      }
      const events = this.events.prepare(b, change, o.cause);
      ops.push(...events.ops);
      await this.meta.batch(ops);
      events.committed();
      this.kickGarbage(ops);
      return result;
    }));
  }

  /**
   * Starts removing what a commit queued. A commit that queued nothing skips it: a drain
   * begins with a scan of the queue, which most writes (new keys) would pay for nothing.
   */
  private kickGarbage(ops: MetaOp[]): void {
    for (const op of ops) {
      if (op.type === 'putGarbage') {
        this.garbage.kick();
        return;
      }
    }
  }

  /** A garbage-queue entry for data that the same batch makes unreachable (see garbage.ts). */
  garbageOp(layouts: DataLayout[]): MetaOp {
    return { type: 'putGarbage', entry: { id: this.ids.versionSortKey() + this.ids.dataId().slice(0, 8), enqueued: this.now(), layouts } };
  }

  /** Replaces (or, with undefined, removes) the tag set of one version. */
  async setObjectTags(bucket: string, key: string, versionId: string | undefined, tags: Record<string, string> | undefined): Promise<ObjectVersion> {
    return this.rewriteVersion(bucket, key, versionId, (next) => {
      if (tags && Object.keys(tags).length > 0) next.tags = tags;
      else delete next.tags;
    }, tags !== undefined);
  }

  /** Sets the canned ACL of one version. */
  async setObjectAcl(bucket: string, key: string, versionId: string | undefined, acl: CannedAcl): Promise<ObjectVersion> {
    return this.rewriteVersion(bucket, key, versionId, (next) => {
      if (acl === 'private') delete next.acl;
      else next.acl = acl;
    });
  }

  /** Changes a version's settings in place (same version id, same data). */
  private async rewriteVersion(bucket: string, key: string, versionId: string | undefined, change: (next: ObjectVersion) => void, tagged?: boolean): Promise<ObjectVersion> {
    await this.getBucket(bucket);
    return this.locks.run(`${bucket}\0${key}`, async () => {
      const v = await this.resolve(bucket, key, { versionId });
      if (v.isDeleteMarker) throw new S3Error('MethodNotAllowed', undefined, { Method: 'PUT', ResourceType: 'DeleteMarker' }, { 'x-amz-delete-marker': 'true', Allow: 'DELETE' });
      const next: ObjectVersion = { ...v };
      change(next);
      const ops: MetaOp[] = [{ type: 'putVersion', version: next }];
      const cur = await this.meta.getCurrent(bucket, key);
      if (cur && cur.sortKey === v.sortKey) ops.push({ type: 'setCurrent', bucket, key, version: next });
      // Tagging changes are events (ObjectTagging:Put/Delete); ACL changes are not.
      const events = tagged === undefined ? undefined : this.events.prepare(await this.getBucket(bucket), { kind: 'tagging', version: next, put: tagged });
      if (events) ops.push(...events.ops);
      await this.meta.batch(ops);
      events?.committed();
      return next;
    });
  }

  // ---------------------------------------------------------------- reads

  /** The version a GET/HEAD addresses; NoSuchKey (with the delete-marker header) or NoSuchVersion otherwise. */
  async resolve(bucket: string, key: string, o: ReadOptions = {}): Promise<ObjectVersion> {
    await this.getBucket(bucket);
    if (o.versionId !== undefined) {
      if (!isWellFormedVersionId(o.versionId)) throw new S3Error('InvalidArgument', 'Invalid version id specified', { ArgumentName: 'versionId', ArgumentValue: o.versionId });
      const v = await this.meta.getVersion(bucket, key, o.versionId);
      if (!v) throw new S3Error('NoSuchVersion', undefined, { Key: key, VersionId: o.versionId });
      return v;
    }
    const cur = await this.meta.getCurrent(bucket, key);
    if (cur) return cur;
    const latest = await this.meta.getLatestVersion(bucket, key);
    if (latest?.isDeleteMarker) {
      throw new S3Error('NoSuchKey', undefined, { Key: key }, { 'x-amz-delete-marker': 'true', 'x-amz-version-id': latest.versionId });
    }
    throw new S3Error('NoSuchKey', undefined, { Key: key });
  }

  /**
   * The whole data of a version kept inline (small objects), integrity-checked; undefined for
   * any other layout. Lets GET answer a small object from one buffer instead of a stream.
   */
  async inlineData(v: ObjectVersion): Promise<Buffer | undefined> {
    const l = v.data;
    // Encrypted data is opened chunk by chunk by openData.
    if (l?.kind !== 'inline' || v.sse) return undefined;
    const buf = await this.meta.getInline(l.dataId);
    if (!buf || buf.length !== l.size || crc32c(buf) !== l.crc32c) {
      throw new S3Error('InternalError', `The data of ${v.key} failed its integrity check.`);
    }
    return buf;
  }

  /**
   * Bytes [start, end] of a version's data as a stream (bounded memory), decrypted if the
   * version is encrypted (`customerKey`: the SSE-C key the request supplied). Refusals (no
   * master key, a missing or wrong customer key) are thrown here, before any byte is read.
   */
  openData(v: ObjectVersion, start = 0, end = v.size - 1, customerKey?: Buffer): Readable {
    const dataKey = this.sse.dataKeyForRead(v.sse, customerKey);
    const s = dataKey ? openDecrypted(this, v, dataKey, start, end) : openDataStream(this, v, start, end);
    // Written into the store (a copy), its reads share the write's lease: see receive().
    Object.defineProperty(s, READ_LEASE_BYTES, { value: readLeaseBytes(v) });
    return s;
  }

  /** openData, resolved once the first chunks are read: a read that cannot start fails before any reply. */
  openDataReady(v: ObjectVersion, start = 0, end = v.size - 1, customerKey?: Buffer): Promise<Readable> {
    const dataKey = this.sse.dataKeyForRead(v.sse, customerKey);
    return dataKey ? openDecryptedReady(this, v, dataKey, start, end) : openDataStreamReady(this, v, start, end);
  }

  listObjects(bucket: string, o: ListCurrentOptions): Promise<ListCurrentResult> {
    return this.meta.listCurrent(bucket, o);
  }

  listVersions(bucket: string, o: ListVersionsOptions): Promise<ListVersionsResult> {
    return this.meta.listVersions(bucket, o);
  }

  /** Every data layout a version refers to (one, or one per part). */
  static layouts(v: ObjectVersion): DataLayout[] {
    return layoutsOf(v.data);
  }
}

/** What a write supplies; commitVersion adds version id, sort key and time. */
export interface Draft {
  size: number;
  etag: string;
  headers: Record<string, string>;
  userMeta: Record<string, string>;
  checksum?: StoredChecksum;
  tags?: Record<string, string>;
  storageClass?: string;
  acl?: CannedAcl;
  uploadId?: string;
  sse?: SseInfo;
  data: DataLayout;
}

/**
 * randomBytes(n), drawn from a pool that is refilled 4 KiB at a time: every write takes a
 * few ids, and one call into the system's random source per id cost more than the rest of
 * the id generation.
 */
function pooledRandomBytes(n: number): Buffer {
  if (n > RANDOM_POOL_BYTES) return randomBytes(n);
  if (randomOffset + n > randomPool.length) {
    randomPool = randomBytes(RANDOM_POOL_BYTES);
    randomOffset = 0;
  }
  const out = Buffer.from(randomPool.subarray(randomOffset, randomOffset + n));
  randomOffset += n;
  return out;
}

const RANDOM_POOL_BYTES = 4096;
let randomPool = Buffer.alloc(0);
let randomOffset = 0;

function quotaExceeded(bucket: string, max: number, stored: number): S3Error {
  return new S3Error('XTesseraQuotaExceeded', `This write would take the bucket over its quota of ${max} bytes (${stored} bytes stored).`, { BucketName: bucket });
}

export function stripQuotes(s: string): string {
  const t = s.trim().replace(/^W\//, '');
  return t.startsWith('"') && t.endsWith('"') && t.length >= 2 ? t.slice(1, -1) : t;
}
