// The live event stream: GET /tessera/admin/v1/events (Server-Sent Events, signed) and the
// `tessera watch` CLI on top of it. A change must show within 100 ms; the figure is printed.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import aws4 from 'aws4';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { sdkClient } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Stream {
  status: number;
  events: Array<{ event: string; data: any; at: number }>;
  text: () => string;
  close(): void;
}

/** Opens the SSE stream with a signed GET; resolves once the reply headers are in. */
function openStream(s: TestServer, query: string, sign = true): Promise<Stream> {
  const url = new URL(s.endpoint);
  const path = `/tessera/admin/v1/events?${query}`;
  const opts = { host: url.host, path, method: 'GET', service: 's3', region: s.region, headers: {} as Record<string, string> };
  if (sign) aws4.sign(opts, { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey });
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname: url.hostname, port: url.port, path, method: 'GET', headers: opts.headers }, (res) => {
      let buf = '';
      let all = '';
      const stream: Stream = { status: res.statusCode ?? 0, events: [], text: () => all, close: () => req.destroy() };
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        all += c;
        buf += c;
        for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
          const msg = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const event = /^event: (.*)$/m.exec(msg)?.[1];
          const data = /^data: (.*)$/m.exec(msg)?.[1];
          if (event && data) stream.events.push({ event, data: JSON.parse(data), at: performance.now() });
        }
      });
      res.on('error', () => undefined);
      resolve(stream);
    });
    req.on('error', reject);
    req.end();
  });
}

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('live event stream', { timeout: 120_000 }, () => {
  let server: TestServer;
  let s3: S3Client;
  before(async () => {
    server = await startTestServer();
    s3 = sdkClient(server);
    await s3.send(new CreateBucketCommand({ Bucket: 'live' }));
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  test('SSE stream shows a change within 100 ms, filtered by prefix and event type', async (t) => {
    const all = await openStream(server, 'bucket=live');
    const deletes = await openStream(server, 'bucket=live&prefix=docs%2F&events=delete');
    assert.equal(all.status, 200);
    const lat: number[] = [];
    for (let i = 0; i < 20; i++) {
      const before = all.events.length;
      await s3.send(new PutObjectCommand({ Bucket: 'live', Key: `docs/f${i}.txt`, Body: 'hello' }));
      const acked = performance.now();
      await until(() => all.events.length > before);
      lat.push(Math.max(0, all.events.at(-1)!.at - acked));
    }
    lat.sort((a, b) => a - b);
    t.diagnostic(`live stream: change visible ${lat[10]!.toFixed(1)} ms (median), ${lat.at(-1)!.toFixed(1)} ms (max) after the PUT's reply`);
    console.log(`watch stream latency after PUT reply: median ${lat[10]!.toFixed(1)} ms, max ${lat.at(-1)!.toFixed(1)} ms`);
    assert.ok(lat[10]! < 100, `median ${lat[10]} ms`);
    const rec = all.events[0]!.data.Records[0];
    assert.equal(rec.eventName, 'ObjectCreated:Put');
    assert.equal(rec.s3.object.key, 'docs/f0.txt');
    assert.equal(rec.s3.object.size, 5);
    await s3.send(new DeleteObjectCommand({ Bucket: 'live', Key: 'other/x' }));
    await s3.send(new PutObjectCommand({ Bucket: 'live', Key: 'other/y', Body: 'x' }));
    await s3.send(new DeleteObjectCommand({ Bucket: 'live', Key: 'docs/f1.txt' }));
    await until(() => deletes.events.length >= 1);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(deletes.events.map((e) => `${e.data.Records[0].eventName} ${e.data.Records[0].s3.object.key}`), ['ObjectRemoved:Delete docs/f1.txt']);
    all.close();
    deletes.close();
  });

  test('a subscriber that does not read is dropped with a final event, not buffered without bound', async (t) => {
    const url = new URL(server.endpoint);
    const path = '/tessera/admin/v1/events?bucket=live&prefix=slow%2F';
    const opts = { host: url.host, path, method: 'GET', service: 's3', region: server.region, headers: {} as Record<string, string> };
    aws4.sign(opts, { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey });
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({ hostname: url.hostname, port: url.port, path, method: 'GET', headers: opts.headers }, resolve);
      req.on('error', reject);
      req.end();
    });
    assert.equal(res.statusCode, 200);
    res.pause(); // a reader that stopped reading
    let ended = false;
    res.once('end', () => (ended = true));
    // Long keys (3 KB once URL-encoded) fill the socket buffers and the 1 MiB allowance quickly.
    const long = 'é'.repeat(500);
    let n = 0;
    const started = Date.now();
    let dropped = false;
    const chunks: string[] = [];
    const hub = server.started.engine.store.events.live;
    const subscribers = hub.size;
    while (!dropped && n < 20_000 && Date.now() - started < 90_000) {
      await Promise.all(Array.from({ length: 16 }, () => s3.send(new PutObjectCommand({ Bucket: 'live', Key: `slow/${long}${n++}`, Body: '' }))));
      dropped = hub.size < subscribers; // the server let go of it
    }
    assert.ok(dropped, `still subscribed after ${n} events`);
    res.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
    res.resume();
    await until(() => ended, 30_000);
    const text = chunks.join('');
    t.diagnostic(`dropped after ${n} events were produced for a subscriber that stopped reading`);
    assert.match(text.trimEnd().split('\n\n').at(-1)!, /^event: dropped\ndata: .*read too slowly/);
  });

  test('unsigned or unknown-bucket requests are refused', async () => {
    const anon = await openStream(server, 'bucket=live', false);
    assert.equal(anon.status, 403);
    anon.close();
    const missing = await openStream(server, 'bucket=nosuchbucket');
    assert.equal(missing.status, 404);
    await until(() => missing.text().includes('NoSuchBucket'));
    missing.close();
    const bad = await openStream(server, 'bucket=live&events=sideways');
    assert.equal(bad.status, 400);
    bad.close();
  });

  test('tessera watch prints each change as it happens (human lines and --json)', async (t) => {
    const run = (extra: string[]) => {
      const p = spawn(process.execPath, [MAIN, 'watch', 's3://live/cli/', '--endpoint', server.endpoint, '--access-key', server.accessKeyId, '--secret-key', server.secretAccessKey, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
      const o = { out: '', err: '', lines: [] as Array<{ line: string; at: number }> };
      p.stdout.setEncoding('utf8').on('data', (c: string) => {
        o.out += c;
        for (const l of c.split('\n').filter((x) => x !== '')) o.lines.push({ line: l, at: performance.now() });
      });
      p.stderr.setEncoding('utf8').on('data', (c: string) => (o.err += c));
      return { p, o };
    };
    const human = run([]);
    const json = run(['--json', '--events', 'put']);
    try {
      await until(() => human.o.err.includes('watching s3://live/cli/') && json.o.err.includes('watching'), 30_000);
      await s3.send(new PutObjectCommand({ Bucket: 'live', Key: 'cli/a b.txt', Body: 'abcdef' }));
      const acked = performance.now();
      await s3.send(new PutObjectCommand({ Bucket: 'live', Key: 'elsewhere.txt', Body: 'x' }));
      await s3.send(new DeleteObjectCommand({ Bucket: 'live', Key: 'cli/a b.txt' }));
      await until(() => human.o.lines.length >= 2 && json.o.lines.length >= 1);
      const ms = Math.max(0, human.o.lines[0]!.at - acked);
      t.diagnostic(`tessera watch: line printed ${ms.toFixed(1)} ms after the PUT's reply`);
      console.log(`tessera watch latency after PUT reply: ${ms.toFixed(1)} ms`);
      assert.ok(ms < 1000, `${ms} ms`);
      assert.match(human.o.lines[0]!.line, /^\d{4}-\d\d-\d\dT\S+Z\s+ObjectCreated:Put\s+cli\/a b\.txt\s+6$/);
      assert.match(human.o.lines[1]!.line, /ObjectRemoved:Delete\s+cli\/a b\.txt\s+-$/);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(json.o.lines.length, 1, '--events put leaves the delete out');
      const rec = JSON.parse(json.o.lines[0]!.line);
      assert.equal(rec.eventName, 'ObjectCreated:Put');
      assert.equal(rec.s3.object.key, 'cli/a+b.txt');
    } finally {
      human.p.kill('SIGINT');
      json.p.kill('SIGINT');
    }
    const code = await new Promise((r) => human.p.once('exit', (c) => r(c)));
    assert.equal(code, 0, 'Ctrl-C ends it with status 0');
  });
});
