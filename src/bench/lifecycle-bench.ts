// How fast a lifecycle pass goes. Run it after a build:
//
//   node dist/src/bench/lifecycle-bench.js [--objects 100000] [--expire 10000] [--dir DIR] [--json]
//
// Opens an engine on 4 temp disks (2 data + 2 parity) and writes --objects small inline objects
// into one bucket straight through the metadata store (1000 versions per batch, as a bulk
// import would: the pass is what is measured, not the PUT path). Then:
//  - examine: a rule that selects every key but is not due (Expiration Days=365): the pass
//    reads and evaluates every version and acts on none; objects examined per second, and the
//    event-loop delay during the pass (how long a request could wait behind it);
//  - expire: a second bucket of --expire objects under a rule that is due: every key gets its
//    delete marker through the engine's ordinary delete (one metadata commit each); actions/s.
// The worker runs unpaced (objects_per_second 0), as fast as the store allows.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { crc32c } from '../erasure/bitrot.js';
import type { MetaOp, ObjectVersion } from '../meta/types.js';
import { openEngine, type Engine } from '../object/engine.js';
import { LifecycleWorker } from '../object/lifecycle-worker.js';

interface Args {
  objects: number;
  expire: number;
  dir: string;
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { objects: 100_000, expire: 10_000, dir: os.tmpdir(), json: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--objects') a.objects = Number(argv[++i]);
    else if (argv[i] === '--expire') a.expire = Number(argv[++i]);
    else if (argv[i] === '--dir') a.dir = argv[++i]!;
    else if (argv[i] === '--json') a.json = true;
    else throw new Error(`lifecycle-bench: unknown argument ${argv[i]}`);
  }
  if (!(a.objects > 0) || !(a.expire >= 0)) throw new Error('lifecycle-bench: --objects must be positive, --expire not negative');
  return a;
}

/** Writes n one-byte-ish inline objects, 1000 per metadata batch, written `ageMs` ago. */
async function fill(engine: Engine, bucket: string, n: number, ageMs: number): Promise<void> {
  const store = engine.store;
  await store.createBucket(bucket, 'us-east-1');
  for (let i = 0; i < n; i += 1000) {
    const ops: MetaOp[] = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      const data = Buffer.from(`object ${j}`);
      const dataId = store.ids.dataId();
      const v: ObjectVersion = {
        bucket, key: `logs/${String(j).padStart(8, '0')}`, versionId: 'null', sortKey: store.ids.versionSortKey(),
        isDeleteMarker: false, lastModified: Date.now() - ageMs, size: data.length, etag: '0'.repeat(32),
        headers: {}, userMeta: {}, data: { kind: 'inline', dataId, size: data.length, crc32c: crc32c(data) },
      };
      ops.push({ type: 'putInline', dataId, data }, { type: 'putVersion', version: v }, { type: 'setCurrent', bucket, key: v.key, version: v });
    }
    await store.meta.batch(ops);
  }
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const root = await mkdtemp(path.join(a.dir, 'tessera-lifecycle-bench-'));
  const disks = [1, 2, 3, 4].map((i) => path.join(root, `disk${i}`));
  // The engine's own worker waits an hour; the bench drives a worker of its own.
  const engine = await openEngine({ disks, metaDir: path.join(root, 'meta'), parity: 2, lifecycle: { startDelayMs: 3_600_000 } });
  try {
    const t0 = performance.now();
    await fill(engine, 'examine', a.objects, 0);
    const fillSeconds = (performance.now() - t0) / 1000;
    await engine.store.updateBucket('examine', { lifecycle: [{ id: 'year', enabled: true, filter: { form: 'filter', prefix: 'logs/' }, expiration: { days: 365 } }] });
    const worker = new LifecycleWorker(engine.store, { objectsPerSecond: 0 });
    // How long requests could be held up: the longest the event loop was busy during the pass.
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    let t = performance.now();
    await worker.runPass();
    const examineSeconds = (performance.now() - t) / 1000;
    loop.disable();
    const examined = worker.stats.lastPassExamined ?? 0;

    let expireSeconds = 0;
    let expired = 0;
    if (a.expire > 0) {
      await engine.store.updateBucket('examine', { lifecycle: undefined });
      await fill(engine, 'expire', a.expire, 2 * 86_400_000);
      await engine.store.setVersioning('expire', 'Enabled');
      await engine.store.updateBucket('expire', { lifecycle: [{ id: 'day', enabled: true, filter: { form: 'filter' }, expiration: { days: 1 } }] });
      const w2 = new LifecycleWorker(engine.store, { objectsPerSecond: 0 });
      t = performance.now();
      await w2.runPass();
      expireSeconds = (performance.now() - t) / 1000;
      expired = w2.stats.actions.expire_current;
    }
    const result = {
      objects: a.objects,
      fillSeconds: round(fillSeconds),
      examineSeconds: round(examineSeconds),
      examined,
      examinedPerSecond: Math.round(examined / examineSeconds),
      loopDelayP99Ms: round(loop.percentile(99) / 1e6),
      loopDelayMaxMs: round(loop.max / 1e6),
      expireObjects: a.expire,
      expired,
      expireSeconds: round(expireSeconds),
      expiredPerSecond: expireSeconds > 0 ? Math.round(expired / expireSeconds) : 0,
    };
    if (a.json) console.log(JSON.stringify(result));
    else {
      console.log(`examine pass: ${examined} versions in ${result.examineSeconds} s = ${result.examinedPerSecond} objects/s (no action due); event-loop delay p99 ${result.loopDelayP99Ms} ms, max ${result.loopDelayMaxMs} ms`);
      if (a.expire > 0) console.log(`expire pass: ${expired} delete markers added in ${result.expireSeconds} s = ${result.expiredPerSecond} actions/s`);
    }
  } finally {
    await engine.close();
    await rm(root, { recursive: true, force: true });
  }
}

const round = (x: number) => Math.round(x * 100) / 100;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e: Error) => {
    console.error(e.message);
    process.exit(1);
  });
}
