// The metadata index and its durability: the LevelDB index in the metadata directory, the
// journal on every disk, and checkpoints on the disks. The disks are the truth; the index is
// a fast copy of it that start-up checks, catches up, or rebuilds before anything is served.
//
// Start-up, in order:
//  1. Read every journal and find the committed history (scan.ts): the chain of records from
//     the newest back to the newest checkpoint.
//  2. Open the index and check it: its state record must be from this deployment, a full read
//     of it must give the digest that record claims (LevelDB does not check its own block
//     checksums), and the record it says it applied must be on the chain.
//  3. If all holds, apply the committed records after that point (a crash lost LevelDB's
//     unsynced tail, or the directory is a backup that the journal can still catch up).
//     Otherwise move the directory aside and rebuild: load the checkpoint, apply the records
//     after it, check the digest each record carries.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Disk } from '../disk/disk.js';
import { addEntry, emptyDigest, formatDigest, sameDigest, type Digest } from '../meta/digest.js';
import { LevelMetaStore, IndexMismatchError } from '../meta/level-store.js';
import { metaReadQuorum, QuorumJournal } from '../meta/journal/quorum-journal.js';
import { GENESIS, idText, Kind, sameId, compareIds, type RecordId } from '../meta/journal/record.js';
import { BrokenChainError, newestId, onChain, PayloadReader, resolveChain, scanJournals, type Chain, type CheckpointInfo, type JournalScan } from '../meta/journal/scan.js';
import type { ShardLayout } from '../meta/types.js';
import { readCheckpointData, removeCheckpointData, writeCheckpointData } from './meta-checkpoint.js';
import { healShards } from '../erasure/heal.js';
import { CHECKPOINT_BUCKET } from './meta-checkpoint.js';
import { randomBytes } from 'node:crypto';

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

export class MetaIndexError extends Error {}

/** A check cut short because the server is stopping. */
export class StoppedError extends Error {}

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
      let bytes = 0;
      for await (const [k, v] of this.meta.entries(snap)) {
        if (shouldStop()) throw new StoppedError();
        addEntry(d, k, v);
        bytes += k.length + v.length;
        if (pace && bytes >= 1024 * 1024) {
          await pace(bytes);
          bytes = 0;
        }
      }
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

/** Passes entries through, counting each into `d`. */
async function* countInto(d: Digest, entries: AsyncIterable<[Buffer, Buffer]>): AsyncGenerator<[Buffer, Buffer]> {
  for await (const e of entries) {
    addEntry(d, e[0], e[1]);
    yield e;
  }
}

/** Records with fewer copies than the write quorum on the disks that could be read (a disk was lost or replaced). */
function missingCopies(scan: JournalScan, quorum: number): number {
  let missing = 0;
  for (const r of scan.records.values()) if (r.copies.length < Math.min(quorum, scan.disksRead.length)) missing++;
  return missing;
}

/** Opens (checking, catching up or rebuilding) the index over the journals on the disks. */
export async function openMetaIndex(o: MetaIndexOptions): Promise<MetaIndex> {
  const log = o.log ?? (() => undefined);
  const started = Date.now();
  const scan = await scanJournals(o.disks);
  // Only disks that were there before this start say anything about the history; without a
  // read quorum of them the newest committed records may all be on the missing ones.
  const need = metaReadQuorum(o.disks.length, o.quorum);
  const witnesses = scan.disksRead.filter((i) => !(o.replacedDisks ?? []).includes(i)).length;
  if (!o.newDeployment && witnesses < need) {
    throw new MetaIndexError(`only ${witnesses} of ${o.disks.length} disks with metadata journals are readable; ${need} are needed to be sure the metadata is the newest (bring the others back)`);
  }
  if (scan.damaged > 0) log(`metadata journal: ${scan.damaged} damaged record(s) skipped (other disks hold the copies)`);

  const head = newestId(scan);
  // Epoch records alone (a start that wrote nothing after them) hold no history.
  const journalEmpty = sameId(head, GENESIS);
  let chain: Chain | undefined;
  let chainError: Error | undefined;
  try {
    chain = await resolveChain(scan, head);
  } catch (e) {
    if (!(e instanceof BrokenChainError)) throw e;
    chainError = e;
  }

  let meta: LevelMetaStore | undefined;
  let distrust: string | undefined;
  let action: OpenAction = 'current';
  let replayed = 0;
  let loaded = 0;

  const exists = await fsp.stat(o.dir).then(() => true, () => false);
  if (o.forceRebuild) distrust = 'a rebuild was asked for';
  else if (!exists && !journalEmpty) distrust = 'the index directory is missing';
  else {
    meta = new LevelMetaStore(o.dir);
    try {
      await meta.open();
    } catch (e) {
      distrust = `the index cannot be opened (${(e as Error).message})`;
      await meta.close().catch(() => undefined);
      meta = undefined;
    }
  }

  if (meta && !distrust) {
    distrust = await checkIndex(meta, o.deploymentId, journalEmpty);
    if (!distrust && journalEmpty) {
      // Nothing on the disks: a new deployment, or an index older than the journal (upgrade),
      // or journals that were lost. The index checked out against its own digest; adopt it and
      // put a checkpoint of it on the disks before serving.
      action = meta.digest.count === 0 ? 'new' : 'adopted';
    } else if (!distrust) {
      if (!chain) {
        // Some record of the history is on no readable disk. An index that checked out and is
        // exactly at the newest record on the disks still holds the whole history: keep it,
        // and a checkpoint soon puts it back on the disks (the chain then ends there).
        const rec = scan.records.get(idText(head));
        if (sameId(meta.applied, head) && rec && sameDigest(rec.header.digest, meta.digest)) {
          log(`warning: ${chainError!.message}; the metadata index is intact and current, a checkpoint will restore the journal`);
        } else {
          distrust = chainError!.message;
        }
      } else if (!onChain(chain, meta.applied)) {
        distrust = compareIds(meta.applied, chain.head) > 0
          ? `the index is ahead of the journal on the disks (${idText(meta.applied)} > ${idText(chain.head)})`
          : `the index is at ${idText(meta.applied)}, which the journal on the disks no longer reaches (a copy older than the newest checkpoint, or from another history)`;
      } else {
        try {
          replayed = await catchUp(meta, chain, log);
          action = replayed > 0 ? 'caught-up' : 'current';
        } catch (e) {
          if (!(e instanceof IndexMismatchError)) throw e;
          distrust = e.message;
        }
      }
    }
  }

  let movedTo: string | undefined;
  if (distrust) {
    if (meta) await meta.close();
    meta = undefined;
    if (journalEmpty) {
      // Nothing to rebuild from. Never replace an index with an empty one on a guess.
      throw new MetaIndexError(`the metadata index cannot be used (${distrust}) and the disks hold no metadata journal to rebuild it from`);
    }
    if (!chain) throw new MetaIndexError(`cannot rebuild the metadata index: ${chainError!.message}`);
    log(`metadata index not trusted: ${distrust}; rebuilding it from the disks`);
    // Build first, then move the old index aside: a start that fails half-way leaves it alone.
    const built = `${o.dir}.rebuild`;
    await buildIndex(o, chain, built, log, (n) => (loaded = n), (n) => (replayed = n));
    movedTo = await moveAside(o.dir);
    await fsp.rename(built, o.dir);
    meta = new LevelMetaStore(o.dir);
    await meta.open();
    action = 'rebuilt';
  }

  const store = meta!;
  const journal = new QuorumJournal(o.disks, o.quorum);
  for (const s of scan.segments) journal.disks[s.disk]?.segments.set(s.name, s.maxSeq);
  journal.resume(journalEmpty || !chain ? store.applied : chain.head, scan.maxEpoch, store.digest);
  store.attachJournal(journal, o.deploymentId);
  const index = new MetaIndex(store, journal, o, chain?.checkpoint?.info, {
    action, reason: distrust, replayed, loaded, movedTo, ms: Date.now() - started, head: idText(journal.head), damagedRecords: scan.damaged,
  });
  if (action === 'adopted') {
    // The disks must hold what the index holds before anything is served.
    await index.writeCheckpoint();
  }
  // Checkpoints the chain does not use (replaced ones whose removal a crash cut short, or one
  // whose record missed its quorum) are removed; their records go with compaction.
  if (chain) {
    const inUse = chain.checkpoint?.record.header.id;
    const payloads = new PayloadReader();
    try {
      for (const r of scan.records.values()) {
        if (r.header.kind !== Kind.Checkpoint || (inUse && sameId(r.header.id, inUse))) continue;
        const info = JSON.parse((await payloads.read(r)).toString('utf8')) as CheckpointInfo;
        await removeCheckpointData(o.disks, info.layout as ShardLayout);
      }
    } catch (e) {
      log(`removing unused metadata checkpoints: ${(e as Error).message}`);
    } finally {
      await payloads.close();
    }
  }
  if (!chain || scan.damaged > 0 || (!journalEmpty && missingCopies(scan, o.quorum) > 0)) index.needsCheckpoint = true;
  return index;
}

/** Why the index cannot be trusted as it is, or undefined. */
async function checkIndex(meta: LevelMetaStore, deploymentId: string, journalEmpty: boolean): Promise<string | undefined> {
  if (meta.deploymentId !== undefined && meta.deploymentId !== deploymentId) {
    return `the index belongs to another deployment (${meta.deploymentId}, the disks are ${deploymentId})`;
  }
  let scanned: Awaited<ReturnType<LevelMetaStore['fullScan']>>;
  try {
    scanned = await meta.fullScan();
  } catch (e) {
    return `the index cannot be read in full (${(e as Error).message})`;
  }
  if (!scanned.state) {
    if (scanned.digest.count === 0) return journalEmpty ? undefined : 'the index is empty';
    if (!journalEmpty) return 'the index has no state record';
    // An index written before the journal existed: adopt what it holds.
    meta.digest = scanned.digest;
    return undefined;
  }
  if (!sameDigest(scanned.digest, scanned.state.digest)) {
    return `the index is corrupt (read ${formatDigest(scanned.digest)}, its state record says ${formatDigest(scanned.state.digest)})`;
  }
  return undefined;
}

/** Applies the chain's records after the index's point; returns how many. */
async function catchUp(meta: LevelMetaStore, chain: Chain, log: (msg: string) => void): Promise<number> {
  const from = chain.records.findIndex((r) => sameId(r.header.id, meta.applied)) + 1;
  // The index must hold exactly what the history holds at its point.
  let expected: Digest;
  if (from > 0) expected = chain.records[from - 1]!.header.digest;
  else {
    const base = chain.checkpoint ? chain.checkpoint.info.snapshot : GENESIS;
    if (!sameId(meta.applied, base)) throw new IndexMismatchError(`the index is at ${idText(meta.applied)}, which is not on the journal's chain`);
    expected = chain.checkpoint ? chain.checkpoint.info.digest : { count: 0, bytes: 0, sum: 0 };
  }
  if (!sameDigest(expected, meta.digest)) {
    throw new IndexMismatchError(`the index at ${idText(meta.applied)} holds ${formatDigest(meta.digest)}, the journal says ${formatDigest(expected)}`);
  }
  const todo = chain.records.slice(from);
  const payloads = new PayloadReader();
  try {
    for (const r of todo) await meta.replay(r.header.id, r.header.kind, await payloads.read(r), r.header.digest);
  } finally {
    await payloads.close();
  }
  if (todo.length) {
    await meta.sync();
    log(`metadata index caught up with ${todo.length} journal record(s) to ${idText(chain.head)}`);
  }
  return todo.length;
}

/** Moves an untrusted index out of the way (kept for a post-mortem; the log says where). */
async function moveAside(dir: string): Promise<string | undefined> {
  const exists = await fsp.stat(dir).then(() => true, () => false);
  if (!exists) return undefined;
  const to = asideName(dir);
  await fsp.rename(dir, to);
  return to;
}

function asideName(dir: string): string {
  return `${dir}.untrusted-${new Date().toISOString().replace(/[:.]/g, '-')}`;
}

/**
 * Builds an index from the checkpoint and journal into `tmp` (emptied first) and closes it.
 * Every record's digest is checked on the way, and the checkpoint's as a whole.
 */
export async function buildIndex(
  o: Pick<MetaIndexOptions, 'disks' | 'deploymentId'>,
  chain: Chain,
  tmp: string,
  log: (msg: string) => void,
  onLoaded: (n: number) => void = () => undefined,
  onReplayed: (n: number) => void = () => undefined,
): Promise<Digest> {
  const started = Date.now();
  await fsp.rm(tmp, { recursive: true, force: true });
  const meta = new LevelMetaStore(tmp);
  await meta.open();
  let lastLog = Date.now();
  const progress = (what: string) => {
    if (Date.now() - lastLog < 2000) return;
    lastLog = Date.now();
    log(`rebuilding metadata: ${what}`);
  };
  try {
    let loaded = 0;
    const cp = chain.checkpoint?.info;
    if (cp) {
      for await (const batch of readCheckpointData(o.disks, cp.layout as ShardLayout)) {
        await meta.load(batch);
        loaded += batch.length;
        progress(`${loaded} of ${cp.digest.count} checkpoint records loaded`);
      }
      if (!sameDigest(meta.digest, cp.digest)) {
        throw new MetaIndexError(`checkpoint ${idText(cp.snapshot)} reads back as ${formatDigest(meta.digest)}, expected ${formatDigest(cp.digest)}`);
      }
      await meta.markApplied(cp.snapshot, o.deploymentId);
    } else {
      await meta.markApplied(GENESIS, o.deploymentId);
    }
    onLoaded(loaded);
    let n = 0;
    const payloads = new PayloadReader();
    try {
      for (const r of chain.records) {
        await meta.replay(r.header.id, r.header.kind, await payloads.read(r), r.header.digest);
        n++;
        progress(`${n} of ${chain.records.length} journal records applied`);
      }
    } finally {
      await payloads.close();
    }
    onReplayed(n);
    await meta.sync();
    await meta.close();
    log(`metadata rebuilt from the disks in ${Date.now() - started} ms: ${loaded} checkpoint records, ${n} journal records, ${formatDigest(meta.digest)}`);
    return meta.digest;
  } catch (e) {
    await meta.close().catch(() => undefined);
    if (e instanceof IndexMismatchError) throw new MetaIndexError(`rebuild failed: ${e.message}`);
    throw e;
  }
}
