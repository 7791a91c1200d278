// Embedded mode in this process, as a test suite would use it: startTessera with the SDK at
// default settings, reset() between tests, close(); two servers side by side; close() with
// requests in flight; errors inside the server that must not reach the host process.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand, CreateMultipartUploadCommand, GetBucketVersioningCommand, GetObjectCommand, ListBucketsCommand,
  ListMultipartUploadsCommand, ListObjectVersionsCommand, ListObjectsV2Command, PutBucketVersioningCommand, PutObjectCommand,
  DeleteObjectCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { ConfigError, startTessera, type Tessera } from '../../src/index.js';
import { ObjectStore } from '../../src/object/store.js';
import { patternBuffer } from '../helpers/data.js';
import { client, filesUnder, manualUpload, privateTmpdir } from './helpers.js';

const T = { timeout: 120_000 };

async function bucketNames(s3: S3Client): Promise<string[]> {
  return ((await s3.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name!).sort();
}

async function versionCount(s3: S3Client, bucket: string): Promise<number> {
  const r = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
  return (r.Versions?.length ?? 0) + (r.DeleteMarkers?.length ?? 0);
}

/** Objects, versions, a delete marker, an unfinished upload, a bucket beyond the configured ones. */
async function fill(s3: S3Client): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'small', Body: 'hello' }));
  // Larger than the inline threshold: erasure-coded shards on the disks.
  await s3.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'big', Body: patternBuffer(300 * 1024, 3) }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: 'beta', VersioningConfiguration: { Status: 'Enabled' } }));
  await s3.send(new PutObjectCommand({ Bucket: 'beta', Key: 'v', Body: patternBuffer(200 * 1024, 4) }));
  await s3.send(new PutObjectCommand({ Bucket: 'beta', Key: 'v', Body: 'second' }));
  await s3.send(new DeleteObjectCommand({ Bucket: 'beta', Key: 'v' }));
  await s3.send(new CreateMultipartUploadCommand({ Bucket: 'beta', Key: 'unfinished' }));
  await s3.send(new CreateBucketCommand({ Bucket: 'gamma' }));
  await s3.send(new PutObjectCommand({ Bucket: 'gamma', Key: 'x', Body: 'x' }));
}

describe('startTessera', { timeout: 300_000 }, () => {
  let tmp: Awaited<ReturnType<typeof privateTmpdir>>;
  before(async () => {
    tmp = await privateTmpdir();
  });
  after(async () => {
    tmp.restore();
    await rm(tmp.dir, { recursive: true, force: true });
  });

  test('defaults: a temp directory, generated keys, clientConfig for the SDK; reset() empties everything; close() removes the directory', T, async () => {
    const listeners = ['uncaughtException', 'unhandledRejection', 'SIGINT', 'SIGTERM', 'SIGHUP', 'exit'].map((e) => process.listenerCount(e));
    const t = await startTessera({ buckets: ['alpha', 'beta'] });
    // Nothing process-wide was installed: the host keeps its own signal and error handling.
    assert.deepEqual(['uncaughtException', 'unhandledRejection', 'SIGINT', 'SIGTERM', 'SIGHUP', 'exit'].map((e) => process.listenerCount(e)), listeners);
    assert.match(t.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(t.region, 'us-east-1');
    assert.match(t.accessKeyId, /^TSR[A-Z0-9]{17}$/);
    assert.deepEqual(t.clientConfig, {
      endpoint: t.endpoint,
      region: t.region,
      forcePathStyle: true,
      credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey },
    });
    assert.equal(path.dirname(t.dir), tmp.dir);
    const s3 = client(t);
    try {
      assert.deepEqual(await bucketNames(s3), ['alpha', 'beta']);
      await fill(s3);
      const r = await s3.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'big' }));
      assert.deepEqual(Buffer.from(await r.Body!.transformToByteArray()), patternBuffer(300 * 1024, 3));

      await t.reset();
      assert.deepEqual(await bucketNames(s3), ['alpha', 'beta']);
      for (const b of ['alpha', 'beta']) {
        assert.equal(await versionCount(s3, b), 0, `${b} is empty`);
        assert.equal((await s3.send(new ListMultipartUploadsCommand({ Bucket: b }))).Uploads?.length ?? 0, 0);
      }
      // Settings go too: the bucket is new.
      assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: 'beta' }))).Status, undefined);
      // And it works as before.
      await s3.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'after', Body: 'again' }));
      assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'after' }))).Body!.transformToString(), 'again');
    } finally {
      s3.destroy();
      await t.close();
    }
    assert.equal(existsSync(t.dir), false, 'close() removed the temporary directory');
    assert.deepEqual(await tmp.leftovers(), []);
    await t.close(); // a second close is harmless
  });

  test('reset() takes milliseconds and leaves no shard behind; a kept directory starts again with its buckets and keys', T, async () => {
    const dir = path.join(tmp.dir, 'kept');
    const t = await startTessera({ dir, buckets: ['alpha', 'beta'], disks: 4 });
    const s3 = client(t);
    const times: number[] = [];
    try {
      for (let round = 0; round < 5; round++) {
        await fill(s3);
        const t0 = performance.now();
        await t.reset();
        times.push(performance.now() - t0);
      }
      assert.equal(await versionCount(s3, 'alpha'), 0);
    } finally {
      s3.destroy();
      await t.close();
    }
    times.sort((a, b) => a - b);
    console.log(`reset() of 3 buckets / 6 versions / 1 upload, 4 disks: median ${times[2]!.toFixed(1)} ms, max ${times[4]!.toFixed(1)} ms`);
    // The goal is < 50 ms; the bound is loose for a loaded machine.
    assert.ok(times[2]! < 500, `reset median ${times[2]} ms`);
    // close() waited for the garbage collector: every shard of a deleted version is gone.
    for (let i = 1; i <= 4; i++) {
      const left = (await filesUnder(path.join(dir, `disk${i}`, 'shards'))).concat(await filesUnder(path.join(dir, `disk${i}`, 'tmp')));
      assert.deepEqual(left, [], `disk${i} holds no object data`);
    }
    assert.equal(existsSync(dir), true, 'a directory the caller gave is kept');

    const again = await startTessera({ dir, buckets: ['alpha', 'beta'], disks: 4 });
    const s3b = client(again);
    try {
      assert.equal(again.accessKeyId, t.accessKeyId, 'generated keys are kept in the directory');
      assert.equal(again.secretAccessKey, t.secretAccessKey);
      assert.deepEqual(await bucketNames(s3b), ['alpha', 'beta']);
    } finally {
      s3b.destroy();
      await again.close();
    }
  });

  test('the process environment does not configure an embedded server', T, async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      TESSERA_CONFIG: path.join(tmp.dir, 'no-such-config.yaml'),
      TESSERA_REGION: 'eu-west-3',
      TESSERA_ADDRESS: '0.0.0.0:1',
      TESSERA_ROOT_ACCESS_KEY: 'AKIAFROMTHEENVIRONMT',
      TESSERA_ROOT_SECRET_KEY: 'secret-from-the-environment-0123456789ab',
      TESSERA_DISKS: '/nonexistent/a,/nonexistent/b',
      TESSERA_LOG_LEVEL: 'debug',
    });
    let t: Tessera | undefined;
    try {
      t = await startTessera({ accessKeyId: 'AKIAEMBEDDEDTESTKEY1', secretAccessKey: 'embedded-secret-key-0123456789abcdefghij', region: 'eu-central-1' });
      assert.equal(t.region, 'eu-central-1');
      assert.equal(t.accessKeyId, 'AKIAEMBEDDEDTESTKEY1');
      assert.match(t.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
      const s3 = client(t);
      await s3.send(new CreateBucketCommand({ Bucket: 'envtest' }));
      await s3.send(new PutObjectCommand({ Bucket: 'envtest', Key: 'k', Body: 'v' }));
      s3.destroy();
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      await t?.close();
    }
  });

  test('bad options are refused with ConfigError before anything is left behind', T, async () => {
    await assert.rejects(startTessera({ disks: 0 }), ConfigError);
    await assert.rejects(startTessera({ disks: 2, parity: 2 }), ConfigError);
    await assert.rejects(startTessera({ accessKeyId: 'AKIAONLYTHEACCESSKEY' }), ConfigError);
    await assert.rejects(startTessera({ buckets: ['Not_A_Bucket'] }), (e: unknown) => e instanceof ConfigError && /Not_A_Bucket/.test(e.message));
    await assert.rejects(startTessera({ region: 'not a region!' }), (e: unknown) => e instanceof ConfigError && /region/.test(e.message) && !/TESSERA_/.test(e.message));
    assert.deepEqual(await tmp.leftovers(), []);
  });

  test('erasure layouts: 1 disk (no parity), 3 disks with parity 1, 4 disks (2+2)', T, async () => {
    for (const o of [{ disks: 1 }, { disks: 3, parity: 1 }, { disks: 4 }]) {
      const t = await startTessera({ ...o, buckets: ['layout'] });
      const s3 = client(t);
      try {
        const body = patternBuffer(3 * 1024 * 1024 + 17, o.disks);
        await s3.send(new PutObjectCommand({ Bucket: 'layout', Key: 'k', Body: body }));
        const got = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'layout', Key: 'k' }))).Body!.transformToByteArray());
        assert.ok(got.equals(body), `${JSON.stringify(o)}: read back what was written`);
        assert.equal((await filesUnder(path.join(t.dir, `disk${o.disks}`, 'shards'))).length, 1, 'the last disk holds a shard');
      } finally {
        s3.destroy();
        await t.close();
      }
    }
  });

  test('two servers in one process on different directories do not interfere; a third on a directory in use is refused', T, async () => {
    const dirA = await mkdtemp(path.join(tmp.dir, 'a-'));
    const a = await startTessera({ dir: dirA, buckets: ['shared'] });
    const b = await startTessera({ buckets: ['shared'], disks: 2 });
    const [s3a, s3b] = [client(a), client(b)];
    try {
      assert.notEqual(a.endpoint, b.endpoint);
      assert.notEqual(a.accessKeyId, b.accessKeyId);
      await s3a.send(new PutObjectCommand({ Bucket: 'shared', Key: 'k', Body: 'from a' }));
      await s3b.send(new PutObjectCommand({ Bucket: 'shared', Key: 'k', Body: 'from b' }));
      await s3b.send(new PutObjectCommand({ Bucket: 'shared', Key: 'only-b', Body: 'b' }));
      assert.equal(await (await s3a.send(new GetObjectCommand({ Bucket: 'shared', Key: 'k' }))).Body!.transformToString(), 'from a');
      assert.equal(await (await s3b.send(new GetObjectCommand({ Bucket: 'shared', Key: 'k' }))).Body!.transformToString(), 'from b');
      assert.deepEqual((await s3a.send(new ListObjectsV2Command({ Bucket: 'shared' }))).Contents?.map((c) => c.Key), ['k']);
      // One server's keys mean nothing to the other.
      const cross = client({ ...a, clientConfig: { ...a.clientConfig, endpoint: b.endpoint } });
      await assert.rejects(cross.send(new ListBucketsCommand({})), (e: { name?: string }) => e.name === 'InvalidAccessKeyId');
      cross.destroy();
      // Each server's metrics count its own requests.
      const scrape = async (t: Tessera) => (await fetch(`${t.endpoint}/metrics`)).text();
      const [ma, mb] = await Promise.all([scrape(a), scrape(b)]);
      const puts = (m: string) => m.split('\n').filter((l) => /^tessera_http_requests_total\{.*operation="PutObject"/.test(l)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
      assert.equal(puts(ma), 1, 'a counted its one PUT');
      assert.equal(puts(mb), 2, 'b counted its two PUTs');

      await assert.rejects(startTessera({ dir: dirA }), /in use/);
      // The refused start touched nothing of a's.
      assert.equal(await (await s3a.send(new GetObjectCommand({ Bucket: 'shared', Key: 'k' }))).Body!.transformToString(), 'from a');

      await a.reset();
      assert.equal(await versionCount(s3a, 'shared'), 0);
      assert.equal(await versionCount(s3b, 'shared'), 2, 'b untouched by a.reset()');
      await a.close();
      assert.equal(await (await s3b.send(new GetObjectCommand({ Bucket: 'shared', Key: 'only-b' }))).Body!.transformToString(), 'b', 'b serves after a closed');
    } finally {
      s3a.destroy();
      s3b.destroy();
      await a.close();
      await b.close();
    }
  });

  test('close() with requests in flight: one that finishes within the grace succeeds, one that does not is cut; nothing half-written is left', T, async () => {
    const dir = await mkdtemp(path.join(tmp.dir, 'inflight-'));
    const t = await startTessera({ dir, buckets: ['busy'] });
    const size = 4 * 1024 * 1024;
    const finishing = manualUpload(t, 'busy', 'finishing', size);
    const stuck = manualUpload(t, 'busy', 'stuck', size);
    finishing.write(1024 * 1024);
    stuck.write(1024 * 1024);
    // Both requests are inside the server (bytes received) before close() is called.
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const closed = t.close({ graceMs: 1500 });
    setTimeout(() => finishing.write(size - 1024 * 1024), 200);
    const [fin, cut] = await Promise.all([finishing.result, stuck.result]);
    await closed;
    const ms = Date.now() - t0;
    assert.equal(fin.status, 200, `the upload finished during the grace period: ${JSON.stringify(fin)}`);
    assert.ok(cut.error !== undefined || (cut.status ?? 0) >= 500, `the stuck upload was cut: ${JSON.stringify(cut)}`);
    assert.ok(ms < 10_000, `close() took ${ms} ms`);
    // Closed means closed: no new connection is accepted.
    await assert.rejects(fetch(`${t.endpoint}/`), (e: Error & { cause?: { code?: string } }) => e.cause?.code === 'ECONNREFUSED');

    assert.deepEqual(await filesUnder(path.join(dir, 'disk1', 'tmp')), [], 'the cut upload left no temporary shard');
    const again = await startTessera({ dir });
    const s3 = client(again);
    try {
      const got = await s3.send(new GetObjectCommand({ Bucket: 'busy', Key: 'finishing' }));
      assert.equal(got.ContentLength, size);
      await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'busy', Key: 'stuck' })), (e: { name?: string }) => e.name === 'NoSuchKey');
    } finally {
      s3.destroy();
      await again.close();
    }
  });

  test('errors inside the server end the request, never the host process', T, async () => {
    const uncaught: unknown[] = [];
    const onError = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onError);
    process.on('unhandledRejection', onError);
    // Fault injection: a handler's call into the object layer throws (a bug), synchronously
    // or as a rejected promise, for two bucket names.
    const original = ObjectStore.prototype.listObjects;
    ObjectStore.prototype.listObjects = function (this: ObjectStore, bucket, o) {
      if (bucket === 'boom-sync') throw new TypeError('injected: cannot read properties of undefined');
      if (bucket === 'boom-async') return Promise.reject(new RangeError('injected: async failure'));
      return original.call(this, bucket, o);
    };
    const t = await startTessera({ buckets: ['boom-sync', 'boom-async', 'fine'] });
    const s3 = client(t);
    try {
      for (const bucket of ['boom-sync', 'boom-async']) {
        await assert.rejects(s3.send(new ListObjectsV2Command({ Bucket: bucket })), (e: { name?: string; $metadata?: { httpStatusCode?: number } }) => {
          assert.equal(e.$metadata?.httpStatusCode, 500);
          assert.equal(e.name, 'InternalError');
          return true;
        });
      }
      // Data that vanished under the server (its shard deleted): the read fails, cleanly.
      await s3.send(new PutObjectCommand({ Bucket: 'fine', Key: 'gone', Body: patternBuffer(1024 * 1024, 9) }));
      for (const f of await filesUnder(path.join(t.dir, 'disk1', 'shards'))) await rm(path.join(t.dir, 'disk1', 'shards', f));
      await assert.rejects(async () => {
        const r = await s3.send(new GetObjectCommand({ Bucket: 'fine', Key: 'gone' }));
        await r.Body!.transformToByteArray();
      });
      // A client that walks away mid-download.
      await s3.send(new PutObjectCommand({ Bucket: 'fine', Key: 'long', Body: patternBuffer(16 * 1024 * 1024, 5) }));
      const r = await s3.send(new GetObjectCommand({ Bucket: 'fine', Key: 'long' }));
      const stream = r.Body as NodeJS.ReadableStream & { destroy(): void };
      await new Promise<void>((resolve) => stream.once('data', () => resolve()));
      stream.destroy();
      // Still serving, and nothing escaped to the process.
      await s3.send(new PutObjectCommand({ Bucket: 'fine', Key: 'after', Body: 'still here' }));
      assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: 'fine', Key: 'after' }))).Body!.transformToString(), 'still here');
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(uncaught, []);
    } finally {
      ObjectStore.prototype.listObjects = original;
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
      s3.destroy();
      await t.close();
    }
  });
});
