// Overload protection against a real server: connection caps (global and per client address),
// idle sockets at a low descriptor limit, the header and body idle timeouts, per-key request
// rate and concurrency limits, and bandwidth caps. Real sockets on 127.0.0.1, real SDK.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { sdkClient } from '../helpers/clients.js';
import { freePort, spawnServer } from '../helpers/process-server.js';
import { startTestServer, TEST_ACCESS_KEY, TEST_SECRET_KEY, type TestServer } from '../helpers/server.js';

const T = { timeout: 60_000 };

interface Idle {
  sockets: net.Socket[];
  /** What each socket received, as text. */
  received: string[];
  closed: boolean[];
  destroy(): void;
}

/** Opens n sockets that send nothing. Connection errors (resets) are recorded as closes. */
async function openIdle(port: number, n: number, localAddress = '127.0.0.1'): Promise<Idle> {
  const sockets: net.Socket[] = [];
  const received: string[] = [];
  const closed: boolean[] = [];
  await Promise.all(Array.from({ length: n }, (_, i) => new Promise<void>((resolve) => {
    received[i] = '';
    closed[i] = false;
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    sockets[i] = s;
    s.on('data', (d: Buffer) => (received[i] += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => {
      closed[i] = true;
      resolve();
    });
    s.on('connect', () => resolve());
  })));
  return { sockets, received, closed, destroy: () => sockets.forEach((s) => s.destroy()) };
}

async function untilAsync(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on its own connection (no pooling: the per-address cap must see what we see). */
function request(url: string, o: { method?: string; body?: Buffer; localAddress?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: o.method ?? 'GET', agent: false, localAddress: o.localAddress, headers: o.body ? { 'content-length': o.body.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('latin1') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

function client(endpoint: string): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY } });
}

async function seed(s3: S3Client, bucket: string, key: string, body: Buffer): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

/** A GET through the SDK, timed. */
async function timedGet(s3: S3Client, bucket: string, key: string): Promise<{ ms: number; bytes: Buffer }> {
  const t0 = performance.now();
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = Buffer.from(await r.Body!.transformToByteArray());
  return { ms: performance.now() - t0, bytes };
}

function allOnline(s: TestServer): boolean {
  return s.started.engine.store.disks.every((d) => d.online);
}

const PAYLOAD = Buffer.alloc(300 * 1024, 'tessera limits ');

test('500 idle sockets over a cap of 100: the rest get 503 SlowDown, disks stay online, GET answers at once afterwards', T, async () => {
  const s = await startTestServer({ env: { TESSERA_MAX_CONNECTIONS: '100' } });
  try {
    const s3 = sdkClient(s);
    await seed(s3, 'idle', 'k', PAYLOAD);
    // The SDK keeps its connection open: it counts against the cap too.
    const before = s.started.http.connections.open;
    const idle = await openIdle(s.port, 500);
    const expected = 500 - (100 - before);
    assert.ok(await until(() => idle.received.filter((r) => r.startsWith('HTTP/1.1 503')).length >= expected, 5000), 'refused sockets get a reply');
    const refused = idle.received.filter((r) => r.startsWith('HTTP/1.1 503'));
    assert.equal(refused.length, expected);
    assert.match(refused[0]!, /Retry-After: 1/);
    assert.match(refused[0]!, /<Code>SlowDown<\/Code>/);
    assert.match(refused[0]!, /<RequestId>[0-9A-F]{16}<\/RequestId>/);
    assert.equal(s.started.http.connections.open, 100);
    assert.ok(allOnline(s));
    idle.destroy();
    assert.ok(await until(() => s.started.http.connections.open <= before, 2000));
    const got = await timedGet(s3, 'idle', 'k');
    assert.ok(got.bytes.equals(PAYLOAD));
    assert.ok(got.ms < 1000, `GET took ${got.ms} ms`);
    assert.ok(allOnline(s));
  } finally {
    await s.destroy();
  }
});

test('500 idle sockets under the default cap: all held, GET answers within a second during and after; header timeout closes them', T, async () => {
  const s = await startTestServer({ env: { TESSERA_HEADER_TIMEOUT: '2' } });
  try {
    const s3 = sdkClient(s);
    await seed(s3, 'idle', 'k', PAYLOAD);
    const idle = await openIdle(s.port, 500);
    assert.ok(await until(() => s.started.http.connections.open >= 500, 3000));
    const during = await timedGet(s3, 'idle', 'k');
    assert.ok(during.ms < 1000, `GET took ${during.ms} ms`);
    // Sockets that never send a request are closed by the server after the header timeout.
    const t0 = Date.now();
    assert.ok(await until(() => idle.closed.every(Boolean), 5000), `${idle.closed.filter((c) => !c).length} idle sockets still open`);
    assert.ok(Date.now() - t0 >= 500, 'not closed before the timeout');
    assert.ok(allOnline(s));
    const after = await timedGet(s3, 'idle', 'k');
    assert.ok(after.bytes.equals(PAYLOAD));
    assert.ok(after.ms < 1000, `GET took ${after.ms} ms`);
  } finally {
    await s.destroy();
  }
});

test('ulimit -n 200 and 230 idle sockets: no disk goes offline, GET works once they close', { timeout: 90_000 }, async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-fd-'));
  const port = await freePort();
  const srv = await spawnServer(root, port, { TESSERA_SCANNER_BYTES_PER_SECOND: '0' }, { fdLimit: 200 });
  try {
    const s3 = client(srv.endpoint);
    await seed(s3, 'fdlimit', 'k', PAYLOAD);
    const idle = await openIdle(port, 230);
    // One disk-monitor round (every 5 s) runs while the sockets are held.
    await new Promise((r) => setTimeout(r, 6000));
    // Meanwhile a request is either served or refused with SlowDown, never cut off.
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'fdlimit', Key: 'k' }));
    const during = await request(url).catch((e: Error) => ({ status: -1, headers: {}, body: e.message }));
    assert.ok(during.status === 200 || (during.status === 503 && during.body.includes('<Code>SlowDown</Code>')), `during: ${during.status} ${during.body.slice(0, 200)}`);
    idle.destroy();
    await new Promise((r) => setTimeout(r, 300));
    const got = await timedGet(s3, 'fdlimit', 'k');
    assert.ok(got.bytes.equals(PAYLOAD));
    assert.ok(got.ms < 1000, `GET took ${got.ms} ms`);
    await s3.send(new PutObjectCommand({ Bucket: 'fdlimit', Key: 'after', Body: PAYLOAD }));
    const log = srv.output();
    assert.doesNotMatch(log, /is offline|OFFLINE/, log.slice(-2000));
    assert.doesNotMatch(log, /"level":"error"/, log.slice(-2000));
  } finally {
    srv.child.kill('SIGTERM');
    await srv.exited;
    await rm(root, { recursive: true, force: true });
  }
});

/** Sends the head of a presigned PUT declaring `declared` bytes and `sent` of them; resolves with the reply. */
function stalledPut(url: string, declared: number, sent: Buffer): { reply: Promise<{ text: string; at: number; closedAt: Promise<number> }>; sentAt: () => number; socket: net.Socket } {
  const u = new URL(url);
  const socket = net.connect({ port: Number(u.port), host: '127.0.0.1' });
  let text = '';
  let sentAt = 0;
  socket.on('error', () => undefined);
  const closedAt = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
  const reply = new Promise<{ text: string; at: number; closedAt: Promise<number> }>((resolve) => {
    let at = 0;
    socket.on('data', (d: Buffer) => {
      at ||= Date.now();
      text += d.toString('latin1');
      if (/<\/Error>|\r\n\r\n$/.test(text)) resolve({ text, at, closedAt });
    });
    socket.on('close', () => resolve({ text, at: at || Date.now(), closedAt }));
  });
  socket.on('connect', () => {
    socket.write(`PUT ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Length: ${declared}\r\n\r\n`);
    socket.write(sent, () => (sentAt = Date.now()));
  });
  return { reply, sentAt: () => sentAt, socket };
}

async function tmpFiles(s: TestServer): Promise<string[]> {
  const all: string[] = [];
  for (const d of s.disks) all.push(...(await readdir(path.join(d, 'tmp'))));
  return all;
}

test('a stalled PUT is aborted after the body idle timeout: 400 RequestTimeout, no temp file, nothing stored', T, async () => {
  const s = await startTestServer({ env: { TESSERA_BODY_IDLE_TIMEOUT: '2' } });
  try {
    const s3 = sdkClient(s);
    await s3.send(new CreateBucketCommand({ Bucket: 'stall' }));
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'stall', Key: 'big' }));
    const put = stalledPut(url, 5 * 1024 * 1024, Buffer.alloc(8 * 1024, 'x'));
    // While it stalls, the write holds its temporary shard files.
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok((await tmpFiles(s)).length > 0, 'temporary files while the body stalls');
    const r = await put.reply;
    const waited = r.at - put.sentAt();
    assert.match(r.text, /^HTTP\/1.1 400 /);
    assert.match(r.text, /<Code>RequestTimeout<\/Code>/);
    assert.match(r.text, /Your socket connection to the server was not read from or written to within the timeout period\./);
    assert.match(r.text, /Connection: close/i);
    assert.ok(waited >= 1800 && waited < 4000, `aborted after ${waited} ms`);
    assert.ok((await r.closedAt) - r.at < 1000, 'connection closed after the reply');
    // The reply goes out first; the aborted write removes its temporary files right after.
    let left = await tmpFiles(s);
    for (let i = 0; i < 40 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      left = await tmpFiles(s);
    }
    assert.deepEqual(left, []);
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: 'stall', Key: 'big' })), (e: Error) => e.name === 'NotFound');
    const list = await s3.send(new ListObjectsV2Command({ Bucket: 'stall' }));
    assert.equal(list.KeyCount, 0);
  } finally {
    await s.destroy();
  }
});

/** A presigned PUT of `pieces` KiB, one KiB every `everyMs`: it must complete and be stored whole. */
async function steadyPut(env: Record<string, string>, pieces: number, everyMs: number): Promise<void> {
  const s = await startTestServer({ env });
  try {
    const s3 = sdkClient(s);
    await s3.send(new CreateBucketCommand({ Bucket: 'steady' }));
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'steady', Key: 'k' }));
    const piece = Buffer.alloc(1024, 's');
    const put = stalledPut(url, pieces * 1024, piece);
    for (let i = 1; i < pieces; i++) {
      await new Promise((r) => setTimeout(r, everyMs));
      put.socket.write(piece);
    }
    const r = await put.reply;
    assert.match(r.text, /^HTTP\/1.1 200 /);
    put.socket.destroy();
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'steady', Key: 'k' }));
    assert.equal(head.ContentLength, pieces * 1024);
  } finally {
    await s.destroy();
  }
}

test('a slow but steady body (above body_min_rate) is not taken for a stalled one', T, async () => {
  await steadyPut({ TESSERA_BODY_IDLE_TIMEOUT: '1', TESSERA_BODY_MIN_RATE: '256' }, 3, 700);
});

/** Writes `piece` to the socket every `everyMs` until stopped (or the socket closes). */
function trickle(socket: net.Socket, piece: Buffer, everyMs: number): () => void {
  const timer = setInterval(() => {
    if (socket.destroyed) return clearInterval(timer);
    socket.write(piece);
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
  return () => clearInterval(timer);
}

async function noTmpFilesSoon(s: TestServer): Promise<string[]> {
  let left = await tmpFiles(s);
  for (let i = 0; i < 60 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    left = await tmpFiles(s);
  }
  return left;
}

test('a trickle below body_min_rate is aborted after one window: 400 RequestTimeout, no temp file, nothing stored', T, async () => {
  // 512 bytes every 500 ms is 1 KiB/s: never idle, but under a floor of 4 KiB/s.
  const s = await startTestServer({ env: { TESSERA_BODY_IDLE_TIMEOUT: '2', TESSERA_BODY_MIN_RATE: '4KiB' } });
  try {
    const s3 = sdkClient(s);
    await s3.send(new CreateBucketCommand({ Bucket: 'trickle' }));
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'trickle', Key: 'k' }));
    const piece = Buffer.alloc(512, 't');
    const put = stalledPut(url, 10 * 1024 * 1024, piece);
    const stop = trickle(put.socket, piece, 500);
    const r = await put.reply;
    stop();
    const waited = r.at - put.sentAt();
    assert.match(r.text, /^HTTP\/1.1 400 /);
    assert.match(r.text, /<Code>RequestTimeout<\/Code>/);
    assert.ok(waited >= 1800 && waited < 4500, `aborted after ${waited} ms`);
    assert.deepEqual(await noTmpFilesSoon(s), []);
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: 'trickle', Key: 'k' })), (e: Error) => e.name === 'NotFound');
  } finally {
    await s.destroy();
  }
});

test('trickling uploads that hold the whole memory budget are cut once others wait for memory; the waiting PUT then succeeds', { timeout: 90_000 }, async () => {
  // A 16 MiB budget; each trickle declares 100 MiB, so it leases a stripe and a parity set
  // (4 MiB with 2+2 disks and 1 MiB blocks) before its first byte. 2 KiB/s is above the
  // body_min_rate set here, so without memory pressure they are left alone.
  const s = await startTestServer({ env: { TESSERA_MEMORY_BUDGET: '16MiB', TESSERA_BODY_MIN_RATE: '512' } });
  const trickles: ReturnType<typeof stalledPut>[] = [];
  try {
    const s3 = sdkClient(s);
    await s3.send(new CreateBucketCommand({ Bucket: 'budget' }));
    const budget = s.started.engine.store.memory;
    const piece = Buffer.alloc(1024, 'b');
    for (let i = 0; i < 6; i++) {
      const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'budget', Key: `trickle-${i}` }));
      const put = stalledPut(url, 100 * 1024 * 1024, piece);
      trickle(put.socket, piece, 500);
      trickles.push(put);
    }
    assert.ok(await until(() => budget.inUse >= budget.limit - 4 * 1024 * 1024 && budget.waiting > 0, 10_000), `budget ${budget.inUse} of ${budget.limit}, ${budget.waiting} waiting`);
    // No pressure from outside yet beyond the trickles themselves: they cut each other only
    // once some of them wait. Give the floor time to act, then a normal upload must get through.
    const body = Buffer.alloc(3 * 1024 * 1024, 'n');
    const t0 = Date.now();
    await s3.send(new PutObjectCommand({ Bucket: 'budget', Key: 'normal', Body: body }));
    const took = Date.now() - t0;
    assert.ok(took < 20_000, `the normal PUT took ${took} ms`);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'budget', Key: 'normal' }));
    assert.equal(Buffer.from(await got.Body!.transformToByteArray()).equals(body), true);
    // The trickles that held the budget were told why, in S3 XML.
    const replies = await Promise.all(trickles.map((t) => Promise.race([t.reply, new Promise<undefined>((r) => setTimeout(r, 10_000))])));
    const cut = replies.filter((r) => r !== undefined && /<Code>RequestTimeout<\/Code>/.test(r.text));
    assert.ok(cut.length >= 2, `${cut.length} trickles cut: ${replies.map((r) => r?.text.split('\r\n')[0]).join(' | ')}`);
    for (const t of trickles) t.socket.destroy();
    assert.ok(await until(() => budget.inUse === 0, 5000), `budget back to 0 (${budget.inUse})`);
    assert.deepEqual(await noTmpFilesSoon(s), []);
    const list = await s3.send(new ListObjectsV2Command({ Bucket: 'budget' }));
    assert.deepEqual(list.Contents?.map((c) => c.Key), ['normal']);
  } finally {
    for (const t of trickles) t.socket.destroy();
    await s.destroy();
  }
});

test('without memory pressure a trickle above body_min_rate keeps going', T, async () => {
  // 1 KiB every 250 ms (4 KiB/s) for 7 s: longer than the 5 s pressure window, never cut.
  await steadyPut({ TESSERA_BODY_IDLE_TIMEOUT: '1', TESSERA_BODY_MIN_RATE: '512' }, 28, 250);
});

test('per-key request rate: a burst gets 503 SlowDown with Retry-After, normal service right after', T, async () => {
  const s = await startTestServer({ env: { TESSERA_REQUESTS_PER_SECOND_PER_KEY: '5' } });
  try {
    const s3 = sdkClient(s, { maxAttempts: 1 });
    await seed(s3, 'rate', 'k', Buffer.from('hello'));
    await new Promise((r) => setTimeout(r, 1100));
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'rate', Key: 'k' }));
    const burst = await Promise.all(Array.from({ length: 20 }, () => request(url)));
    const ok = burst.filter((r) => r.status === 200);
    const slow = burst.filter((r) => r.status === 503);
    assert.equal(ok.length + slow.length, 20);
    assert.ok(ok.length >= 5 && ok.length <= 6, `${ok.length} served`);
    for (const r of slow) {
      assert.match(r.body, /<Code>SlowDown<\/Code>/);
      assert.match(r.body, /<Message>Please reduce your request rate.<\/Message>/);
      assert.ok(Number(r.headers['retry-after']) >= 1, String(r.headers['retry-after']));
    }
    await new Promise((r) => setTimeout(r, 1000));
    for (let i = 0; i < 4; i++) assert.equal((await request(url)).status, 200);
    // The SDK, with its default retries, rides a burst out.
    const patient = sdkClient(s);
    const all = await Promise.all(Array.from({ length: 8 }, () => patient.send(new GetObjectCommand({ Bucket: 'rate', Key: 'k' }))));
    assert.equal(all.length, 8);
  } finally {
    await s.destroy();
  }
});

test('per-key concurrency: requests beyond the cap get SlowDown while others are in flight', T, async () => {
  const s = await startTestServer({ env: { TESSERA_CONCURRENT_REQUESTS_PER_KEY: '2', TESSERA_BODY_IDLE_TIMEOUT: '5' } });
  try {
    const s3 = sdkClient(s, { maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket: 'conc' }));
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'conc', Key: 'k' }));
    const a = stalledPut(url, 4096, Buffer.alloc(100));
    const b = stalledPut(url, 4096, Buffer.alloc(100));
    assert.ok(await until(() => a.sentAt() > 0 && b.sentAt() > 0, 2000), 'both stalled PUTs sent their head');
    // The server admits the two PUTs once it has parsed their heads, a moment after they were
    // sent: poll (a refused list takes no slot) instead of guessing that moment with a sleep.
    const listing = () => s3.send(new ListObjectsV2Command({ Bucket: 'conc' }));
    const refused = (e: unknown) => (e as Error).name === 'SlowDown' && (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 503;
    let lastError: unknown;
    const slowDown = await untilAsync(async () => {
      try {
        await listing();
        return false;
      } catch (e) {
        lastError = e;
        if (!refused(e)) throw e;
        return true;
      }
    }, 5000);
    assert.ok(slowDown, `a third request got SlowDown while two were in flight (last: ${String(lastError)})`);
    a.socket.destroy();
    b.socket.destroy();
    // Their slots come back when the server sees the connections close.
    let list: Awaited<ReturnType<typeof listing>> | undefined;
    assert.ok(await untilAsync(async () => {
      try {
        list = await listing();
        return true;
      } catch (e) {
        if (!refused(e)) throw e;
        return false;
      }
    }, 5000), 'slots freed after the stalled PUTs hung up');
    assert.equal(list?.KeyCount, 0);
    // Finished requests on a kept-alive connection give their slot back.
    for (let i = 0; i < 5; i++) await s3.send(new ListObjectsV2Command({ Bucket: 'conc' }));
    await Promise.all([0, 1].map(() => s3.send(new ListObjectsV2Command({ Bucket: 'conc' }))));
  } finally {
    await s.destroy();
  }
});

test('per-address connection cap: the sixth connection from one address gets SlowDown, another address is served', T, async () => {
  const s = await startTestServer({ env: { TESSERA_MAX_CONNECTIONS_PER_IP: '5' } });
  try {
    const s3 = sdkClient(s);
    await seed(s3, 'perip', 'k', Buffer.from('hello'));
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'perip', Key: 'k' }));
    s3.destroy();
    assert.ok(await until(() => s.started.http.connections.open === 0, 6000), 'the SDK connection closed');
    const idle = await openIdle(s.port, 5);
    assert.ok(await until(() => s.started.http.connections.open === 5, 1000), 'five connections held');
    const refused = await request(url);
    assert.equal(refused.status, 503);
    assert.match(refused.body, /<Code>SlowDown<\/Code>/);
    const other = await request(url, { localAddress: '127.0.0.2' });
    assert.equal(other.status, 200);
    assert.equal(other.body, 'hello');
    idle.sockets[0]!.destroy();
    assert.ok(await until(() => s.started.http.connections.open === 4, 1000), 'a slot freed');
    assert.equal((await request(url)).status, 200);
    idle.destroy();
  } finally {
    await s.destroy();
  }
});

test('per-key bandwidth caps pace uploads and downloads', T, async () => {
  const s = await startTestServer({ env: { TESSERA_UPLOAD_BYTES_PER_SECOND: '1MiB', TESSERA_DOWNLOAD_BYTES_PER_SECOND: '1MiB' } });
  try {
    const s3 = sdkClient(s);
    await s3.send(new CreateBucketCommand({ Bucket: 'bandwidth' }));
    const data = Buffer.alloc(2 * 1024 * 1024 + 12345, 'b');
    let t0 = performance.now();
    await s3.send(new PutObjectCommand({ Bucket: 'bandwidth', Key: 'k', Body: data }));
    const up = performance.now() - t0;
    // 1 MiB of burst, then 1 MiB/s: at least ~1 s for 2 MiB.
    assert.ok(up >= 900, `upload took ${up} ms`);
    await new Promise((r) => setTimeout(r, 1000));
    t0 = performance.now();
    const r = await s3.send(new GetObjectCommand({ Bucket: 'bandwidth', Key: 'k' }));
    assert.equal(r.ContentLength, data.length);
    const got = Buffer.from(await r.Body!.transformToByteArray());
    const down = performance.now() - t0;
    assert.ok(got.equals(data));
    assert.ok(down >= 900 && down < 5000, `download took ${down} ms`);
  } finally {
    await s.destroy();
  }
});

/** A TLS handshake with the server: 'ok', or the error it ended with. */
function handshake(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const sock = tls.connect({ host: '127.0.0.1', port, ca }, () => {
      sock.destroy();
      resolve('ok');
    });
    sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

test('HTTPS and its plain-HTTP listener share one cap; TLS connections over it are dropped before the handshake', T, async () => {
  const s = await startTestServer({ tls: true, plainHttp: true, env: { TESSERA_MAX_CONNECTIONS: '3' } });
  try {
    assert.equal(await handshake(s.port, s.ca!), 'ok');
    assert.ok(await until(() => s.started.http.connections.open === 0, 1000), 'the handshake connection closed');
    const idle = await openIdle(s.port, 3);
    assert.ok(await until(() => s.started.http.connections.open === 3, 1000));
    const refused = await handshake(s.port, s.ca!);
    assert.notEqual(refused, 'ok');
    // Nothing but a closed socket: no bytes of a handshake, no plaintext reply on a TLS port.
    assert.deepEqual(idle.received, ['', '', '']);
    const plain = await request(`${s.httpEndpoint!}/`);
    assert.equal(plain.status, 503);
    assert.match(plain.body, /<Code>SlowDown<\/Code>/);
    idle.sockets[0]!.destroy();
    assert.ok(await until(() => s.started.http.connections.open === 2, 1000));
    assert.equal(await handshake(s.port, s.ca!), 'ok');
    idle.destroy();
  } finally {
    await s.destroy();
  }
});

test('a silent socket on the HTTPS port is closed after the header timeout (the handshake gets no longer)', T, async () => {
  const s = await startTestServer({ tls: true, env: { TESSERA_HEADER_TIMEOUT: '1' } });
  try {
    const t0 = Date.now();
    const idle = await openIdle(s.port, 3);
    assert.ok(await until(() => idle.closed.every(Boolean), 5000), 'closed by the server');
    const ms = Date.now() - t0;
    assert.ok(ms >= 700 && ms < 5000, `closed after ${ms} ms`);
    assert.equal(await handshake(s.port, s.ca!), 'ok');
  } finally {
    await s.destroy();
  }
});

/** A keep-alive connection opened before a flood: requests on it need no new descriptor. */
function keptAlive(url: string): { get(): Promise<Reply>; close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return {
    get: () => new Promise((resolve, reject) => {
      http.get(url, { agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('latin1') }));
        res.on('error', reject);
      }).on('error', reject);
    }),
    close: () => agent.destroy(),
  };
}

test('descriptors exhausted despite the cap (set above ulimit -n): GET gets 503 SlowDown, no disk offline, no repair queued', { timeout: 90_000 }, async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-fd-'));
  const port = await freePort();
  const srv = await spawnServer(root, port, { TESSERA_SCANNER_BYTES_PER_SECOND: '0', TESSERA_MAX_CONNECTIONS: '1000' }, { fdLimit: 200 });
  try {
    const s3 = client(srv.endpoint);
    await seed(s3, 'fdlimit', 'k', PAYLOAD);
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'fdlimit', Key: 'k' }));
    s3.destroy();
    const conn = keptAlive(url);
    assert.equal((await conn.get()).status, 200);
    const idle = await openIdle(port, 230);
    await new Promise((r) => setTimeout(r, 300));
    const during = await conn.get();

    // Either an answer from the store (descriptors were left) or SlowDown, never a cut connection.
    assert.ok(during.status === 200 || (during.status === 503 && /<Code>SlowDown<\/Code>/.test(during.body)), `${during.status} ${during.body.slice(0, 300)}`);
    // One disk-monitor round (every 5 s) with the descriptors exhausted.
    await new Promise((r) => setTimeout(r, 5500));
    idle.destroy();
    conn.close();
    await new Promise((r) => setTimeout(r, 300));
    const after = await request(url);
    assert.equal(after.status, 200);
    const log = srv.output();
    assert.doesNotMatch(log, /is offline|OFFLINE|repair queued/, log.slice(-3000));
    assert.doesNotMatch(log, /"level":"error"/, log.slice(-3000));
    // The point of the test: descriptors really did run out.
    assert.match(log, /answering 503 SlowDown: The server is short of file descriptors/, log.slice(-3000));
  } finally {
    srv.child.kill('SIGTERM');
    await srv.exited;
    await rm(root, { recursive: true, force: true });
  }
});

test('Expect: 100-continue: the idle clock runs once the 100 went out, and a stalled body is still aborted', T, async () => {
  const s = await startTestServer({ env: { TESSERA_BODY_IDLE_TIMEOUT: '1' } });
  try {
    const s3 = sdkClient(s);
    await s3.send(new CreateBucketCommand({ Bucket: 'continue' }));
    const u = new URL(await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'continue', Key: 'k' })));
    const socket = net.connect({ port: s.port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    let text = '';
    let continuedAt = 0;
    let sentAt = 0;
    const done = new Promise<void>((resolve) => {
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (!continuedAt && text.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
          continuedAt = Date.now();
          // The client waits a little (allowed), then sends part of the body and stalls.
          setTimeout(() => socket.write(Buffer.alloc(4096, 'c'), () => (sentAt = Date.now())), 500);
        }
        if (text.includes('</Error>')) resolve();
      });
      socket.on('close', () => resolve());
    });
    socket.write(`PUT ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Length: 1048576\r\nExpect: 100-continue\r\n\r\n`);
    await done;
    socket.destroy();
    assert.ok(continuedAt > 0, text.slice(0, 200));
    assert.match(text, /HTTP\/1.1 400 Bad Request[\s\S]*<Code>RequestTimeout<\/Code>/);
    assert.ok(sentAt > 0, 'the partial body went out before the abort');
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: 'continue', Key: 'k' })), (e: Error) => e.name === 'NotFound');
  } finally {
    await s.destroy();
  }
});
