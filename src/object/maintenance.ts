// Heal and scan as server-side jobs, for `tessera admin heal|scan` (src/http/admin-api.ts).
//
// One job runs at a time (heal or scan, started by an admin or by the disk monitor after a
// disk was replaced); starting another while one runs is refused with the running job's
// status, so a CLI can reattach to it instead. The CLI only polls status(): the job lives in
// the server, so the CLI may detach and come back. The last finished job of each kind is kept.
//
// Both walk every version of the scope (not delete markers) in key order and count objects
// and bytes exactly as the per-bucket usage records do, so the totals known up front (from
// those records, no scan) and the final counts agree when nothing was written meanwhile.
// Reads are paced to a byte rate and every buffer is leased from the memory budget, so a job
// never starves requests of memory or disk time.

import type { ObjectVersion, ShardLayout } from '../meta/types.js';
import { verifyLeaseBytes, verifyShards, type ShardProblemKind } from '../erasure/verify.js';
import { layoutsOf } from './garbage.js';
import { healVersion } from './healing.js';
import type { ObjectStore } from './store.js';

export type JobKind = 'heal' | 'scan';

export interface JobScope {
  bucket?: string;
  prefix?: string;
  /** Heal only: find and report, rewrite nothing. */
  dryRun?: boolean;
  /** Read rate; 0 for as fast as the disks go. */
  bytesPerSecond?: number;
}

export interface Damage {
  bucket: string;
  key: string;
  versionId: string;
  /** Part number for a multipart object's part (1-based). */
  part?: number;
  shard: number;
  /** 1-based, as `tessera admin info` numbers disks. */
  disk: number;
  diskPath: string;
  problem: ShardProblemKind;
  block?: number;
  detail: string;
}

export interface JobStatus {
  id: string;
  kind: JobKind;
  state: 'running' | 'done' | 'failed' | 'stopped';
  /** Started by the server itself (a replaced or returning disk), not by an admin. */
  auto: boolean;
  bucket: string | null;
  prefix: string | null;
  dryRun: boolean;
  bytesPerSecond: number;
  startedAt: string;
  finishedAt: string | null;
  elapsedSeconds: number;
  /** From the usage records when the job started; null when not known (prefix, old bucket). */
  total: { objects: number; bytes: number } | null;
  objectsChecked: number;
  bytesChecked: number;
  /** Scan: objects with damage. Heal: objects with at least one shard rewritten (or, dry run, to rewrite). */
  objectsDamaged: number;
  objectsHealed: number;
  shardsRebuilt: number;
  /** Bytes read from the disks (all shards, parity included). */
  bytesRead: number;
  /** Objects that could not be checked or healed (too few shards left, I/O errors). */
  errors: number;
  /** Object bytes checked per second so far. */
  rate: number;
  /** Seconds left at the current rate; null when the total is unknown. */
  etaSeconds: number | null;
  /** What was found (at most MAX_DAMAGE entries; damageCount counts all). */
  damage: Damage[];
  damageCount: number;
  /** Disks offline during the job: shards on them could be neither checked nor healed. */
  offlineDisks: number[];
  error: string | null;
}

const MAX_DAMAGE = 1000;
const MAX_ERRORS_KEPT = 20;
/**
 * Pacing of a heal the admin gave no rate for, and of the heal the server starts for a blank
 * disk: at least this, or the scanner rate if that is higher. A heal restores redundancy that is
 * missing now, so it must not crawl at the background scanner's pace (8 MiB/s would take days
 * over a replaced 1 TB disk). Also a scan's pacing when the scanner is off.
 */
export const DEFAULT_JOB_BYTES_PER_SECOND = 64 * 1024 * 1024;

export class JobRunningError extends Error {
  constructor(readonly job: JobStatus) {
    super(`a ${job.kind} job is already running (${job.id}, started ${job.startedAt})`);
  }
}

class Job {
  readonly status: JobStatus;
  stopRequested = false;
  readonly errorsSeen: string[] = [];
  /** Disks a shard was rewritten onto: 'healing' in `admin info` while this runs. */
  readonly healedDisks = new Set<number>();
  done: Promise<void> = Promise.resolve();
  /** Ends the pacing pause early (stop). */
  wake: (() => void) | undefined;

  constructor(kind: JobKind, scope: JobScope, auto: boolean, bytesPerSecond: number, readonly started: number) {
    this.status = {
      id: `${kind}-${new Date(started).toISOString().replace(/[-:.]/g, '').replace('T', '-').slice(0, 15)}-${Math.floor(Math.random() * 0xffff).toString(16).padStart(4, '0')}`,
      kind,
      state: 'running',
      auto,
      bucket: scope.bucket ?? null,
      prefix: scope.prefix ?? null,
      dryRun: kind === 'heal' && scope.dryRun === true,
      bytesPerSecond,
      startedAt: new Date(started).toISOString(),
      finishedAt: null,
      elapsedSeconds: 0,
      total: null,
      objectsChecked: 0,
      bytesChecked: 0,
      objectsDamaged: 0,
      objectsHealed: 0,
      shardsRebuilt: 0,
      bytesRead: 0,
      errors: 0,
      rate: 0,
      etaSeconds: null,
      damage: [],
      damageCount: 0,
      offlineDisks: [],
      error: null,
    };
  }
}

export interface MaintenanceOptions {
  /** Default read rate of a scan (the configured scanner rate; 0: DEFAULT_JOB_BYTES_PER_SECOND); heals take at least that. */
  bytesPerSecond: number;
  log?: (msg: string) => void;
  /** Disks that were blank or away and still need a whole heal (shared with metrics and health). */
  needsHeal?: Set<number>;
}

export class MaintenanceJobs {
  private current: Job | undefined;
  private readonly last = new Map<JobKind, Job>();
  /** Disks that were blank or away and still need a whole heal. */
  private readonly needsHeal: Set<number>;
  private stopped = false;

  constructor(private readonly store: ObjectStore, private readonly o: MaintenanceOptions) {
    this.needsHeal = o.needsHeal ?? new Set();
  }

  /** A replaced or returning disk: 'healing' until a heal of everything finishes cleanly. */
  markNeedsHeal(disk: number): void {
    this.needsHeal.add(disk);
  }

  /** Per disk: true while it is being healed (or waits for a heal that did not finish). */
  healingDisks(): Set<number> {
    const s = new Set(this.needsHeal);
    const j = this.current;
    if (j && j.status.kind === 'heal' && !j.status.dryRun) for (const d of j.healedDisks) s.add(d);
    return s;
  }

  /** The running job, else the last finished one of `kind` (or of any kind). */
  status(kind?: JobKind): JobStatus | undefined {
    const j = this.current && (!kind || this.current.status.kind === kind) ? this.current : kind ? this.last.get(kind) : this.latest();
    return j && this.snapshot(j);
  }

  running(): JobStatus | undefined {
    return this.current && this.snapshot(this.current);
  }

  private latest(): Job | undefined {
    return [...this.last.values()].sort((a, b) => b.started - a.started)[0];
  }

  /** Starts a job; JobRunningError when one runs. Resolves once its totals are known. */
  async start(kind: JobKind, scope: JobScope = {}, auto = false): Promise<JobStatus> {
    if (this.stopped) throw new Error('the server is shutting down');
    if (this.current) throw new JobRunningError(this.snapshot(this.current));
    const configured = this.o.bytesPerSecond > 0 ? this.o.bytesPerSecond : DEFAULT_JOB_BYTES_PER_SECOND;
    const rate = scope.bytesPerSecond ?? (kind === 'heal' ? Math.max(configured, DEFAULT_JOB_BYTES_PER_SECOND) : configured);
    const job = new Job(kind, scope, auto, rate, Date.now());
    this.current = job;
    try {
      job.status.total = await this.totals(scope);
    } catch (e) {
      this.current = undefined;
      throw e;
    }
    job.done = this.run(job, scope).finally(() => {
      job.status.finishedAt = new Date().toISOString();
      this.snapshot(job);
      this.last.set(kind, job);
      if (this.current === job) this.current = undefined;
      const s = job.status;
      this.o.log?.(`${kind} ${s.id} ${s.state}: ${s.objectsChecked} object(s), ${s.bytesChecked} bytes checked; ${kind === 'heal' ? `${s.objectsHealed} healed, ${s.shardsRebuilt} shard(s) rewritten` : `${s.damageCount} damaged shard(s) in ${s.objectsDamaged} object(s)`}, ${s.errors} error(s)`);
    });
    return this.snapshot(job);
  }

  /** Starts a heal of everything, or returns the heal already running (the disk monitor's way in). */
  async healAll(): Promise<JobStatus | undefined> {
    if (this.stopped) return undefined;
    const cur = this.current;
    if (cur && cur.status.kind === 'heal' && !cur.status.bucket && !cur.status.prefix && !cur.status.dryRun) return this.snapshot(cur);
    // Another job runs: heal once it ends (the monitor calls again on the next change anyway).
    if (cur) await cur.done;
    if (this.current) return this.healAll();
    return this.start('heal', {}, true);
  }

  /** Resolves when the running job (if any) has ended. */
  async idle(): Promise<void> {
    while (this.current) await this.current.done;
  }

  /** Asks the running job to stop after the object it is on. */
  stopCurrent(): JobStatus | undefined {
    if (!this.current) return undefined;
    this.current.stopRequested = true;
    this.current.wake?.();
    return this.snapshot(this.current);
  }

  /** Server shutdown: stop the job and wait for it. */
  async close(): Promise<void> {
    this.stopped = true;
    this.stopCurrent();
    await this.idle();
  }

  private async totals(scope: JobScope): Promise<JobStatus['total']> {
    if (scope.prefix) return null;
    const buckets = scope.bucket ? [scope.bucket] : (await this.store.meta.listBuckets()).map((b) => b.name);
    let objects = 0;
    let bytes = 0;
    for (const b of buckets) {
      const u = await this.store.meta.getUsage(b);
      if (!u) return null;
      objects += u.versions;
      bytes += u.bytes;
    }
    return { objects, bytes };
  }

  private snapshot(job: Job): JobStatus {
    const s = job.status;
    const end = s.finishedAt ? Date.parse(s.finishedAt) : Date.now();
    const seconds = Math.max(0.001, (end - job.started) / 1000);
    s.elapsedSeconds = Math.round(seconds * 10) / 10;
    s.rate = Math.round(s.bytesChecked / seconds);
    if (s.state !== 'running') s.etaSeconds = 0;
    else if (!s.total) s.etaSeconds = null;
    else {
      const left = Math.max(0, s.total.bytes - s.bytesChecked);
      // Early on (or for objects of 0 bytes) the byte rate says little: fall back on objects.
      const objectRate = s.objectsChecked / seconds;
      s.etaSeconds = s.rate > 0 ? Math.ceil(left / s.rate) : objectRate > 0 ? Math.ceil(Math.max(0, s.total.objects - s.objectsChecked) / objectRate) : null;
    }
    s.offlineDisks = this.store.disks.filter((d) => !d.online).map((d) => d.index + 1);
    return { ...s, damage: [...s.damage], total: s.total && { ...s.total } };
  }

  private async run(job: Job, scope: JobScope): Promise<void> {
    const s = job.status;
    try {
      for await (const v of this.versions(scope, () => job.stopRequested || this.stopped)) {
        try {
          const read = s.kind === 'scan' || s.dryRun ? await this.check(job, v) : await this.heal(job, v);
          s.bytesRead += read;
        } catch (e) {
          s.errors++;
          if (job.errorsSeen.length < MAX_ERRORS_KEPT) job.errorsSeen.push(`${v.bucket}/${v.key}: ${(e as Error).message}`);
        }
        s.objectsChecked++;
        s.bytesChecked += v.size;
        await this.pace(job);
      }
      s.state = job.stopRequested || this.stopped ? 'stopped' : 'done';
      // Objects it could not heal (errors) are lost for good or wait for a disk that is away:
      // the disks it healed onto are as healed as they can be.
      if (s.kind === 'heal' && !s.dryRun && s.state === 'done' && !s.bucket && !s.prefix) {
        for (const d of this.store.disks) if (d.online) this.needsHeal.delete(d.index);
      }
      if (s.errors > 0 && job.errorsSeen.length) s.error = job.errorsSeen.join('; ');
    } catch (e) {
      s.state = 'failed';
      s.error = (e as Error).message;
    }
  }

  /** Scan (or heal dry run): verify every shard, record damage, change nothing. */
  private async check(job: Job, v: ObjectVersion): Promise<number> {
    const s = job.status;
    let read = 0;
    let damaged = false;
    const layouts = layoutsOf(v.data);
    for (let p = 0; p < layouts.length; p++) {
      const l = layouts[p]!;
      if (l.kind !== 'shards') continue;
      const r = await this.verify(l);
      read += r.bytesRead;
      for (const d of r.problems) {
        // An offline disk is reported once, in offlineDisks, not for every shard it holds.
        if (d.problem === 'offline') continue;
        damaged = true;
        s.damageCount++;
        if (s.damage.length < MAX_DAMAGE) {
          const disk = this.store.disks[d.disk]!;
          s.damage.push({
            bucket: v.bucket, key: v.key, versionId: v.versionId,
            ...(v.data?.kind === 'parts' ? { part: p + 1 } : {}),
            shard: d.shard, disk: d.disk + 1, diskPath: disk.root,
            problem: d.problem, ...(d.block !== undefined ? { block: d.block } : {}), detail: d.detail,
          });
        }
      }
    }
    if (damaged) s.objectsDamaged++;
    return read;
  }

  private async verify(l: ShardLayout): Promise<ReturnType<typeof verifyShards>> {
    const lease = await this.store.memory.acquire(verifyLeaseBytes(l));
    try {
      return await verifyShards(this.store.disks, l);
    } finally {
      lease.release();
    }
  }

  /**
   * Verifies first (the heal's own check looks at blocks only: a shard of the wrong size or with
   * a damaged trailer would pass it), then heals what the verify found.
   */
  private async heal(job: Job, v: ObjectVersion): Promise<number> {
    const s = job.status;
    let read = 0;
    const force = new Map<string, number[]>();
    for (const l of layoutsOf(v.data)) {
      if (l.kind !== 'shards') continue;
      const r = await this.verify(l);
      read += r.bytesRead;
      const bad = r.problems.filter((p) => p.problem !== 'offline').map((p) => p.shard);
      if (bad.length) force.set(l.dataId, bad);
    }
    if (force.size === 0) return read;
    const r = await healVersion(this.store, v, force);
    if (r.rebuilt > 0) {
      s.objectsHealed++;
      s.objectsDamaged++;
      s.shardsRebuilt += r.rebuilt;
      for (const d of r.disks) job.healedDisks.add(d);
    }
    return read + r.bytes;
  }

  /** Sleeps so that reads stay at or below the job's rate on average. */
  private async pace(job: Job): Promise<void> {
    const rate = job.status.bytesPerSecond;
    const due = rate > 0 ? job.started + (job.status.bytesRead / rate) * 1000 : 0;
    const wait = Math.min(due - Date.now(), 5000);
    // Not unref'd (the job is work in progress), but cut short by a stop.
    if (wait > 0) {
      await new Promise<void>((r) => {
        const t = setTimeout(() => {
          job.wake = undefined;
          r();
        }, wait);
        job.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
    // Give requests a turn between objects even when unpaced.
    else await new Promise((r) => setImmediate(r));
  }

  /** Every version (not delete markers) in scope, bucket by bucket in key order. */
  private async *versions(scope: JobScope, stop: () => boolean): AsyncGenerator<ObjectVersion> {
    const buckets = scope.bucket ? [scope.bucket] : (await this.store.meta.listBuckets()).map((b) => b.name);
    for (const bucket of buckets) {
      let keyMarker: string | undefined;
      let versionIdMarker: string | undefined;
      for (;;) {
        if (stop()) return;
        const page = await this.store.meta.listVersions(bucket, { prefix: scope.prefix, keyMarker, versionIdMarker, maxKeys: 1000 });
        for (const v of page.versions) {
          if (stop()) return;
          if (!v.isDeleteMarker) yield v;
        }
        if (!page.isTruncated) break;
        keyMarker = page.nextKeyMarker;
        versionIdMarker = page.nextVersionIdMarker;
      }
    }
  }
}
