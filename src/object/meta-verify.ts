// `tessera admin meta verify`: compares the live metadata index with what the disks hold, by
// rebuilding a second index from the journal and checkpoint and comparing the two record by
// record. Runs with the server stopped (LevelDB allows one process per directory).

import { promises as fsp } from 'node:fs';
import type { Disk } from '../disk/disk.js';
import { formatDigest, sameDigest, type Digest } from '../meta/digest.js';
import { LevelMetaStore } from '../meta/level-store.js';
import { idText, sameId } from '../meta/journal/record.js';
import { BrokenChainError, resolveChain, scanJournals } from '../meta/journal/scan.js';
import type { ShardLayout } from '../meta/types.js';
import { buildIndex } from './meta-rebuild.js';

export interface VerifyReport {
  ok: boolean;
  problems: string[];
  disks: {
    read: number;
    records: number;
    damagedRecords: number;
    head: string;
    checkpoint: { at: string; records: number; bytes: number } | null;
  };
  index: { applied: string | null; digest: Digest | null; readDigest: Digest | null };
  rebuilt: { digest: Digest; ms: number } | null;
  /** Records that differ between the live index and the rebuilt one (at most 20). */
  differences: Array<{ key: string; index: 'missing' | 'extra' | 'different' }>;
}

export async function verifyMeta(o: { disks: Disk[]; deploymentId: string; dir: string; log?: (msg: string) => void }): Promise<VerifyReport> {
  const problems: string[] = [];
  const scan = await scanJournals(o.disks);
  const report: VerifyReport = {
    ok: false,
    problems,
    disks: { read: scan.disksRead.length, records: scan.records.size, damagedRecords: scan.damaged, head: '0.0', checkpoint: null },
    index: { applied: null, digest: null, readDigest: null },
    rebuilt: null,
    differences: [],
  };
  if (scan.damaged) problems.push(`${scan.damaged} damaged journal record(s) on the disks (the scanner or a checkpoint replaces them)`);
  const offline = o.disks.filter((d) => !d.online).length;
  if (offline) problems.push(`${offline} disk(s) offline`);
  let chain;
  try {
    chain = await resolveChain(scan);
    report.disks.head = idText(chain.head);
    const cp = chain.checkpoint?.info;
    if (cp) report.disks.checkpoint = { at: idText(cp.snapshot), records: cp.digest.count, bytes: (cp.layout as ShardLayout).size };
  } catch (e) {
    if (!(e instanceof BrokenChainError)) throw e;
    problems.push(`the journal on the disks is broken: ${e.message}`);
  }

  const live = new LevelMetaStore(o.dir);
  try {
    await live.open();
  } catch (e) {
    problems.push(`the index cannot be opened: ${(e as Error).message}${/lock/i.test((e as Error).message) ? ' (stop the server first)' : ''}`);
    return report;
  }
  const tmp = `${o.dir}.verify`;
  try {
    const scanned = await live.fullScan().catch((e: Error) => {
      problems.push(`the index cannot be read in full: ${e.message}`);
      return undefined;
    });
    if (scanned) {
      report.index.readDigest = scanned.digest;
      if (scanned.state) {
        report.index.applied = idText(scanned.state.applied);
        report.index.digest = scanned.state.digest;
        if (!sameDigest(scanned.digest, scanned.state.digest)) problems.push(`the index is corrupt: read ${formatDigest(scanned.digest)}, its state record says ${formatDigest(scanned.state.digest)}`);
        if (scanned.state.deploymentId && scanned.state.deploymentId !== o.deploymentId) problems.push(`the index belongs to another deployment (${scanned.state.deploymentId})`);
        if (chain && !sameId(scanned.state.applied, chain.head)) problems.push(`the index is at ${idText(scanned.state.applied)}, the disks at ${idText(chain.head)}`);
      } else {
        problems.push('the index has no state record');
      }
    }
    if (chain) {
      const started = Date.now();
      const digest = await buildIndex(o, chain, tmp, o.log ?? (() => undefined));
      report.rebuilt = { digest, ms: Date.now() - started };
      const built = new LevelMetaStore(tmp);
      await built.open();
      try {
        report.differences = await compareIndexes(live, built, 20);
      } finally {
        await built.close();
      }
      if (report.differences.length) problems.push(`the index differs from the disks in ${report.differences.length}${report.differences.length === 20 ? '+' : ''} record(s)`);
    }
  } finally {
    await live.close();
    await fsp.rm(tmp, { recursive: true, force: true });
  }
  report.ok = problems.length === 0;
  return report;
}

/** Walks two indexes in key order side by side; the first `limit` records that differ. */
async function compareIndexes(live: LevelMetaStore, built: LevelMetaStore, limit: number): Promise<VerifyReport['differences']> {
  const out: VerifyReport['differences'] = [];
  const a = live.entries()[Symbol.asyncIterator]();
  const b = built.entries()[Symbol.asyncIterator]();
  let x = await a.next().catch(() => ({ done: true, value: undefined }) as IteratorResult<[Buffer, Buffer]>);
  let y = await b.next();
  const show = (k: Buffer) => k.toString('utf8').replace(/\0/g, '/');
  while ((!x.done || !y.done) && out.length < limit) {
    const c = x.done ? 1 : y.done ? -1 : Buffer.compare(x.value[0], y.value[0]);
    if (c === 0) {
      if (!x.value![1].equals(y.value![1])) out.push({ key: show(x.value![0]), index: 'different' });
      x = await a.next();
      y = await b.next();
    } else if (c < 0) {
      out.push({ key: show(x.value![0]), index: 'extra' });
      x = await a.next();
    } else {
      out.push({ key: show(y.value![0]), index: 'missing' });
      y = await b.next();
    }
  }
  await a.return?.(undefined);
  await b.return?.(undefined);
  return out;
}
