// Start-up of the metadata index: the journals on the disks are read, the index in the
// metadata directory is checked against them, then caught up or rebuilt before anything is
// served.
//
//  1. Read every journal and find the committed history (scan.ts): the chain of records from
//     the newest back to the newest checkpoint.
//  2. Open the index and check it: its state record must be from this deployment, a full read
//     of it must give the digest that record claims (LevelDB does not check its own block
//     checksums), and the record it says it applied must be on the chain, with that digest.
//  3. If all holds, apply the committed records after that point (a crash lost LevelDB's
//     unsynced tail, or the directory is a backup that the journal can still catch up).
//     Otherwise build a new index from the checkpoint and the records after it, checking the
//     digest each record carries, and only then move the old directory aside.

import { promises as fsp } from 'node:fs';
import { formatDigest, sameDigest, type Digest } from '../meta/digest.js';
import { LevelMetaStore, IndexMismatchError } from '../meta/level-store.js';
import { metaReadQuorum, QuorumJournal } from '../meta/journal/quorum-journal.js';
import { GENESIS, idText, Kind, sameId, compareIds } from '../meta/journal/record.js';
import { BrokenChainError, newestId, onChain, PayloadReader, resolveChain, scanJournals, type Chain, type CheckpointInfo } from '../meta/journal/scan.js';
import type { ShardLayout } from '../meta/types.js';
import { removeCheckpointData } from './meta-checkpoint.js';
import { MetaIndex, MetaIndexError, missingCopies, moveAside, type MetaIndexOptions, type OpenAction } from './meta-index.js';
import { buildIndex } from './meta-rebuild.js';

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
