// What durable metadata costs and how fast it comes back. Run it after a build:
//
//   node dist/src/bench/meta-bench.js [--objects 100000] [--dir DIR] [--json]
//
// Opens an engine on 4 temp disks (2 data + 2 parity, default block size and inline
// threshold), writes --objects object versions (about 85% small inline objects in an
// unversioned bucket and overwrites in a versioned one, 10% just above the inline threshold so
// erasure-coded, 5% delete markers), then:
//  - rebuilds the index from the journal alone (the metadata directory deleted),
//  - writes a checkpoint (the journal before it is dropped), and rebuilds from checkpoint plus
//    journal tail,
// and reports the time of each rebuild, the metadata bytes on the disks (journal segments and
// checkpoint shards) per million versions, and the rebuild time extrapolated to 10 M.

import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { openEngine, type Engine, type EngineOptions } from '../object/engine.js';
import { journalDir } from '../meta/journal/disk-journal.js';
import type { ShardLayout } from '../meta/types.js';

interface Args {
  objects: number;
  dir: string;
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { objects: 100_000, dir: os.tmpdir(), json: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--objects') a.objects = Number(argv[++i]);
    else if (argv[i] === '--dir') a.dir = argv[++i]!;
    else if (argv[i] === '--json') a.json = true;
    else throw new Error(`meta-bench: unknown argument ${argv[i]}`);
  }
  if (!(a.objects > 0)) throw new Error('meta-bench: --objects must be positive');
  return a;
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const n of await readdir(dir).catch(() => [] as string[])) {
    if (!n.endsWith('.log')) continue;
    total += (await stat(path.join(dir, n))).size;
  }
  return total;
}

async function metadataOnDisks(e: Engine): Promise<{ journal: number; checkpoint: number }> {
  let journal = 0;
  for (const d of e.store.disks) journal += await dirBytes(journalDir(d));
  const cp = e.metaIndex.checkpoint?.layout as ShardLayout | undefined;
  let checkpoint = 0;
  if (cp) for (const d of e.store.disks) checkpoint += await stat(d.shardPath(cp.dataId)).then((s) => s.size, () => 0);
  return { journal, checkpoint };
}

export async function runMetaBench(a: Args): Promise<Record<string, number>> {
  const root = await mkdtemp(path.join(a.dir, 'tessera-meta-bench-'));
  const opts: EngineOptions = {
    disks: [1, 2, 3, 4].map((i) => path.join(root, `disk${i}`)),
    metaDir: path.join(root, 'meta', 'leveldb'),
    parity: 2,
    metaCheckpointBytes: Number.MAX_SAFE_INTEGER, // checkpoints only when this bench asks
  };
  const say = (m: string) => {
    if (!a.json) process.stderr.write(m + '\n');
  };
  try {
    let e = await openEngine(opts);
    await e.store.createBucket('plain', 'us-east-1');
    await e.store.createBucket('versioned', 'us-east-1');
    await e.store.setVersioning('versioned', 'Enabled');
    const small = Buffer.alloc(1024, 7);
    const large = Buffer.alloc(e.store.inlineThreshold + 1024, 9);
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      for (let i = next++; i < a.objects; i = next++) {
        const r = i % 20;
        if (r < 2) await e.store.putObject('plain', `large/${i}`, Readable.from([large]), { expectedSize: large.length });
        else if (r === 2) await e.store.deleteObject('versioned', `v/${i % 5000}`);
        else if (r < 10) await e.store.putObject('versioned', `v/${i % 5000}`, Readable.from([small]), { expectedSize: small.length });
        else await e.store.putObject('plain', `small/${i}`, Readable.from([small]), { expectedSize: small.length });
        if (i % 10_000 === 0 && i) say(`  written ${i} of ${a.objects}`);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    const writeMs = performance.now() - started;
    await e.store.settle();
    const records = e.metaIndex.meta.digest.count;
    const journalOnly = await metadataOnDisks(e);
    await e.close();

    await rm(path.join(root, 'meta'), { recursive: true, force: true });
    let t = performance.now();
    e = await openEngine(opts);
    const rebuildJournalMs = performance.now() - t;
    if (e.metaIndex.report.action !== 'rebuilt') throw new Error(`expected a rebuild, got ${e.metaIndex.report.action}`);
    await e.metaIndex.writeCheckpoint();
    const withCheckpoint = await metadataOnDisks(e);
    await e.close();

    await rm(path.join(root, 'meta'), { recursive: true, force: true });
    t = performance.now();
    e = await openEngine(opts);
    const rebuildCheckpointMs = performance.now() - t;
    const loaded = e.metaIndex.report.loaded;
    await e.close();

    const perMillion = (b: number) => (b / a.objects) * 1e6;
    const r = {
      objects: a.objects,
      indexRecords: records,
      writeSeconds: writeMs / 1000,
      rebuildFromJournalSeconds: rebuildJournalMs / 1000,
      rebuildFromCheckpointSeconds: rebuildCheckpointMs / 1000,
      checkpointRecordsLoaded: loaded,
      journalBytesAllDisks: journalOnly.journal,
      checkpointBytesAllDisks: withCheckpoint.checkpoint,
      journalBytesPerMillionObjects: perMillion(journalOnly.journal),
      checkpointBytesPerMillionObjects: perMillion(withCheckpoint.checkpoint),
      rebuild10MEstimateSeconds: (rebuildCheckpointMs / 1000) * (10_000_000 / a.objects),
    };
    return r;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const a = parseArgs(process.argv.slice(2));
  runMetaBench(a).then(
    (r) => {
      if (a.json) process.stdout.write(JSON.stringify(r) + '\n');
      else {
        const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
        process.stdout.write(
          [
            `objects written            ${r.objects} (${r.indexRecords} index records) in ${r.writeSeconds.toFixed(1)} s`,
            `rebuild from journal only  ${r.rebuildFromJournalSeconds.toFixed(1)} s`,
            `rebuild from checkpoint    ${r.rebuildFromCheckpointSeconds.toFixed(1)} s (${r.checkpointRecordsLoaded} records loaded)`,
            `journal on disks           ${gib(r.journalBytesAllDisks)} (${gib(r.journalBytesPerMillionObjects)} per million objects, all disks)`,
            `checkpoint on disks        ${gib(r.checkpointBytesAllDisks)} (${gib(r.checkpointBytesPerMillionObjects)} per million objects, all disks)`,
            `10 M objects, estimated    ${r.rebuild10MEstimateSeconds.toFixed(0)} s to rebuild from a checkpoint`,
          ].join('\n') + '\n',
        );
      }
    },
    (e: Error) => {
      process.stderr.write(`meta-bench: ${e.stack ?? e.message}\n`);
      process.exit(1);
    },
  );
}
