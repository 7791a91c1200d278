// The free-space reserve. Every filesystem that holds a disk (or the metadata directory)
// keeps `reserve` bytes free: a write whose data would go below it is refused before any of
// it is written, so deletes, journal records, checkpoints and healing always find room, and
// the disk never reaches the point where a write fails half-way.
//
// Free space comes from statfs, read again at most every `cacheMs` (a statfs per request would
// cost a trip through the thread pool each). What that reading cannot know yet is tracked
// here: bytes claimed by writes in flight, and bytes of writes that finished since the reading
// was taken. Claims are checked and added in one synchronous step, so concurrent writes cannot
// all pass the check against the same free space.
//
// Locations are grouped by device (st_dev): four disk directories on one filesystem share its
// free space, and an object that puts a shard on each needs four shards' worth of it.

import { promises as fsp } from 'node:fs';
import { S3Error } from '../errors.js';

/** A share of each filesystem's size, or a fixed number of bytes (config `disk_reserve`). */
export type DiskReserve = { percent: number } | { bytes: number };

/** Status 507 (Insufficient Storage); S3 itself has no error for a full store. */
export const STORAGE_FULL = 'XTesseraStorageFull';

export function storageFullError(): S3Error {
  return new S3Error(STORAGE_FULL, 'The server does not have enough free disk space to store this data. Delete objects or add capacity, then try again.');
}

/** True for the errors a write gets from a filesystem (or a quota) that is full. */
export function isNoSpace(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Bytes to keep free on a filesystem of `totalBytes`. */
export function reserveBytes(reserve: DiskReserve, totalBytes: number): number {
  if ('percent' in reserve) return Math.ceil((totalBytes * reserve.percent) / 100);
  return reserve.bytes;
}

/**
 * Whether `needBytes` more fit on a filesystem that reported `freeBytes` of `totalBytes`, with
 * `pendingBytes` already promised to other writes, without going below the reserve.
 */
export function fitsAboveReserve(reserve: DiskReserve, totalBytes: number, freeBytes: number, pendingBytes: number, needBytes: number): boolean {
  return freeBytes - pendingBytes - needBytes >= reserveBytes(reserve, totalBytes);
}

export interface FsReading {
  /** Identifies the filesystem (st_dev of the directory). */
  dev: number;
  totalBytes: number;
  freeBytes: number;
}

/** stat + statfs of a directory; a test may give another source. */
export type SpaceSource = (dir: string) => Promise<FsReading>;

export const readFs: SpaceSource = async (dir) => {
  const [st, fs] = await Promise.all([fsp.stat(dir), fsp.statfs(dir)]);
  // bavail, not bfree: blocks kept for root are not ours to plan with.
  return { dev: st.dev, totalBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize };
};

interface FsState {
  totalBytes: number;
  freeBytes: number;
  /** Bytes claimed by writes in flight. */
  inFlight: number;
  /** Bytes of writes that finished since the reading (they may not be in it yet). */
  landed: number;
  /** When a refusal on this filesystem was last logged. */
  loggedAt: number;
}

export interface SpaceGuardOptions {
  reserve: DiskReserve;
  /** How long a statfs reading is trusted; default 1000 ms. */
  cacheMs?: number;
  source?: SpaceSource;
  now?: () => number;
  log?: (msg: string) => void;
}

/** Free-space bookkeeping for a fixed list of locations (disk roots, then maybe the metadata dir). */
export class SpaceGuard {
  private readonly cacheMs: number;
  private readonly source: SpaceSource;
  private readonly now: () => number;
  /** The filesystem of each location, from the last reading (undefined: unreadable). */
  private devOf: (number | undefined)[];
  private readonly fs = new Map<number, FsState>();
  private readAt = -Infinity;
  private reading: Promise<void> | undefined;

  constructor(readonly locations: string[], private readonly o: SpaceGuardOptions) {
    this.cacheMs = o.cacheMs ?? 1000;
    this.source = o.source ?? readFs;
    this.now = o.now ?? Date.now;
    this.devOf = locations.map(() => undefined);
  }

  get reserve(): DiskReserve {
    return this.o.reserve;
  }

  /** Reads every location again (one reading at a time; callers share it). */
  refresh(): Promise<void> {
    this.reading ??= (async () => {
      const startedAt = this.now();
      // Bytes that landed before this reading started are in it; later ones may not be.
      const landedBefore = new Map([...this.fs].map(([dev, s]) => [dev, s.landed]));
      const readings = await Promise.all(this.locations.map((dir) => this.source(dir).catch(() => undefined)));
      this.devOf = readings.map((r) => r?.dev);
      for (const r of readings) {
        if (!r) continue;
        let s = this.fs.get(r.dev);
        if (!s) this.fs.set(r.dev, (s = { totalBytes: 0, freeBytes: 0, inFlight: 0, landed: 0, loggedAt: -Infinity }));
        s.totalBytes = r.totalBytes;
        s.freeBytes = r.freeBytes;
      }
      for (const [dev, before] of landedBefore) {
        const s = this.fs.get(dev);
        if (s) s.landed = Math.max(0, s.landed - before);
      }
      this.readAt = startedAt;
    })().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async fresh(maxAgeMs: number): Promise<void> {
    if (this.now() - this.readAt >= maxAgeMs) await this.refresh();
  }

  /**
   * Claims `needs[i]` bytes on location i (0 or absent: not needed). Refuses with
   * XTesseraStorageFull when any filesystem would go below its reserve. A refusal is only
   * given on a reading taken after the request arrived, so space freed a moment ago counts.
   */
  async claim(needs: number[]): Promise<SpaceClaim> {
    const c = new SpaceClaim(this);
    await this.grow(c, needs);
    return c;
  }

  /** Adds `needs` to a claim (see claim). */
  async grow(c: SpaceClaim, needs: number[]): Promise<void> {
    await this.fresh(this.cacheMs);
    if (this.tryAdd(c, needs)) return;
    const asked = this.now();
    await this.refresh();
    // That may have been a reading already under way before we asked: then one more.
    if (this.readAt < asked) await this.refresh();
    if (this.tryAdd(c, needs)) return;
    throw storageFullError();
  }

  /** Checks and adds in one step (no await), so concurrent claims see each other. */
  private tryAdd(c: SpaceClaim, needs: number[]): boolean {
    const byDev = new Map<number, number>();
    needs.forEach((n, i) => {
      const dev = this.devOf[i];
      if (n > 0 && dev !== undefined) byDev.set(dev, (byDev.get(dev) ?? 0) + n);
    });
    for (const [dev, n] of byDev) {
      const s = this.fs.get(dev)!;
      if (!fitsAboveReserve(this.o.reserve, s.totalBytes, s.freeBytes, s.inFlight + s.landed, n)) {
        if (this.now() - s.loggedAt >= 60_000) {
          s.loggedAt = this.now();
          const where = this.locations.filter((_, i) => this.devOf[i] === dev).join(', ');
          this.o.log?.(`refusing writes: ${where} would go below the free-space reserve (${s.freeBytes - s.inFlight - s.landed} bytes free of ${s.totalBytes}, ${reserveBytes(this.o.reserve, s.totalBytes)} reserved)`);
        }
        return false;
      }
    }
    for (const [dev, n] of byDev) {
      this.fs.get(dev)!.inFlight += n;
      c.held.set(dev, (c.held.get(dev) ?? 0) + n);
    }
    return true;
  }

  /** Ends a claim; `landed`: its bytes are now on the disks (not freed again). */
  release(c: SpaceClaim, landed: boolean): void {
    for (const [dev, n] of c.held) {
      const s = this.fs.get(dev);
      if (!s) continue;
      s.inFlight -= n;
      if (landed) s.landed += n;
    }
    c.held.clear();
  }

  /** Free bytes above the reserve per location, as of the last reading (for reports). */
  headroom(): (number | undefined)[] {
    return this.devOf.map((dev) => {
      const s = dev === undefined ? undefined : this.fs.get(dev);
      return s ? s.freeBytes - s.inFlight - s.landed - reserveBytes(this.o.reserve, s.totalBytes) : undefined;
    });
  }
}

/** Bytes a write holds against the reserve until it ends (or fails). */
export class SpaceClaim {
  readonly held = new Map<number, number>();
  private ended = false;

  constructor(private readonly guard: SpaceGuard) {}

  grow(needs: number[]): Promise<void> {
    return this.guard.grow(this, needs);
  }

  /** `landed`: the bytes stay on the disks; otherwise they were removed (the write failed). */
  release(landed: boolean): void {
    if (this.ended) return;
    this.ended = true;
    this.guard.release(this, landed);
  }
}
