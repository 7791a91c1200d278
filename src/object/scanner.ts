// Background upkeep: a disk monitor that notices a wiped or replaced disk directory and
// heals onto it, and a slow scanner that reads everything at a bounded rate so damage
// nobody has read yet is found and repaired.

import { recheckDisk } from '../disk/disk-set.js';
import { heal, type HealProgress } from './healing.js';
import { MaintenanceJobs } from './maintenance.js';
import type { MetaIndex } from './meta-index.js';
import type { ObjectStore } from './store.js';

const META_CHECK_INTERVAL_MS = 60 * 60 * 1000;

export interface UpkeepOptions {
  deploymentId: string;
  /** Checked by the scanner too; a disk that comes back or is replaced gets a fresh checkpoint. */
  metaIndex?: MetaIndex;
  /** Bytes per second the scanner may read; 0 turns it off. */
  scannerBytesPerSecond: number;
  /** How long after start the first pass begins (default 30 s: start-up gets a head start). */
  scannerStartDelayMs?: number;
  /** The pause between the end of a pass and the next (default 60 s). */
  scannerPassIntervalMs?: number;
  diskCheckIntervalMs?: number;
  /** Multipart uploads older than this are aborted and their space reclaimed; 0 keeps them. */
  multipartExpirySeconds?: number;
  log?: (msg: string) => void;
}

/** What the background scanner is doing (metrics): the pass under way, or the last one. */
export interface ScanStatus {
  running: boolean;
  /** Passes finished since start. */
  passes: number;
  /** Objects (versions) and bytes read so far by the current pass (or the last, when idle). */
  objects: number;
  bytes: number;
  /** When the last pass ended (ms since the epoch). */
  lastPassEnd?: number;
}

export class Upkeep {
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  /** Work started by timers; stop() waits for it so nothing touches the disks afterwards. */
  private readonly running = new Set<Promise<unknown>>();
  private readonly stopSignal = new AbortController();
  lastScan: HealProgress | undefined;
  readonly scan: ScanStatus = { running: false, passes: 0, objects: 0, bytes: 0 };
  /** Slots of disks that came back blank or from offline, while the heal onto them runs. */
  readonly healingDisks = new Set<number>();
  lastMetaCheck: Awaited<ReturnType<MetaIndex['verifyOnline']>> | undefined;
  private lastMetaCheckAt = 0;

  /** Heal and scan jobs (admin-started, or the heal after a disk was replaced). */
  readonly jobs: MaintenanceJobs;

  constructor(private readonly store: ObjectStore, private readonly o: UpkeepOptions) {
    this.jobs = new MaintenanceJobs(store, { bytesPerSecond: o.scannerBytesPerSecond, log: o.log, needsHeal: this.healingDisks });
  }

  start(): void {
    const log = this.o.log ?? (() => undefined);
    const every = this.o.diskCheckIntervalMs ?? 5000;
    const check = async () => {
      let replaced = false;
      for (const d of this.store.disks) {
        const was = d.online;
        const r = await recheckDisk(d, this.o.deploymentId, this.store.disks.length);
        if (r === 'reformatted') {
          replaced = true;
          this.healingDisks.add(d.index);
          log(`disk ${d.root} was blank: formatted as slot ${d.index + 1}, healing onto it`);
        } else if (r === 'offline' && was) {
          log(`disk ${d.root} is offline`);
        } else if (r === 'ok' && !was) {
          log(`disk ${d.root} is back online`);
          replaced = true;
          this.healingDisks.add(d.index);
        }
      }
      if (replaced) {
        // A blank or stale disk lacks journal records: a checkpoint puts the metadata back on it.
        if (this.o.metaIndex) this.o.metaIndex.needsCheckpoint = true;
        this.healAll().catch((e: Error) => log(`healing failed: ${e.message}`));
      }
    };
    let checking = false;
    this.timers.push(setInterval(() => {
      if (checking || this.stopped) return;
      checking = true;
      this.run(check().finally(() => (checking = false)));
    }, every).unref());
    if (this.o.scannerBytesPerSecond > 0) this.scanLoop();
    const expiry = this.o.multipartExpirySeconds ?? 0;
    if (expiry > 0) {
      const sweep = () => {
        if (!this.stopped) this.run(this.expireUploads(expiry * 1000).then((n) => n && log(`aborted ${n} expired multipart upload(s)`)));
      };
      this.timers.push(setTimeout(sweep, 10_000).unref());
      this.timers.push(setInterval(sweep, Math.min(3_600_000, expiry * 1000)).unref());
    }
  }

  /** A pause that ends early when upkeep stops. */
  private sleep(ms: number): Promise<void> {
    const signal = this.stopSignal.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const onAbort = () => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      t.unref();
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private run(p: Promise<unknown>): void {
    const q = p.catch(() => undefined);
    this.running.add(q);
    void q.finally(() => this.running.delete(q));
  }

  /** Aborts multipart uploads older than maxAgeMs; returns how many. */
  expireUploads(maxAgeMs: number): Promise<number> {
    return this.store.multipart.expire(maxAgeMs);
  }

  /**
   * Heals everything now (after a disk replacement), as a job `admin heal --status` shows;
   * `disks`: the slots it heals onto (healingDisks until a whole heal ends). Resolves when it ends.
   */
  async healAll(disks: number[] = []): Promise<void> {
    for (const i of disks) this.healingDisks.add(i);
    if (this.stopped) return;
    await this.jobs.healAll();
    await this.jobs.idle();
  }

  private scanLoop(): void {
    const log = this.o.log ?? (() => undefined);
    const rate = this.o.scannerBytesPerSecond;
    const pace = async (bytes: number) => {
      const ms = (bytes / rate) * 1000;
      if (ms > 0) await this.sleep(ms);
    };
    const run = async () => {
      while (!this.stopped) {
        // The metadata check reads the whole index and checkpoint: once an hour is plenty.
        if (this.o.metaIndex && Date.now() - this.lastMetaCheckAt >= META_CHECK_INTERVAL_MS) {
          this.lastMetaCheckAt = Date.now();
          this.lastMetaCheck = await this.o.metaIndex.verifyOnline(pace, () => this.stopped).catch((e: Error) => {
            if (!this.stopped) log(`metadata check failed: ${e.message}`);
            return undefined;
          });
        }
        // An admin heal or scan reads everything already: wait for it rather than compete.
        await this.jobs.idle();
        Object.assign(this.scan, { running: true, objects: 0, bytes: 0 });
        this.lastScan = await heal(this.store, { pace, shouldStop: () => this.stopped }, (p) => {
          this.scan.objects = p.objectsScanned;
          this.scan.bytes = p.bytesScanned;
        }).finally(() => (this.scan.running = false));
        this.scan.passes++;
        this.scan.lastPassEnd = Date.now();
        await this.sleep(this.o.scannerPassIntervalMs ?? 60_000);
      }
    };
    // Give start-up a head start before reading in the background.
    this.timers.push(setTimeout(() => this.run(run()), this.o.scannerStartDelayMs ?? 30_000).unref());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopSignal.abort();
    for (const t of this.timers) clearInterval(t);
    await this.jobs.close();
    while (this.running.size) await Promise.all([...this.running]);
  }
}
