// Turns MetaOps into raw LevelDB puts and deletes.
//
// Some ops must read before they write: putVersion and delVersion look up the version id
// index to find (and remove) the record a version id currently points at, and upload ops
// look up the upload to maintain the age index. Those reads see the database plus every
// write built so far for the same LevelDB batch (the "overlay"), so a group of merged
// callers behaves exactly as if each caller's batch had been applied in turn. Reads are
// synchronous (point reads of a few small records), so building a group never yields.

import type { BucketUsage, MetaOp, MultipartUpload, ObjectVersion } from './types.js';
import {
  bucketKey, currentKey, eventKey, garbageKey, iamKey, inlineKey, partKey, uploadAgeKey, uploadKey,
  usageKey, versionIdKey, versionKey, workerStateKey,
} from './keys.js';
import { encodeCurrent } from './records.js';

export type RawOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };
export type Reader = (key: Buffer) => Buffer | undefined;

/** Writes pending for one LevelDB batch, by key (latin1 keeps bytes 1:1); null = deleted. */
type Overlay = Map<string, Buffer | null>;

export class BatchBuilder {
  readonly ops: RawOp[] = [];
  private readonly overlay: Overlay = new Map();

  constructor(private readonly read: Reader) {}

  /** Adds one caller's ops, all or nothing: if any op is invalid, none of them is kept. */
  add(ops: MetaOp[]): void {
    const txn = new Txn(this.read, this.overlay);
    for (const op of ops) translate(op, txn);
    for (const op of txn.ops) this.ops.push(op);
    for (const [k, v] of txn.writes) this.overlay.set(k, v);
  }
}

class Txn {
  readonly ops: RawOp[] = [];
  readonly writes: Overlay = new Map();

  constructor(private readonly read: Reader, private readonly base: Overlay) {}

  get(key: Buffer): Buffer | undefined {
    const id = key.toString('latin1');
    const pending = this.writes.has(id) ? this.writes.get(id) : this.base.get(id);
    if (pending !== undefined) return pending ?? undefined;
    return this.read(key);
  }

  put(key: Buffer, value: Buffer): void {
    this.ops.push({ type: 'put', key, value });
    this.writes.set(key.toString('latin1'), value);
  }

  del(key: Buffer): void {
    this.ops.push({ type: 'del', key });
    this.writes.set(key.toString('latin1'), null);
  }
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8');

function translate(op: MetaOp, t: Txn): void {
  switch (op.type) {
    case 'putBucket':
      // A new bucket starts its usage record at zero; one made before usage was kept has none.
      if (t.get(bucketKey(op.bucket.name)) === undefined) t.put(usageKey(op.bucket.name), json({ bytes: 0, versions: 0 }));
      t.put(bucketKey(op.bucket.name), json(op.bucket));
      return;
    case 'delBucket':
      t.del(bucketKey(op.name));
      t.del(usageKey(op.name));
      return;
    case 'putVersion': {
      const v = op.version;
      const idKey = versionIdKey(v.bucket, v.key, v.versionId);
      const recordKey = versionKey(v.bucket, v.key, v.sortKey);
      // Re-putting a version id (the 'null' version above all) replaces its old record.
      const old = t.get(idKey)?.toString('utf8');
      if (old !== undefined) countUsage(t, v.bucket, readVersion(t, versionKey(v.bucket, v.key, old)), -1);
      if (old !== undefined && old !== v.sortKey) t.del(versionKey(v.bucket, v.key, old));
      countUsage(t, v.bucket, v, +1);
      t.put(recordKey, json(v));
      t.put(idKey, Buffer.from(v.sortKey, 'utf8'));
      return;
    }
    case 'delVersion': {
      const idKey = versionIdKey(op.bucket, op.key, op.versionId);
      const sortKey = t.get(idKey)?.toString('utf8');
      if (sortKey === undefined) return; // already gone: deleting is idempotent
      countUsage(t, op.bucket, readVersion(t, versionKey(op.bucket, op.key, sortKey)), -1);
      t.del(versionKey(op.bucket, op.key, sortKey));
      t.del(idKey);
      return;
    }
    case 'setCurrent': {
      const k = currentKey(op.bucket, op.key);
      if (op.version === null) return t.del(k);
      if (op.version.bucket !== op.bucket || op.version.key !== op.key) {
        throw new Error(`meta: setCurrent for ${op.bucket}/${op.key} got a version of ${op.version.bucket}/${op.version.key}`);
      }
      t.put(k, encodeCurrent(op.version));
      return;
    }
    case 'putInline':
      if (!(op.data instanceof Uint8Array)) throw new Error('meta: putInline data must be a Buffer');
      t.put(inlineKey(op.dataId), Buffer.from(op.data)); // a copy: the caller may reuse its buffer
      return;
    case 'delInline':
      t.del(inlineKey(op.dataId));
      return;
    case 'putUpload': {
      const u = op.upload;
      const k = uploadKey(u.bucket, u.key, u.uploadId);
      const ageKey = uploadAgeKey(u.initiated, u.uploadId);
      const old = readUpload(t, k);
      if (old && old.initiated !== u.initiated) t.del(uploadAgeKey(old.initiated, u.uploadId));
      t.put(k, json(u));
      t.put(ageKey, k);
      return;
    }
    case 'delUpload': {
      const k = uploadKey(op.bucket, op.key, op.uploadId);
      const old = readUpload(t, k);
      if (!old) return;
      t.del(uploadAgeKey(old.initiated, op.uploadId));
      t.del(k);
      return;
    }
    case 'putPart':
      t.put(partKey(op.part.uploadId, op.part.partNumber), json(op.part));
      return;
    case 'delPart':
      t.del(partKey(op.uploadId, op.partNumber));
      return;
    case 'putGarbage':
      t.put(garbageKey(op.entry.id), json(op.entry));
      return;
    case 'delGarbage':
      t.del(garbageKey(op.id));
      return;
    case 'putIam':
      t.put(iamKey(op.kind, op.name), json(op.record));
      return;
    case 'delIam':
      t.del(iamKey(op.kind, op.name));
      return;
    case 'putWorkerState':
      if (op.state === null) t.del(workerStateKey(op.name));
      else t.put(workerStateKey(op.name), json(op.state));
      return;
    case 'putEvent':
      t.put(eventKey(op.target, op.seq), json(op.record));
      return;
    case 'delEvent':
      t.del(eventKey(op.target, op.seq));
      return;
    default: {
      const never: never = op;
      throw new Error(`meta: unknown op ${JSON.stringify(never)}`);
    }
  }
}

function readVersion(t: Txn, k: Buffer): ObjectVersion | undefined {
  const raw = t.get(k);
  return raw && (JSON.parse(raw.toString('utf8')) as ObjectVersion);
}

/**
 * Adds (+1) or removes (-1) a version's bytes to its bucket's usage record, read through the
 * overlay like every other read here: concurrent commits in one group add up exactly, and the
 * journal holds the resulting value, so a replay gives the same one.
 */
function countUsage(t: Txn, bucket: string, v: ObjectVersion | undefined, sign: 1 | -1): void {
  if (!v || v.isDeleteMarker) return;
  const k = usageKey(bucket);
  const raw = t.get(k);
  if (!raw) return;
  const u = JSON.parse(raw.toString('utf8')) as BucketUsage;
  t.put(k, json({ bytes: Math.max(0, u.bytes + sign * v.size), versions: Math.max(0, u.versions + sign) }));
}

function readUpload(t: Txn, k: Buffer): MultipartUpload | undefined {
  const raw = t.get(k);
  return raw && (JSON.parse(raw.toString('utf8')) as MultipartUpload);
}
