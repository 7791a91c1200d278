// Delivery of event notifications: at least once, in order per key, through a receiver that is
// down for 10 s, and through a kill -9 of the server right after acknowledged writes. Also
// measures the delivery latency to a local webhook (commit to receipt).

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { sdkClient } from '../helpers/clients.js';
import { freePort, spawnServer } from '../helpers/process-server.js';
import { startTestServer, TEST_ACCESS_KEY, TEST_SECRET_KEY, type TestServer } from '../helpers/server.js';
import { WebhookReceiver } from '../helpers/webhook.js';

const ARN = 'arn:tessera:sqs::hook:webhook';

async function configure(s3: S3Client, bucket: string): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketNotificationConfigurationCommand({
    Bucket: bucket,
    NotificationConfiguration: { QueueConfigurations: [{ Id: 'all', QueueArn: ARN, Events: ['s3:ObjectCreated:*'] }] },
  }));
}

async function metric(endpoint: string, name: string): Promise<number> {
  const text = await (await fetch(`${endpoint}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{target="hook"}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

describe('event delivery', { timeout: 300_000 }, () => {
  let server: TestServer;
  let s3: S3Client;
  const hook = new WebhookReceiver();

  before(async () => {
    await hook.up();
    server = await startTestServer({ env: { TESSERA_NOTIFY_WEBHOOK_HOOK: hook.url, TESSERA_NOTIFY_RETRY_MAX_SECONDS: '1' } });
    s3 = sdkClient(server);
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
    await hook.down();
  });

  test('a receiver down for 10 s then up gets every event, in order per key', async () => {
    await configure(s3, 'down');
    await hook.down();
    const keys = ['k0', 'k1', 'k2', 'k3'];
    // Ten versions of each key, interleaved; the size says which version it is.
    for (let i = 1; i <= 10; i++) {
      await Promise.all(keys.map((k) => s3.send(new PutObjectCommand({ Bucket: 'down', Key: k, Body: Buffer.alloc(i, 1) }))));
    }
    await new Promise((r) => setTimeout(r, 10_000));
    assert.equal(hook.received.length, 0);
    assert.equal(await metric(server.endpoint, 'tessera_notify_events_queued'), 40);
    assert.ok(await metric(server.endpoint, 'tessera_notify_events_failed_total') > 0, 'failed attempts are counted');
    await hook.up(); // same port
    const got = await hook.waitFor(40, 60_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(got.length, 40, 'each event once (no restart in between)');
    for (const k of keys) {
      const sizes = got.filter((r) => r.record.s3.object.key === k).map((r) => r.record.s3.object.size);
      assert.deepEqual(sizes, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], `events of ${k} in commit order`);
    }
    assert.equal(await metric(server.endpoint, 'tessera_notify_events_queued'), 0);
    assert.equal(await metric(server.endpoint, 'tessera_notify_events_sent_total'), 40);
  });

  for (const [n, concurrency] of [[1000, 8], [200, 1]] as const) {
    test(`delivery latency to a local webhook, ${n} PUTs from ${concurrency} client(s)`, async (t) => {
      hook.received.length = 0;
      const bucket = `latency-${concurrency}`;
      await configure(s3, bucket);
      let next = 0;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < n) {
          const i = next++;
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `obj-${i}`, Body: Buffer.alloc(1024, 2) }));
        }
      }));
      const got = await hook.waitFor(n, 120_000);
      // eventTime is the commit time (server clock, ms); the receiver notes its own on arrival.
      const ms = got.map((r) => r.wall - Date.parse(r.record.eventTime)).sort((a, b) => a - b);
      const p50 = pct(ms, 50);
      const p99 = pct(ms, 99);
      t.diagnostic(`delivery latency commit→webhook over ${n} PUTs (${concurrency} concurrent): p50 ${p50} ms, p99 ${p99} ms, max ${ms.at(-1)} ms`);
      console.log(`notify latency (${n} PUTs, ${concurrency} concurrent): p50 ${p50} ms, p99 ${p99} ms, max ${ms.at(-1)} ms`);
      assert.ok(p99 < 5000, `p99 ${p99} ms`);
    });
  }
});

describe('event delivery across kill -9', { timeout: 300_000 }, () => {
  let root: string;
  const hook = new WebhookReceiver();
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'tessera-notify-crash-'));
    await hook.up();
  });
  after(async () => {
    await hook.down();
    await rm(root, { recursive: true, force: true });
  });

  test('no event of an acknowledged write is lost when the server is killed right after it', async () => {
    const port = await freePort();
    const env = { TESSERA_NOTIFY_WEBHOOK_HOOK: hook.url, TESSERA_NOTIFY_RETRY_MAX_SECONDS: '1', TESSERA_PARITY: '2' };
    let child = await spawnServer(root, port, env);
    const s3 = new S3Client({ endpoint: child.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY } });
    try {
      await configure(s3, 'crash');
      // The receiver takes some and refuses the rest, so some events are still queued at the kill.
      let accepted = 0;
      hook.failWith = undefined;
      const keys: string[] = [];
      for (let i = 0; i < 30; i++) {
        if (i === 10) hook.failWith = 503;
        const k = `key-${i}`;
        await s3.send(new PutObjectCommand({ Bucket: 'crash', Key: k, Body: `v${i}` }));
        keys.push(k);
      }
      accepted = hook.received.length;
      child.child.kill('SIGKILL');
      await child.exited;
      assert.ok(accepted <= 10);
      hook.failWith = undefined;
      child = await spawnServer(root, port, env);
      const deadline = Date.now() + 60_000;
      const seen = () => new Set(hook.received.map((r) => r.record.s3.object.key));
      while (seen().size < keys.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual([...seen()].sort(), [...keys].sort(), 'every acknowledged write has its event after the restart');
    } finally {
      s3.destroy();
      child.child.kill('SIGKILL');
      await child.exited;
    }
  });
});
