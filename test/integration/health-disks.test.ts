// Readiness and disk metrics while disks go away and come back, on a real server with 6 disks
// (4 data + 2 parity: reads and writes need 4). The disk monitor checks every 5 s, so each
// step polls with a generous deadline.
//
// A disk "goes away" by its directory being moved aside with a plain file put in its place:
// reading it fails (ENOTDIR), as a failed or unreadable drive does. (An empty directory in its
// place would be a blank replacement disk: the monitor formats it and heals onto it; the last
// test covers that.) It "comes back" by being moved back, with its data.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rename, rm, writeFile } from 'node:fs/promises';
import { GetObjectCommand, PutObjectCommand, CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { sdkClient } from '../helpers/clients.js';
import { collect, patternBuffer } from '../helpers/data.js';
import { parseExposition, sample, total, type Exposition } from '../helpers/prom-text.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const T = { timeout: 240_000 };
const WAIT_MS = 60_000;

async function scrape(s: TestServer): Promise<Exposition> {
  const r = await fetch(`${s.endpoint}/metrics`);
  assert.equal(r.status, 200);
  return parseExposition(await r.text());
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function ready(s: TestServer): Promise<{ status: number; body: { status: string; reason?: string; disks: { online: number; offline: number[]; healing: number[] } } }> {
  const r = await fetch(`${s.endpoint}/health/ready`);
  return { status: r.status, body: (await r.json()) as never };
}

function diskState(e: Exposition, s: TestServer, slot: number): string | undefined {
  const labels = { disk: String(slot), path: s.disks[slot - 1]! };
  return ['ok', 'offline', 'healing'].find((state) => sample(e, 'tessera_disk_state', { ...labels, state }) === 1);
}

async function takeAway(dir: string): Promise<void> {
  await rename(dir, `${dir}.away`);
  for (;;) {
    try {
      await writeFile(dir, 'this disk is gone\n', { flag: 'wx' });
      return;
    } catch (e) {
      // The monitor saw the empty slot first and formatted a blank disk there: remove it, retry.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' && (e as NodeJS.ErrnoException).code !== 'EISDIR') throw e;
      await rm(dir, { recursive: true, force: true });
    }
  }
}

async function bringBack(dir: string): Promise<void> {
  await rm(dir, { force: true });
  await rename(`${dir}.away`, dir);
}

describe('readiness and disk state with disks going away', () => {
  let s: TestServer;
  let s3: S3Client;
  const bodies = [0, 1, 2].map((i) => patternBuffer(300_000 + i, 20 + i));
  before(async () => {
    s = await startTestServer({ disks: 6, parity: 2 });
    s3 = sdkClient(s, { maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket: 'keep' }));
    for (let i = 0; i < bodies.length; i++) await s3.send(new PutObjectCommand({ Bucket: 'keep', Key: `o${i}`, Body: bodies[i] }));
  });
  after(async () => {
    await s?.destroy();
  });

  test('m disks away: offline in the metrics, still ready; one more: 503 with the reason; back: 200 after the heal', T, async () => {
    await takeAway(s.disks[5]!);
    await waitFor('disk 6 offline in the metrics', async () => ((diskState(await scrape(s), s, 6) === 'offline') ? true : undefined));
    let e = await scrape(s);
    assert.equal(sample(e, 'tessera_disks_online'), 5);
    for (const slot of [1, 2, 3, 4, 5]) assert.equal(diskState(e, s, slot), 'ok', `disk ${slot}`);
    assert.equal(sample(e, 'tessera_disk_total_bytes', { disk: '6', path: s.disks[5]! }), undefined, 'no size for a disk that cannot be read');
    assert.equal((await ready(s)).status, 200);

    await takeAway(s.disks[4]!);
    await waitFor('disk 5 offline', async () => ((diskState(await scrape(s), s, 5) === 'offline') ? true : undefined));
    const two = await ready(s);
    assert.equal(two.status, 200, 'm = 2 disks away: still ready');
    assert.deepEqual(two.body.disks.offline, [5, 6]);

    await takeAway(s.disks[3]!);
    const down = await waitFor('ready to answer 503', async () => {
      const r = await ready(s);
      return r.status === 503 ? r : undefined;
    });
    assert.equal(down.body.status, 'unavailable');
    assert.match(down.body.reason ?? '', /only 3 of 6 disks are online; writes need 4 and reads 4 \(offline: disk 4, 5, 6\)/);
    assert.deepEqual(down.body.disks.offline, [4, 5, 6]);
    const head = await fetch(`${s.endpoint}/health/ready`, { method: 'HEAD' });
    assert.equal(head.status, 503);
    // Liveness is not readiness: the process still serves.
    assert.equal((await fetch(`${s.endpoint}/health/live`)).status, 200);
    e = await scrape(s);
    assert.equal(sample(e, 'tessera_ready'), 0);
    assert.equal(sample(e, 'tessera_disks_online'), 3);
    for (const slot of [4, 5, 6]) assert.equal(diskState(e, s, slot), 'offline');
    await assert.rejects(s3.send(new PutObjectCommand({ Bucket: 'keep', Key: 'refused', Body: patternBuffer(300_000, 9) })), (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode === 503);

    for (const i of [3, 4, 5]) await bringBack(s.disks[i]!);
    await waitFor('ready again', async () => ((await ready(s)).status === 200 ? true : undefined));
    e = await waitFor('every disk ok (heal done)', async () => {
      const x = await scrape(s);
      return [1, 2, 3, 4, 5, 6].every((slot) => diskState(x, s, slot) === 'ok') ? x : undefined;
    });
    assert.equal(sample(e, 'tessera_ready'), 1);
    assert.equal(sample(e, 'tessera_disks_online'), 6);
    const back = await ready(s);
    assert.deepEqual(back.body.disks, { online: 6, total: 6, offline: [], healing: [] });
    for (let i = 0; i < bodies.length; i++) {
      const got = await s3.send(new GetObjectCommand({ Bucket: 'keep', Key: `o${i}` }));
      assert.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(bodies[i]!), `o${i} reads back`);
    }
  });

  test('a disk directory wiped at run time is formatted blank and healed: missing and rebuilt shards counted', T, async () => {
    const before = await scrape(s);
    await rm(s.disks[0]!, { recursive: true, force: true });
    const e = await waitFor('the shards of disk 1 rebuilt', async () => {
      const x = await scrape(s);
      return total(x, 'tessera_heal_shards_rebuilt_total') - total(before, 'tessera_heal_shards_rebuilt_total') >= bodies.length && diskState(x, s, 1) === 'ok' ? x : undefined;
    });
    // One shard of each object lived on disk 1.
    assert.equal(total(e, 'tessera_heal_shards_rebuilt_total') - total(before, 'tessera_heal_shards_rebuilt_total'), bodies.length);
    assert.equal(total(e, 'tessera_heal_shards_missing_total') - total(before, 'tessera_heal_shards_missing_total'), bodies.length);
    assert.equal(total(e, 'tessera_bitrot_shards_found_total') - total(before, 'tessera_bitrot_shards_found_total'), 0);
    assert.equal((await ready(s)).status, 200);
    for (let i = 0; i < bodies.length; i++) {
      const got = await s3.send(new GetObjectCommand({ Bucket: 'keep', Key: `o${i}` }));
      assert.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(bodies[i]!));
    }
  });
});
