// The metadata index at run time: the LevelDB index in the metadata directory, the journal on
// every disk, and checkpoints on the disks. The disks are the truth; the index is a fast copy
// of it. This file holds what runs while serving (checkpoints and compaction, the scanner's
// check, online repair); meta-open.ts checks, catches up or rebuilds the index at start-up,
// meta-rebuild.ts builds an index from the disks.

import { promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Disk } from '../disk/disk.js';
import { healShards } from '../erasure/heal.js';
import { countInto, emptyDigest, formatDigest, sameDigest, type Digest } from '../meta/digest.js';
import type { LevelMetaStore } from '../meta/level-store.js';
import type { QuorumJournal } from '../meta/journal/quorum-journal.js';
import { idText, Kind, type RecordId } from '../meta/journal/record.js';
import { resolveChain, scanJournals, type CheckpointInfo, type JournalScan } from '../meta/journal/scan.js';
import type { ShardLayout } from '../meta/types.js';
import { CHECKPOINT_BUCKET, removeCheckpointData, writeCheckpointData } from './meta-checkpoint.js';
import { buildIndex } from './meta-rebuild.js';
import { StoppedError } from './meta-errors.js';

/** A checkpoint is written once the journal since the last one outgrows max(this, the last checkpoint). */
export const DEFAULT_CHECKPOINT_BYTES = 64 * 1024 * 1024;

export interface MetaIndexOptions {
  disks: Disk[];
  k: number;
  m: number;
  blockSize: number;
  /** The LevelDB directory. */
  dir: string;
  deploymentId: string;
  /** Write quorum for journal records. */
  quorum: number;
  checkpointBytes?: number;
  /** Rebuild even if the index looks fine (`tessera admin meta rebuild`). */
  forceRebuild?: boolean;
  /** Disks formatted blank by this start: their (empty) journals say nothing about the history. */
  replacedDisks?: number[];
  /** The first start of a deployment: no history can be missing. */
  newDeployment?: boolean;
  log?: (msg: string) => void;
}

export type OpenAction = 'new' | 'current' | 'caught-up' | 'rebuilt' | 'adopted';

export { MetaIndexError, StoppedError } from './meta-errors.js';

export interface OpenReport {
  action: OpenAction;
  /** Why the index was rebuilt (or adopted). */
  reason?: string;
  /** Journal records applied at start-up. */
  replayed: number;
  /** Records loaded from a checkpoint. */
  loaded: number;
  /** Where an untrusted index was moved. */
  movedTo?: string;
  ms: number;
  head: string;
  damagedRecords: number;
}

export class MetaIndex {
  private timer: NodeJS.Timeout | undefined;
  private checkpointing: Promise<CheckpointInfo> | undefined;
  private repairing: Promise<void> | undefined;
  private closed = false;
  /** Set when the journal on some disk is missing records or has damaged ones: a checkpoint mends it. */
  needsCheckpoint = false;

  constructor(
    readonly meta: LevelMetaStore,
    readonly journal: QuorumJournal,
    private readonly o: MetaIndexOptions,
    public checkpoint: CheckpointInfo | undefined,
    readonly report: OpenReport,
  ) {}

  private log(msg: string): void {
    this.o.log?.(msg);
  }

  /** Checks every few seconds whether the journal has grown enough for a checkpoint. */
  startCompaction(everyMs = 2000): void {
    this.timer = setInterval(() => {
      if (this.closed || this.checkpointing) return;
      const lastSize = this.checkpoint ? (this.checkpoint.layout as ShardLayout).size : 0;
      const limit = Math.max(this.o.checkpointBytes ?? DEFAULT_CHECKPOINT_BYTES, lastSize);
      if (this.needsCheckpoint || this.journal.bytesSinceCheckpoint > limit) {
        this.writeCheckpoint().catch((e: Error) => this.log(`metadata checkpoint failed: ${e.message}`));
      }
    }, everyMs);
    this.timer.unref();
  }

  /**
   * Writes a checkpoint of the index as of now, then drops what it makes redundant: the older
   * checkpoint and every journal segment wholly before it. Writes go on meanwhile.
   */
  writeCheckpoint(): Promise<CheckpointInfo> {
    this.checkpointing ??= (async () => {
      await this.repairing?.catch(() => undefined); // never a snapshot of an index being swapped
      return this.checkpointNow();
    })().finally(() => (this.checkpointing = undefined));
    return this.checkpointing;
  }

  private async checkpointNow(): Promise<CheckpointInfo> {
    const started = Date.now();
    const wanted = this.needsCheckpoint;
    this.needsCheckpoint = false;
    let snap!: { close(): Promise<void> };
    let at!: RecordId;
    let digest!: Digest;
    let sinceBefore = 0;
    try {
      await this.meta.exclusive(async () => {
        this.meta.assertConsistent(this.journal.head);
        snap = this.meta.snapshot();
        at = this.meta.applied;
        digest = { ...this.meta.digest };
        sinceBefore = this.journal.bytesSinceCheckpoint;
        this.journal.bytesSinceCheckpoint = 0;
        this.journal.roll();
      });
    } catch (e) {
      this.needsCheckpoint ||= wanted;
      throw e;
    }
    let layout: ShardLayout | undefined;
    try {
      // The records are counted into a digest as they stream out: LevelDB does not check its
      // blocks on reads, and a checkpoint of a silently damaged index would outlive the journal
      // that could have mended it.
      const read = emptyDigest();
      layout = await writeCheckpointData(countInto(read, this.meta.entries(snap)), {
        disks: this.o.disks, k: this.o.k, m: this.o.m, blockSize: this.o.blockSize,
        dataId: randomBytes(16).toString('hex'),
        name: `checkpoint-${idText(at)}`,
      });
      if (!sameDigest(read, digest)) {
        await removeCheckpointData(this.o.disks, layout);
        this.log(`metadata index does not match its digest (${formatDigest(read)} read, ${formatDigest(digest)} expected): repairing it from the disks`);
        void this.repairIndex().catch((e: Error) => this.log(`metadata index repair failed: ${e.message}`));
        throw new Error('the index read back wrong; checkpoint abandoned');
      }
    } catch (e) {
      this.needsCheckpoint ||= wanted;
      this.journal.bytesSinceCheckpoint += sinceBefore;
      throw e;
    } finally {
      await snap.close();
    }
    const info: CheckpointInfo = { snapshot: at, digest, layout, created: Date.now() };
    try {
      await this.meta.exclusive(async () => {
        await this.meta.appendMarker(Kind.Checkpoint, Buffer.from(JSON.stringify(info), 'utf8'));
      });
    } catch (e) {
      // The record may be on some disks even so (and become the newest after a restart): its
      // data stays. A later checkpoint replaces it.
      this.needsCheckpoint ||= wanted;
      this.journal.bytesSinceCheckpoint += sinceBefore;
      throw e;
    }
    const old = this.checkpoint;
    this.checkpoint = info;
    if (old) await removeCheckpointData(this.o.disks, old.layout as ShardLayout);
    let removed = 0;
    for (const d of this.journal.disks) removed += await d.removeSegmentsUpTo(at.seq).catch(() => 0);
    this.log(`metadata checkpoint at ${idText(at)}: ${formatDigest(digest)}, ${layout.size} bytes, ${removed} journal segment(s) dropped, ${Date.now() - started} ms`);
    return info;
  }

  /**
   * The scanner's check of the metadata: the index read in full against its digest, the
   * checkpoint read and healed through the erasure layer, the journals read back. Damage on
   * the disks is mended with a new checkpoint; a damaged index is rebuilt from the disks and
   * swapped in (writes wait meanwhile).
   */
  async verifyOnline(pace?: (bytes: number) => Promise<void>, shouldStop: () => boolean = () => false): Promise<{ indexOk: boolean; indexRepaired: boolean; checkpointOk: boolean; journalDamaged: number; shardsRebuilt: number }> {
    let snap!: { close(): Promise<void> };
    let digest!: Digest;
    await this.checkpointing?.catch(() => undefined);
    await this.meta.exclusive(async () => {
      snap = this.meta.snapshot();
      digest = { ...this.meta.digest };
    });
    let indexOk: boolean;
    try {
      const d = emptyDigest();
      const every = { bytes: 1024 * 1024, pause: async () => {
        if (shouldStop()) throw new StoppedError();
        await pace?.(1024 * 1024);
      } };
      for await (const _ of countInto(d, this.meta.entries(snap), every)) void _;
      indexOk = sameDigest(d, digest);
      if (!indexOk) this.log(`metadata index does not match its digest (${formatDigest(d)} read, ${formatDigest(digest)} expected): repairing it from the disks`);
    } catch (e) {
      if (e instanceof StoppedError) throw e;
      indexOk = false;
      this.log(`metadata index unreadable: ${(e as Error).message}; repairing it from the disks`);
    } finally {
      await snap.close();
    }
    let indexRepaired = false;
    if (!indexOk) indexRepaired = await this.repairIndex().then(() => true, (e: Error) => (this.log(`metadata index repair failed: ${e.message}`), false));
    let checkpointOk = true;
    let shardsRebuilt = 0;
    const cp = this.checkpoint;
    if (cp) {
      const layout = cp.layout as ShardLayout;
      try {
        const r = await healShards(this.o.disks, layout, { bucket: CHECKPOINT_BUCKET, key: `checkpoint-${idText(cp.snapshot)}` });
        shardsRebuilt = r.rebuilt.length;
        if (r.rebuilt.length) this.log(`metadata checkpoint: rebuilt ${r.rebuilt.length} damaged shard(s)`);
      } catch (e) {
        checkpointOk = false;
        this.log(`metadata checkpoint unreadable: ${(e as Error).message}`);
      }
    }
    const scan = await scanJournals(this.o.disks);
    const journalDamaged = scan.damaged;
    if (!checkpointOk || journalDamaged > 0 || missingCopies(scan, this.journal.quorum) > 0) this.needsCheckpoint = true;
    if (this.needsCheckpoint) await this.writeCheckpoint();
    return { indexOk, indexRepaired, checkpointOk, journalDamaged, shardsRebuilt };
  }

  /**
   * Rebuilds the index from the disks while writes wait, up to exactly the record this
   * process committed last (a record that failed its quorum may still sit on some disk and
   * must not come in), and swaps it in.
   */
  repairIndex(): Promise<void> {
    this.repairing ??= (async () => {
      await this.checkpointing?.catch(() => undefined);
      await this.meta.exclusive(async () => {
        const started = Date.now();
        const chain = await resolveChain(await scanJournals(this.o.disks), this.journal.head);
        const built = `${this.o.dir}.rebuild`;
        const digest = await buildIndex(this.o, chain, built, (m) => this.log(m));
        if (!sameDigest(digest, this.meta.digest)) throw new Error(`the disks give ${formatDigest(digest)}, this process committed ${formatDigest(this.meta.digest)}`);
        const aside = asideName(this.o.dir);
        await this.meta.replaceWith(built, aside);
        this.log(`metadata index repaired from the disks in ${Date.now() - started} ms; the damaged one is in ${aside}`);
      });
    })().finally(() => (this.repairing = undefined));
    return this.repairing;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.checkpointing?.catch(() => undefined);
    await this.repairing?.catch(() => undefined);
    await this.meta.close();
    await this.journal.close();
  }
}

/** Records with fewer copies than the write quorum on the disks that could be read (a disk was lost or replaced). */
export function missingCopies(scan: JournalScan, quorum: number): number {
  let missing = 0;
  for (const r of scan.records.values()) if (r.copies.length < Math.min(quorum, scan.disksRead.length)) missing++;
  return missing;
}

/** Moves an untrusted index out of the way (kept for a post-mortem; the log says where). */
export async function moveAside(dir: string): Promise<string | undefined> {
  const exists = await fsp.stat(dir).then(() => true, () => false);
  if (!exists) return undefined;
  const to = asideName(dir);
  await fsp.rename(dir, to);
  return to;
}

export function asideName(dir: string): string {
  return `${dir}.untrusted-${new Date().toISOString().replace(/[:.]/g, '-')}`;
}
