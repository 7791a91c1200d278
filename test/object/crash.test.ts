// Crash safety of the commit protocol: a child process writes, overwrites and deletes objects
// and is killed with SIGKILL at random moments, 50 times. After each kill, recovery must show
// every acknowledged write (or the one in flight after it, complete), nothing half-written,
// no temporary files, and no shard file that no metadata refers to. In some rounds the
// metadata directory is deleted first, so the child starts by rebuilding it from the disks,
// and some of those children are killed during that rebuild; in others a start-up is killed
// during its recovery of the previous kill. The kill times are random; the
// seed is in every failure message (CRASH_SEED=n repeats a run).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openEngine } from '../../src/object/engine.js';
import { collect } from '../helpers/data.js';
import { S3Error } from '../../src/errors.js';
import { layoutsOf } from '../../src/object/garbage.js';

const CHILD = fileURLToPath(new URL('../helpers/crash-writer.js', import.meta.url));
const ROUNDS = 50;

interface Op { op: 'put' | 'del'; gen: number; md5: string }

/** Kills the child `killAfterMs` after it said "ready", or, with `fromSpawn`, after it was started (maybe mid-rebuild). */
function runUntilKilled(root: string, seed: number, killAfterMs: number, fromSpawn = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, root, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined = fromSpawn ? setTimeout(() => child.kill('SIGKILL'), killAfterMs) : undefined;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!timer && out.includes('ready\n')) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve(out);
      else reject(new Error(`crash writer exited on its own (${code}): ${err}`));
    });
  });
}

const SEED = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));

test(`acknowledged writes survive ${ROUNDS} SIGKILLs, also during metadata rebuilds and start-up recovery; nothing half-visible; no temp files or orphans (seed ${SEED})`, { timeout: 600_000 }, async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-crash-'));
  let state = SEED;
  const rand = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  let rebuildsKilled = 0;
  let recoveriesKilled = 0;
  // Per key: the last acknowledged op, and an op started after it (in flight at the kill).
  const acked = new Map<string, Op>();
  let totalAcks = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // One round in four starts without its metadata directory; half of those are killed
      // while the child may still be rebuilding it (and the next start rebuilds again).
      const dropMeta = rand() < 0.25;
      const duringRebuild = dropMeta && rand() < 0.5;
      if (dropMeta) await rm(path.join(root, 'meta'), { recursive: true, force: true });
      // One round in five (of the others) first kills a start-up at a random moment: the
      // recovery of what the last kill left (temporary files to publish or delete, the journal
      // to replay) is itself interrupted, and the next start must finish it.
      const duringRecovery = !dropMeta && rand() < 0.2;
      let out = '';
      if (duringRecovery) {
        out = await runUntilKilled(root, round + 2000, Math.floor(rand() * 300), true);
        if (!out.includes('ready\n')) recoveriesKilled++;
      }
      out += await runUntilKilled(root, round + 1, duringRebuild ? Math.floor(rand() * 400) : 100 + Math.floor(rand() * 700), duringRebuild);
      if (duringRebuild) {
        if (!out.includes('ready\n')) rebuildsKilled++;
        out += await runUntilKilled(root, round + 1000, 100 + Math.floor(rand() * 500));
      }
      const inflight = new Map<string, Op>();
      for (const line of out.split('\n')) {
        const [kind, op, key, gen, md5] = line.split(' ');
        if (kind !== 'start' && kind !== 'ack') continue;
        const rec = { op: op as Op['op'], gen: Number(gen), md5 };
        if (kind === 'start') inflight.set(key, rec);
        else {
          acked.set(key, rec);
          inflight.delete(key);
          totalAcks++;
        }
      }

      const e = await openEngine({ disks: [1, 2, 3, 4].map((i) => `${root}/disk${i}`), metaDir: `${root}/meta`, parity: 2, blockSize: 64 * 1024, inlineThreshold: 4096 });
      try {
        const keys = new Set([...acked.keys(), ...inflight.keys()]);
        for (const key of keys) {
          const allowed = [acked.get(key), inflight.get(key)].filter((x): x is Op => x !== undefined);
          let state: { exists: false } | { exists: true; md5: string };
          try {
            const v = await e.store.resolve('crash', key);
            const body = await collect(e.store.openData(v));
            const md5 = createHash('md5').update(body).digest('hex');
            assert.equal(md5, v.etag, `seed ${SEED} round ${round}: ${key} content does not match its own ETag`);
            state = { exists: true, md5 };
          } catch (err) {
            if (!(err instanceof S3Error && err.code === 'NoSuchKey')) throw err;
            state = { exists: false };
          }
          const ok = allowed.some((o) => (o.op === 'del' ? !state.exists : state.exists && state.md5 === o.md5));
          // A key never acknowledged may also simply not exist.
          const neverAcked = !acked.has(key) && !state.exists;
          assert.ok(ok || neverAcked, `seed ${SEED} round ${round}: ${key} is ${JSON.stringify(state)}, expected one of ${JSON.stringify(allowed)}`);
          // What recovery decided becomes the new truth for the next round.
          if (inflight.has(key)) {
            const o = inflight.get(key)!;
            const took = o.op === 'del' ? !state.exists : state.exists && state.md5 === o.md5;
            if (took) acked.set(key, o);
          }
        }
        // Recovery removed every temporary file, and every shard file on disk is referenced.
        const referenced = new Set<string>();
        const page = await e.store.meta.listVersions('crash', { maxKeys: 1000 });
        for (const v of page.versions) for (const l of layoutsOf(v.data)) referenced.add(l.dataId);
        const cp = e.metaIndex.checkpoint?.layout as { dataId: string } | undefined;
        if (cp) referenced.add(cp.dataId);
        for (const d of e.store.disks) {
          assert.deepEqual(await readdir(d.tmpDir), [], `seed ${SEED} round ${round}: temp files left on ${d.root}`);
          for (const sub of await readdir(path.join(d.root, 'shards'))) {
            for (const f of await readdir(path.join(d.root, 'shards', sub))) {
              assert.ok(referenced.has(f), `seed ${SEED} round ${round}: orphan shard file ${f} on ${d.root}`);
            }
          }
        }
        assert.deepEqual(await e.store.meta.listGarbage(10), []);
      } finally {
        await e.close();
      }
    }
    assert.ok(totalAcks > ROUNDS * 5, `the writer acknowledged only ${totalAcks} operations`);
    t.diagnostic(`seed ${SEED}: ${totalAcks} acknowledged operations, ${rebuildsKilled} children killed before the rebuild finished, ${recoveriesKilled} during start-up recovery`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
