// Building a metadata index from the disks: the newest checkpoint, read through the erasure
// layer, then every journal record after it, each checked against the digest it carries.

import { promises as fsp } from 'node:fs';
import type { Disk } from '../disk/disk.js';
import { formatDigest, sameDigest, type Digest } from '../meta/digest.js';
import { LevelMetaStore, IndexMismatchError } from '../meta/level-store.js';
import { GENESIS, idText } from '../meta/journal/record.js';
import { PayloadReader, type Chain } from '../meta/journal/scan.js';
import type { ShardLayout } from '../meta/types.js';
import { readCheckpointData } from './meta-checkpoint.js';
import { MetaIndexError } from './meta-errors.js';

/**
 * Builds an index from the checkpoint and journal into `tmp` (emptied first) and closes it.
 * Every record's digest is checked on the way, and the checkpoint's as a whole.
 */
export async function buildIndex(
  o: { disks: Disk[]; deploymentId: string },
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
