// Health and metrics endpoints against a real server: /metrics is strict Prometheus text and
// its counters follow real SDK traffic; health needs no credentials, answers HEAD and is not
// subject to per-key limits; the metrics token; bit rot found by a GET shows in the counters.
// (Disks going away and coming back: health-disks.test.ts.)

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, open } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { sdkClient } from '../helpers/clients.js';
import { collect, patternBuffer } from '../helpers/data.js';
import { parseExposition, sample, total, type Exposition } from '../helpers/prom-text.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const T = { timeout: 120_000 };

async function scrape(s: TestServer, headers: Record<string, string> = {}): Promise<Exposition> {
  const r = await fetch(`${s.endpoint}/metrics`, { headers });
  assert.equal(r.status, 200, await r.clone().text());
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(await r.text());
}

/** Scrapes until `ok` holds (request metrics are counted when the reply's connection event fires). */
async function scrapeUntil(s: TestServer, what: string, ok: (e: Exposition) => boolean, ms = 20_000): Promise<Exposition> {
  const deadline = Date.now() + ms;
  for (;;) {
    const e = await scrape(s);
    if (ok(e)) return e;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every metric family the server exports (the dashboard test checks its queries against a scrape too). */
const FAMILIES = [
  'tessera_http_requests_total', 'tessera_http_request_duration_seconds', 'tessera_http_received_bytes_total',
  'tessera_http_sent_bytes_total', 'tessera_http_requests_in_flight', 'tessera_disk_total_bytes', 'tessera_disk_used_bytes',
  'tessera_disk_free_bytes', 'tessera_disk_state', 'tessera_disks_online', 'tessera_disks_total', 'tessera_ready',
  'tessera_heal_shards_rebuilt_total', 'tessera_heal_shards_missing_total', 'tessera_bitrot_shards_found_total',
  'tessera_bitrot_shards_repaired_total', 'tessera_heal_queue_length', 'tessera_scanner_enabled', 'tessera_scanner_running',
  'tessera_scanner_pass_objects', 'tessera_scanner_pass_bytes', 'tessera_scanner_passes_total',
  'tessera_scanner_last_pass_end_timestamp_seconds', 'tessera_buckets', 'tessera_bucket_objects', 'tessera_bucket_bytes',
  'tessera_metadata_store_bytes', 'tessera_metrics_scrape_duration_seconds', 'tessera_http_connections_open',
  'tessera_http_connections_refused_total',
  'process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes',
];

describe('metrics with SDK traffic', () => {
  let s: TestServer;
  let s3: S3Client;
  before(async () => {
    s = await startTestServer();
    s3 = sdkClient(s);
  });
  after(async () => {
    await s?.destroy();
  });

  test('GET /metrics is strict Prometheus text with every family, types as documented', T, async () => {
    const e = await scrape(s);
    for (const f of FAMILIES) assert.ok(e.types.has(f), `${f} is exported`);
    assert.equal(e.types.get('tessera_http_requests_total'), 'counter');
    assert.equal(e.types.get('tessera_http_request_duration_seconds'), 'histogram');
    assert.equal(e.types.get('tessera_disk_state'), 'gauge');
    for (const [name] of e.types) assert.ok(e.help.get(name), `${name} has HELP`);
    assert.equal(sample(e, 'tessera_disks_total'), 4);
    assert.equal(sample(e, 'tessera_disks_online'), 4);
    assert.equal(sample(e, 'tessera_ready'), 1);
    for (let d = 1; d <= 4; d++) {
      const labels = { disk: String(d), path: s.disks[d - 1]! };
      assert.equal(sample(e, 'tessera_disk_state', { ...labels, state: 'ok' }), 1);
      assert.equal(sample(e, 'tessera_disk_state', { ...labels, state: 'offline' }), 0);
      assert.ok((sample(e, 'tessera_disk_total_bytes', labels) ?? 0) > 0);
      assert.ok((sample(e, 'tessera_disk_free_bytes', labels) ?? -1) >= 0);
    }
    // HEAD: the headers of a scrape, no body.
    const head = await fetch(`${s.endpoint}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  test('requests by operation and status, latency, bytes in and out, bucket usage move with SDK traffic', T, async () => {
    const before = await scrape(s);
    const count = (e: Exposition, operation: string, status: string) => total(e, 'tessera_http_requests_total', { operation, status });
    const body = patternBuffer(300_000, 7);
    await s3.send(new CreateBucketCommand({ Bucket: 'metered' }));
    await s3.send(new PutObjectCommand({ Bucket: 'metered', Key: 'big', Body: body }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'metered', Key: 'big' }));
    assert.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(body));
    await s3.send(new HeadObjectCommand({ Bucket: 'metered', Key: 'big' }));
    await s3.send(new ListObjectsV2Command({ Bucket: 'metered' }));
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'metered', Key: 'absent' })), { name: 'NoSuchKey' });
    // Refused before any handler ran (no signature): still counted under its operation.
    const anonymous = await fetch(`${s.endpoint}/metered/anon`, { method: 'PUT', body: 'x' });
    assert.equal(anonymous.status, 403);

    const e = await scrapeUntil(s, 'the requests to be counted', (x) => count(x, 'PutObject', '403') >= 1 && count(x, 'GetObject', '404') >= 1 && count(x, 'ListObjectsV2', '200') >= 1);
    const delta = (name: string, labels: Record<string, string>) => total(e, name, labels) - total(before, name, labels);
    assert.equal(delta('tessera_http_requests_total', { operation: 'CreateBucket', status: '200' }), 1);
    assert.equal(delta('tessera_http_requests_total', { operation: 'PutObject', status: '200' }), 1);
    assert.equal(delta('tessera_http_requests_total', { operation: 'GetObject', status: '200' }), 1);
    assert.equal(delta('tessera_http_requests_total', { operation: 'HeadObject', status: '200' }), 1);
    assert.equal(delta('tessera_http_requests_total', { operation: 'ListObjectsV2', status: '200' }), 1);
    assert.equal(delta('tessera_http_requests_total', { operation: 'GetObject', status: '404' }), 1);
    assert.equal(delta('tessera_http_requests_total', { operation: 'PutObject', status: '403' }), 1);
    // The SDK may frame the body (aws-chunked with a checksum trailer): at least the object's bytes.
    const inPut = delta('tessera_http_received_bytes_total', { operation: 'PutObject' });
    assert.ok(inPut >= body.length && inPut < body.length + 4096, `received ${inPut}`);
    const outGet = delta('tessera_http_sent_bytes_total', { operation: 'GetObject' });
    // The 200 and the 404's XML error body.
    assert.ok(outGet > body.length && outGet < body.length + 1024, `sent ${outGet}`);
    assert.equal(delta('tessera_http_request_duration_seconds_count', { operation: 'PutObject' }), 2);
    assert.ok(delta('tessera_http_request_duration_seconds_sum', { operation: 'PutObject' }) > 0);
    const inf = sample(e, 'tessera_http_request_duration_seconds_bucket', { operation: 'GetObject', le: '+Inf' });
    assert.equal(inf, sample(e, 'tessera_http_request_duration_seconds_count', { operation: 'GetObject' }));
    assert.equal(sample(e, 'tessera_http_requests_in_flight'), 0);
    // Label sets stay bounded: no bucket or key on request metrics.
    for (const x of e.samples) if (x.name.startsWith('tessera_http_')) assert.deepEqual(Object.keys(x.labels).filter((k) => !['operation', 'status', 'le'].includes(k)), [], x.name);
    // Usage per bucket, from the incremental usage record.
    assert.equal(sample(e, 'tessera_bucket_objects', { bucket: 'metered' }), 1);
    assert.equal(sample(e, 'tessera_bucket_bytes', { bucket: 'metered' }), body.length);
    assert.ok((sample(e, 'tessera_buckets') ?? 0) >= 1);
    assert.ok((sample(e, 'tessera_metadata_store_bytes') ?? 0) > 0);
    // Health and metrics requests are not counted as S3 traffic.
    assert.equal(e.samples.some((x) => x.labels.operation === 'Unknown' && x.name === 'tessera_http_requests_total'), false);
  });

  test('a flipped byte found by a GET counts as bit rot found, repaired and a rebuilt shard', T, async () => {
    const body = patternBuffer(400_000, 3);
    await s3.send(new PutObjectCommand({ Bucket: 'metered', Key: 'rot', Body: body }));
    const shard0 = await findShard(s, 'rot', 0);
    await flipByte(shard0, 10);
    const before = await scrape(s);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'metered', Key: 'rot' }));
    assert.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(body), 'served from parity');
    const e = await scrapeUntil(s, 'the repair to be counted', (x) => total(x, 'tessera_bitrot_shards_repaired_total') > total(before, 'tessera_bitrot_shards_repaired_total'));
    assert.equal(total(e, 'tessera_bitrot_shards_found_total') - total(before, 'tessera_bitrot_shards_found_total'), 1);
    assert.equal(total(e, 'tessera_bitrot_shards_repaired_total') - total(before, 'tessera_bitrot_shards_repaired_total'), 1);
    assert.equal(total(e, 'tessera_heal_shards_rebuilt_total') - total(before, 'tessera_heal_shards_rebuilt_total'), 1);
    assert.equal(total(e, 'tessera_heal_shards_missing_total') - total(before, 'tessera_heal_shards_missing_total'), 0);
    assert.equal(sample(e, 'tessera_heal_queue_length'), 0);
  });
});

/** The file of shard `index` of the object named `key`, found by the trailer every shard file ends with. */
async function findShard(s: TestServer, key: string, index: number): Promise<string> {
  let found: string | undefined;
  for (const disk of s.disks) {
    for (const dir of await readdir(path.join(disk, 'shards')).catch(() => [] as string[])) {
      for (const name of await readdir(path.join(disk, 'shards', dir))) {
        const file = path.join(disk, 'shards', dir, name);
        const raw = await readFile(file);
        // Trailer: JSON, its length (u32 BE), magic "TSR1".
        if (raw.length < 8 || raw.readUInt32BE(raw.length - 4) !== 0x54535231) continue;
        const len = raw.readUInt32BE(raw.length - 8);
        const t = JSON.parse(raw.subarray(raw.length - 8 - len, raw.length - 8).toString('utf8')) as { shardIndex: number; key?: string };
        if (t.shardIndex === index && t.key === key) found = file;
      }
    }
  }
  assert.ok(found, `shard ${index} of the object is on some disk`);
  return found;
}

async function flipByte(file: string, at: number): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, at);
  } finally {
    await fh.close();
  }
}

describe('health endpoints', () => {
  let s: TestServer;
  before(async () => {
    // One request per second per key (anonymous: per client address): S3 requests get SlowDown fast.
    s = await startTestServer({ env: { TESSERA_REQUESTS_PER_SECOND_PER_KEY: '1' } });
  });
  after(async () => {
    await s?.destroy();
  });

  test('live and ready answer 200 JSON without credentials, HEAD too, and are never throttled', T, async () => {
    const live = await fetch(`${s.endpoint}/health/live`);
    assert.equal(live.status, 200);
    assert.equal(live.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(live.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await live.json(), { status: 'ok' });
    const ready = await fetch(`${s.endpoint}/health/ready`);
    assert.equal(ready.status, 200);
    const r = (await ready.json()) as Record<string, unknown>;
    assert.equal(r.status, 'ready');
    assert.deepEqual(r.disks, { online: 4, total: 4, offline: [], healing: [] });
    assert.equal(r.metadata, 'open');
    for (const p of ['/health/live', '/health/ready']) {
      const h = await fetch(`${s.endpoint}${p}`, { method: 'HEAD' });
      assert.equal(h.status, 200, p);
      assert.equal(await h.text(), '');
      assert.ok(Number(h.headers.get('content-length')) > 0, 'HEAD gives the length a GET would');
    }
    // A burst far over the rate limit: every probe and scrape answered, while S3 requests from
    // the same address are refused with SlowDown.
    const probes = await Promise.all(Array.from({ length: 60 }, (_, i) => fetch(`${s.endpoint}${['/health/live', '/health/ready', '/metrics'][i % 3]}`).then(async (x) => (await x.arrayBuffer(), x.status))));
    assert.deepEqual([...new Set(probes)], [200]);
    const s3 = await Promise.all(Array.from({ length: 10 }, () => fetch(`${s.endpoint}/`).then(async (x) => ({ status: x.status, text: await x.text() }))));
    assert.ok(s3.some((x) => x.status === 503 && x.text.includes('<Code>SlowDown</Code>')), 'the limit is in force for S3 requests');
  });

  test('a query string does not change them; other methods on those paths stay S3 requests', T, async () => {
    const q = await fetch(`${s.endpoint}/health/ready?x=1`);
    assert.equal(q.status, 200);
    assert.equal(((await q.json()) as { status: string }).status, 'ready');
    // Another method on the path is S3's: an anonymous PUT is refused by S3 (XML), not by health.
    const put = await fetch(`${s.endpoint}/health/live`, { method: 'PUT', body: 'x' });
    assert.ok(put.status === 403 || put.status === 503, String(put.status));
    assert.match(await put.text(), /<Error>/);
  });
});

describe('metrics token', () => {
  let s: TestServer;
  const token = 'scrape-token-0123456789abcdef';
  before(async () => {
    s = await startTestServer({ env: { TESSERA_METRICS_TOKEN: token } });
  });
  after(async () => {
    await s?.destroy();
  });

  test('/metrics needs the bearer token (401 without, 403 wrong); health never does', T, async () => {
    const none = await fetch(`${s.endpoint}/metrics`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer /);
    assert.doesNotMatch(await none.text(), /tessera_/);
    const wrong = await fetch(`${s.endpoint}/metrics`, { headers: { Authorization: `Bearer ${token}x` } });
    assert.equal(wrong.status, 403);
    assert.doesNotMatch(await wrong.text(), /tessera_/);
    const basic = await fetch(`${s.endpoint}/metrics`, { headers: { Authorization: `Basic ${Buffer.from(`u:${token}`).toString('base64')}` } });
    assert.equal(basic.status, 401);
    const e = await scrape(s, { Authorization: `Bearer ${token}` });
    assert.equal(sample(e, 'tessera_ready'), 1);
    assert.equal((await fetch(`${s.endpoint}/health/live`)).status, 200);
    assert.equal((await fetch(`${s.endpoint}/health/ready`)).status, 200);
  });
});

describe('connection caps in the metrics', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ env: { TESSERA_MAX_CONNECTIONS_PER_IP: '2' } });
  });
  after(async () => {
    await s?.destroy();
  });

  test('open connections and connections refused by the per-address cap are counted', T, async () => {
    // Four idle sockets from 127.0.0.2: two admitted, two refused (the scrape comes from 127.0.0.1).
    const sockets = await Promise.all(Array.from({ length: 4 }, () => new Promise<net.Socket>((resolve, reject) => {
      const c = net.connect({ port: s.port, host: '127.0.0.1', localAddress: '127.0.0.2' }, () => resolve(c));
      c.on('error', reject);
    })));
    try {
      const e = await scrapeUntil(s, 'two refusals', (x) => sample(x, 'tessera_http_connections_refused_total') === 2);
      // The two admitted idle sockets and the scrape's own connection.
      assert.equal(sample(e, 'tessera_http_connections_open'), 3);
    } finally {
      for (const c of sockets) c.destroy();
    }
  });
});

describe('scanner in the metrics', () => {
  let s: TestServer;
  before(async () => {
    // The scanner starts its first pass 30 s after start-up.
    s = await startTestServer({ env: { TESSERA_SCANNER_BYTES_PER_SECOND: '64MiB' } });
  });
  after(async () => {
    await s?.destroy();
  });

  test('a scanner pass shows its progress and counts the bit rot it repaired', { timeout: 180_000 }, async () => {
    const s3 = sdkClient(s);
    await s3.send(new CreateBucketCommand({ Bucket: 'scanned' }));
    const body = patternBuffer(400_000, 5);
    await s3.send(new PutObjectCommand({ Bucket: 'scanned', Key: 'rot', Body: body }));
    await s3.send(new PutObjectCommand({ Bucket: 'scanned', Key: 'fine', Body: patternBuffer(300_000, 6) }));
    // Nobody reads it: only the scanner can find this.
    await flipByte(await findShard(s, 'rot', 1), 10);
    const first = await scrape(s);
    assert.equal(sample(first, 'tessera_scanner_enabled'), 1);
    assert.equal(sample(first, 'tessera_scanner_passes_total'), 0);
    assert.equal(sample(first, 'tessera_scanner_last_pass_end_timestamp_seconds'), 0);
    const e = await scrapeUntil(s, 'a scanner pass', (x) => (sample(x, 'tessera_scanner_passes_total') ?? 0) >= 1, 120_000);
    assert.equal(sample(e, 'tessera_scanner_pass_objects'), 2);
    assert.ok((sample(e, 'tessera_scanner_pass_bytes') ?? 0) >= 700_000, 'every shard of both objects read');
    const ended = sample(e, 'tessera_scanner_last_pass_end_timestamp_seconds') ?? 0;
    assert.ok(Math.abs(ended - Date.now() / 1000) < 120, `pass ended at ${ended}`);
    assert.equal(sample(e, 'tessera_bitrot_shards_found_total'), 1);
    assert.equal(sample(e, 'tessera_bitrot_shards_repaired_total'), 1);
    assert.equal(sample(e, 'tessera_heal_shards_rebuilt_total'), 1);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'scanned', Key: 'rot' }));
    assert.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(body));
  });
});
