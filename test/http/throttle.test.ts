// Unit tests of the rate-limiting pieces: the token bucket (on a fake clock), the Throttle
// stream (on the real clock, short), per-key limits, the connection counter and timeouts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TokenBucket, Throttle } from '../../src/http/throttle.js';
import { KeyLimits } from '../../src/http/key-limits.js';
import { ConnectionCounter, effectiveMaxConnections, serverTimeouts } from '../../src/http/connections.js';
import { isResourceError } from '../../src/util/process-errors.js';
import { isHangUp } from '../../src/http/wire.js';
import { S3Error } from '../../src/errors.js';

const T = { timeout: 10_000 };

function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

test('token bucket: a full burst, then the rate; refusals say how long to wait', T, () => {
  const c = clock();
  const b = new TokenBucket(5, 5, c.now);
  for (let i = 0; i < 5; i++) assert.equal(b.tryTake(), 0);
  const wait = b.tryTake();
  assert.ok(Math.abs(wait - 0.2) < 1e-9, String(wait));
  c.advance(200);
  assert.equal(b.tryTake(), 0);
  assert.ok(b.tryTake() > 0);
  // Idle time refills only up to the burst.
  c.advance(60_000);
  for (let i = 0; i < 5; i++) assert.equal(b.tryTake(), 0);
  assert.ok(b.tryTake() > 0);
});

test('token bucket: bytes are taken on credit and the debt sets the wait', T, () => {
  const c = clock();
  const b = new TokenBucket(1000, 1000, c.now);
  assert.equal(b.take(600), 0);
  assert.equal(b.take(400), 0);
  assert.equal(b.take(500), 500);
  c.advance(500);
  assert.equal(b.take(0), 0);
  assert.equal(b.idle, false);
  c.advance(1000);
  assert.equal(b.idle, true);
  assert.throws(() => new TokenBucket(0), RangeError);
});

test('Throttle: 96 KiB at 64 KiB/s with a 32 KiB burst takes about a second and loses nothing', T, async () => {
  const bucket = new TokenBucket(64 * 1024, 32 * 1024);
  const data = Buffer.alloc(96 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = i % 251;
  const out: Buffer[] = [];
  const t0 = performance.now();
  await pipeline(Readable.from([data.subarray(0, 50_000), data.subarray(50_000)]), new Throttle(bucket), new Writable({
    write(c: Buffer, _e, cb) {
      out.push(c);
      cb();
    },
  }));
  const ms = performance.now() - t0;
  assert.ok(Buffer.concat(out).equals(data));
  // (96 - 32) KiB at 64 KiB/s = 1 s, less the last piece's wait that nobody waits for.
  assert.ok(ms >= 850 && ms < 2000, `${ms} ms`);
});

test('Throttle: two streams sharing one bucket share its rate', T, async () => {
  const bucket = new TokenBucket(100 * 1024, 10 * 1024);
  const sink = () => new Writable({ write: (_c, _e, cb) => cb() });
  const t0 = performance.now();
  await Promise.all([0, 1].map(() => pipeline(Readable.from([Buffer.alloc(40 * 1024)]), new Throttle(bucket), sink())));
  const ms = performance.now() - t0;
  // 80 KiB - 10 KiB burst at 100 KiB/s ≈ 0.7 s (one stream alone would take half that).
  assert.ok(ms >= 550 && ms < 1500, `${ms} ms`);
});

test('Throttle: destroying it stops the pacing timer', T, async () => {
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  const t = new Throttle(new TokenBucket(1024, 1024));
  t.on('error', () => undefined);
  t.write(Buffer.alloc(64 * 1024));
  await new Promise((r) => setImmediate(r));
  // 63 KiB beyond the burst at 1 KiB/s: it is waiting on a timer now.
  assert.equal(timers(), before + 1, 'the throttle is pacing');
  t.destroy();
  await new Promise((r) => setImmediate(r));
  assert.equal(t.destroyed, true);
  assert.equal(timers(), before, 'no pacing timer left behind');
});

test('KeyLimits: concurrency per key, rate per key, other keys unaffected, states swept', T, () => {
  const c = clock();
  const k = new KeyLimits({ requestsPerSecondPerKey: 3, concurrentRequestsPerKey: 2, uploadBytesPerSecond: 0, downloadBytesPerSecond: 0 }, c.now);
  assert.equal(k.active, true);
  const r1 = k.admit('a');
  const r2 = k.admit('a');
  assert.throws(() => k.admit('a'), (e: S3Error) => e.code === 'SlowDown' && e.status === 503 && e.headers['Retry-After'] === '1');
  const other = k.admit('b');
  r1();
  r1(); // twice is once
  const r3 = k.admit('a');
  r2();
  r3();
  // Three tokens spent on 'a' (the refused one took none): the fourth is refused for the rate.
  assert.throws(() => k.admit('a'), (e: S3Error) => e.code === 'SlowDown' && e.message === 'Please reduce your request rate.' && Number(e.headers['Retry-After']) >= 1);
  other();
  assert.equal(k.uploadBucket('a'), undefined);
  c.advance(20_000);
  k.admit('c')();
  assert.equal(k.size, 1);
  assert.equal(new KeyLimits({ requestsPerSecondPerKey: 0, concurrentRequestsPerKey: 0, uploadBytesPerSecond: 0, downloadBytesPerSecond: 0 }).active, false);
});

test('connection counter: global and per-address caps, release frees the slot', T, () => {
  const c = new ConnectionCounter({ maxConnections: 3, maxConnectionsPerIp: 2 });
  assert.equal(c.admit('1.1.1.1'), 'ok');
  assert.equal(c.admit('1.1.1.1'), 'ok');
  assert.equal(c.admit('1.1.1.1'), 'ip');
  assert.equal(c.admit('2.2.2.2'), 'ok');
  assert.equal(c.admit('3.3.3.3'), 'total');
  c.release('1.1.1.1');
  assert.equal(c.admit('3.3.3.3'), 'ok');
  assert.equal(c.open, 3);
  assert.equal(c.perIp.get('1.1.1.1'), 1);
});

test('default connection cap follows the descriptor limit; timeouts come from the limits', T, () => {
  assert.equal(effectiveMaxConnections(50, 200), 50);
  assert.equal(effectiveMaxConnections(0, 200), 100);
  assert.equal(effectiveMaxConnections(0, 1024), 512);
  assert.equal(effectiveMaxConnections(0, 20), 16);
  assert.deepEqual(serverTimeouts({ headerTimeoutSeconds: 30, keepAliveTimeoutSeconds: 5 }), { headersTimeout: 30_000, keepAliveTimeout: 5000, requestTimeout: 0, connectionsCheckingInterval: 1000 });
});

test('process-level errors are told apart from disk errors', T, () => {
  const errno = (code: string) => Object.assign(new Error(code), { code });
  for (const code of ['EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN']) assert.equal(isResourceError(errno(code)), true, code);
  for (const code of ['EIO', 'ENOENT', 'EACCES', 'ENOSPC', 'EROFS']) assert.equal(isResourceError(errno(code)), false, code);
  assert.equal(isResourceError(new Error('IO error: /x/000005.ldb: Too many open files')), true);
  assert.equal(isResourceError(new Error('x', { cause: errno('EMFILE') })), true);
  assert.equal(isHangUp(errno('ECONNRESET')), true);
  assert.equal(isHangUp(new Error('aborted')), true);
  assert.equal(isHangUp(errno('EIO')), false);
});
