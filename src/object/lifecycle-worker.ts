// The lifecycle worker: a background pass over every bucket that has lifecycle rules, acting
// on them as Amazon S3 does.
//
// - A current version whose Expiration is due is deleted through the engine's ordinary
//   delete: a delete marker in a versioned (or suspended) bucket, gone in an unversioned one.
// - A noncurrent version is deleted once NoncurrentDays have passed since it became
//   noncurrent (when its successor was written), keeping the NewerNoncurrentVersions newest.
// - A delete marker left as the only version of its key is removed.
// - Multipart uploads older than AbortIncompleteMultipartUpload's days are aborted (their parts
//   go to the garbage queue like any abort).
//
// Incremental and paced: versions are read in key order a bounded batch at a time, the walk
// yields between batches and sleeps to stay under `objectsPerSecond`, so a bucket of millions
// of keys never holds up requests. Restartable: after each batch the position (bucket, phase,
// last key fully handled) is written to the metadata store, and a restarted server resumes
// there. Every action is decided from the stored state and re-checked under the key's lock
// (DeleteOptions.onlyIf), so a key handled again after a restart is never acted on twice: its
// expired version already has its delete marker, its deleted versions are gone.

import { S3Error } from '../errors.js';
import type { LifecycleRule, ObjectVersion } from '../meta/types.js';
import { currentExpiry, lifecycleClock, noncurrentDue, soleMarkerDue, uploadAbortAt, type LifecycleClock } from './lifecycle-rules.js';
import { runAsLifecycle } from './events.js';
import type { DeleteOptions, DeleteResult, ObjectStore } from './store.js';

export const LIFECYCLE_STATE = 'lifecycle';

export type LifecycleAction = 'expire_current' | 'expire_noncurrent' | 'expire_delete_marker' | 'abort_upload';
export const LIFECYCLE_ACTIONS: readonly LifecycleAction[] = ['expire_current', 'expire_noncurrent', 'expire_delete_marker', 'abort_upload'];

export interface LifecycleOptions {
  /** One lifecycle day in seconds (lifecycle.day_seconds); absent: a real day, due times rounded to midnight UTC. */
  daySeconds?: number;
  /** Versions and uploads examined per second at most; 0: no pacing. */
  objectsPerSecond?: number;
  /** Versions read per batch (and cursor save). */
  batchSize?: number;
  /** Pause between passes (default: one lifecycle day, at most one hour). */
  intervalMs?: number;
  /** Wait before the first pass (default: the interval, at most 10 s). */
  startDelayMs?: number;
  log?: (msg: string) => void;
}

/** What the worker did (metrics read it at scrape time). Totals count since the process started. */
export interface LifecycleStats {
  running: boolean;
  passes: number;
  examined: number;
  actions: Record<LifecycleAction, number>;
  lastPassSeconds?: number;
  lastPassExamined?: number;
  lastPassEnd?: number;
}

/** The persisted position of an unfinished pass. */
interface Cursor {
  bucket: string;
  phase: 'versions' | 'uploads';
  /** Every version of this key and of the keys before it was handled. */
  afterKey?: string;
  afterUpload?: { key: string; uploadId: string };
}

/** Per-key state while the walk goes through one key's versions (newest first). */
interface KeyWalk {
  key: string;
  /** The newest version, when it is a delete marker (removed at the key's end if it is left alone). */
  marker?: ObjectVersion;
  /** Versions of the key still stored after what this walk did. */
  remaining: number;
  /** Versions seen so far. */
  seen: number;
  /** When the version seen last was written: the next (older) one became noncurrent then. */
  successorTime: number;
  /** Noncurrent versions newer than the next one, still stored. */
  newerNoncurrent: number;
}

const DEFAULT_BATCH = 1000;
const HOUR_MS = 3_600_000;

export class LifecycleWorker {
  readonly stats: LifecycleStats = {
    running: false,
    passes: 0,
    examined: 0,
    actions: { expire_current: 0, expire_noncurrent: 0, expire_delete_marker: 0, abort_upload: 0 },
  };
  readonly clock: LifecycleClock;
  private readonly batch: number;
  private readonly rate: number;
  private readonly log: (msg: string) => void;
  private stopped = false;
  private loop: Promise<void> | undefined;
  /** Ends every pause under way (the loop's and a pass's may overlap when runPass is called directly). */
  private readonly wakers = new Set<() => void>();
  /** Test hook: stop after this many more actions (a restart test's "crash" point). */
  private actionsLeft = Infinity;
  private pass: Promise<boolean> | undefined;

  constructor(private readonly store: ObjectStore, private readonly o: LifecycleOptions = {}) {
    this.clock = lifecycleClock(o.daySeconds);
    this.batch = Math.max(1, o.batchSize ?? DEFAULT_BATCH);
    this.rate = o.objectsPerSecond ?? 0;
    this.log = o.log ?? (() => undefined);
  }

  /** Pause between passes: one lifecycle day, at most an hour, so a pass runs at least once a day. */
  get intervalMs(): number {
    return this.o.intervalMs ?? Math.min(this.clock.dayMs, HOUR_MS);
  }

  start(): void {
    if (this.loop) return;
    const first = this.o.startDelayMs ?? Math.min(this.intervalMs, 10_000);
    this.loop = (async () => {
      await this.sleep(first);
      while (!this.stopped) {
        await this.runPass().catch((e: Error) => this.log(`lifecycle pass failed: ${e.message}`));
        await this.sleep(this.intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const wake of [...this.wakers]) wake();
    await this.loop;
    await this.pass?.catch(() => undefined);
  }

  /** Test hook: the worker stops itself (as a shutdown would) after `n` more actions. */
  stopAfterActions(n: number): void {
    this.actionsLeft = n;
  }

  /**
   * A pause that stop() ends early. Between passes it does not keep the process alive; the short
   * pauses that pace a pass do (`hold`), so a caller awaiting runPass() gets its answer.
   */
  private sleep(ms: number, hold = false): Promise<void> {
    if (this.stopped || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      if (!hold) timer.unref();
      this.wakers.add(wake);
    });
  }

  /** One pass (resuming a persisted one); true when it ran to its end. Passes never overlap. */
  runPass(): Promise<boolean> {
    if (this.pass) return this.pass;
    this.pass = this.walkAll().finally(() => {
      this.pass = undefined;
      this.stats.running = false;
    });
    return this.pass;
  }

  private async walkAll(): Promise<boolean> {
    const started = Date.now();
    const examinedBefore = this.stats.examined;
    this.stats.running = true;
    let cursor = (await this.store.meta.getWorkerState(LIFECYCLE_STATE)) as Cursor | undefined;
    const buckets = (await this.store.listBuckets()).filter((b) => (b.lifecycle?.length ?? 0) > 0).map((b) => b.name);
    for (const bucket of buckets) {
      if (cursor && bucket < cursor.bucket) continue;
      const resume = cursor?.bucket === bucket ? cursor : undefined;
      cursor = undefined;
      if (resume?.phase !== 'uploads' && !(await this.walkVersions(bucket, resume?.afterKey))) return false;
      if (!(await this.walkUploads(bucket, resume?.afterUpload))) return false;
    }
    if (this.stopped) return false;
    await this.store.meta.batch([{ type: 'putWorkerState', name: LIFECYCLE_STATE, state: null }]);
    this.stats.passes++;
    this.stats.lastPassEnd = Date.now();
    this.stats.lastPassSeconds = (this.stats.lastPassEnd - started) / 1000;
    this.stats.lastPassExamined = this.stats.examined - examinedBefore;
    return true;
  }

  private save(c: Cursor): Promise<void> {
    return this.store.meta.batch([{ type: 'putWorkerState', name: LIFECYCLE_STATE, state: c }]);
  }

  /** The bucket's rules now (they may change during a pass); undefined: bucket or rules gone. */
  private async rulesOf(bucket: string): Promise<LifecycleRule[] | undefined> {
    try {
      const rules = (await this.store.getBucket(bucket)).lifecycle;
      return rules && rules.length > 0 ? rules : undefined;
    } catch (e) {
      if (e instanceof S3Error && e.code === 'NoSuchBucket') return undefined;
      throw e;
    }
  }

  /** Sleeps so the walk stays under the rate, and yields to requests in any case. */
  private async pace(n: number, batchStart: number): Promise<void> {
    this.stats.examined += n;
    if (this.rate > 0) {
      const owed = (n / this.rate) * 1000 - (Date.now() - batchStart);
      if (owed > 0) return this.sleep(owed, true);
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** A delete through the engine's ordinary path, reported to event notifications as LifecycleExpiration:*. */
  private expire(bucket: string, key: string, o: DeleteOptions): Promise<DeleteResult> {
    return runAsLifecycle(() => this.store.deleteObject(bucket, key, o));
  }

  private counted(action: LifecycleAction): void {
    this.stats.actions[action]++;
    if (--this.actionsLeft <= 0) this.stopped = true;
  }

  private async walkVersions(bucket: string, afterKey: string | undefined): Promise<boolean> {
    let pos: { key: string; sortKey?: string } | undefined = afterKey !== undefined ? { key: afterKey } : undefined;
    let done = afterKey;
    let saved = afterKey;
    let k: KeyWalk | undefined;
    for (;;) {
      if (this.stopped) break;
      const rules = await this.rulesOf(bucket);
      if (!rules) return true;
      const batchStart = Date.now();
      const page = await this.store.meta.scanVersions(bucket, pos, this.batch);
      for (const v of page) {
        if (this.stopped) break;
        if (k && k.key !== v.key) {
          await this.finishKey(bucket, k, rules);
          done = k.key;
          k = undefined;
          if (this.stopped) break;
        }
        k ??= { key: v.key, remaining: 0, seen: 0, successorTime: 0, newerNoncurrent: 0 };
        await this.examine(bucket, k, v, rules);
      }
      if (this.stopped) break;
      await this.pace(page.length, batchStart);
      if (page.length < this.batch) {
        if (k) await this.finishKey(bucket, k, rules);
        return true;
      }
      const last = page[page.length - 1]!;
      pos = { key: last.key, sortKey: last.sortKey };
      if (done !== saved) {
        await this.save({ bucket, phase: 'versions', ...(done !== undefined ? { afterKey: done } : {}) });
        saved = done;
      }
    }
    // Stopped mid-walk: keep what is finished, so the restart redoes as little as possible.
    if (done !== saved) await this.save({ bucket, phase: 'versions', ...(done !== undefined ? { afterKey: done } : {}) });
    return false;
  }

  /** Decides (and does) what the rules say for one version, the key's newer ones already seen. */
  private async examine(bucket: string, k: KeyWalk, v: ObjectVersion, rules: LifecycleRule[]): Promise<void> {
    const now = this.store.now();
    k.seen++;
    k.remaining++;
    const successorTime = k.successorTime;
    k.successorTime = v.lastModified;
    if (k.seen === 1) {
      if (v.isDeleteMarker) {
        k.marker = v;
        return;
      }
      const due = rules.some((r) => {
        const at = currentExpiry(this.clock, r, v);
        return at !== undefined && now >= at;
      });
      if (!due) return;
      const res = await this.expire(bucket, v.key, {
        cause: 'lifecycle',
        onlyIf: (n) => n[0]?.sortKey === v.sortKey && !n[0].isDeleteMarker,
      });
      if (res.skipped) return;
      this.counted('expire_current');
      if (!res.deleteMarker) {
        k.remaining--; // unversioned: gone
        return;
      }
      // Versioned: a delete marker now stands before it. In a suspended bucket the null
      // marker replaced a null version; any other version became noncurrent just now.
      k.marker = undefined;
      k.remaining++;
      k.successorTime = now;
      if (res.versionId === 'null' && v.versionId === 'null') k.remaining--;
      else k.newerNoncurrent = 1;
      return;
    }
    // Its successor's write time, unless that successor is gone and the version kept the time.
    const since = v.noncurrentSince ?? successorTime;
    const due = rules.some((r) => noncurrentDue(this.clock, r, v, since, k.newerNoncurrent, now));
    if (!due) {
      k.newerNoncurrent++;
      return;
    }
    const res = await this.expire(bucket, v.key, {
      versionId: v.versionId,
      cause: 'lifecycle',
      // Only while it is still noncurrent (not made current again by a delete of the newest).
      onlyIf: (n) => n.length > 0 && n[0]!.sortKey !== v.sortKey,
    });
    if (res.skipped) {
      k.newerNoncurrent++;
      return;
    }
    this.counted('expire_noncurrent');
    k.remaining--;
  }

  /** At the end of a key: a delete marker left as its only version is removed. */
  private async finishKey(bucket: string, k: KeyWalk, rules: LifecycleRule[]): Promise<void> {
    const m = k.marker;
    if (!m || k.remaining !== 1 || this.stopped) return;
    const now = this.store.now();
    if (!rules.some((r) => soleMarkerDue(this.clock, r, m, now))) return;
    const res = await this.expire(bucket, m.key, {
      versionId: m.versionId,
      cause: 'lifecycle',
      onlyIf: (n) => n.length === 1 && n[0]!.sortKey === m.sortKey,
    });
    if (!res.skipped) this.counted('expire_delete_marker');
  }

  private async walkUploads(bucket: string, after: Cursor['afterUpload']): Promise<boolean> {
    let marker = after;
    for (;;) {
      if (this.stopped) break;
      const rules = await this.rulesOf(bucket);
      if (!rules || !rules.some((r) => r.abortIncompleteDays !== undefined)) return true;
      const batchStart = Date.now();
      const page = await this.store.meta.listUploads(bucket, { maxUploads: this.batch, ...(marker ? { keyMarker: marker.key, uploadIdMarker: marker.uploadId } : {}) });
      const now = this.store.now();
      for (const u of page.uploads) {
        if (this.stopped) break;
        const due = rules.some((r) => {
          const at = uploadAbortAt(this.clock, r, u);
          return at !== undefined && now >= at;
        });
        if (due) {
          try {
            await this.store.multipart.abort(bucket, u.key, u.uploadId);
            this.counted('abort_upload');
          } catch (e) {
            if (!(e instanceof S3Error && (e.code === 'NoSuchUpload' || e.code === 'NoSuchBucket'))) throw e;
          }
        }
        marker = { key: u.key, uploadId: u.uploadId };
      }
      if (this.stopped) break;
      await this.pace(page.uploads.length, batchStart);
      if (!page.isTruncated) return true;
      await this.save({ bucket, phase: 'uploads', ...(marker ? { afterUpload: marker } : {}) });
    }
    await this.save({ bucket, phase: 'uploads', ...(marker ? { afterUpload: marker } : {}) });
    return false;
  }
}
