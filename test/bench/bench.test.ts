// The bench client must really do what it reports: run it for about a second per workload
// against a real server and check, with an independent client (the AWS SDK), that every PUT
// it counted left an object behind.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { parseBenchArgs } from '../../src/cli/bench.js';
import { runWorkload, type WorkloadOptions } from '../../src/bench/workload.js';
import { sdkClient } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let sdk: S3Client;

before(async () => {
  server = await startTestServer();
  sdk = sdkClient(server);
});

after(async () => {
  sdk?.destroy();
  await server?.stop();
  // Retries: the engine's 5-second disk check may still be finishing (it re-creates tmp/ in
  // a disk) when stop() returns; a plain rm then fails with ENOTEMPTY.
  if (server) await rm(server.root, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
});

function opts(o: Partial<WorkloadOptions> & Pick<WorkloadOptions, 'op'>): WorkloadOptions {
  return {
    endpoint: server.endpoint,
    accessKey: server.accessKeyId,
    secretKey: server.secretAccessKey,
    region: server.region,
    size: 4096,
    concurrency: 4,
    durationSec: 1,
    bucket: 'bench-test',
    ...o,
  };
}

async function listAll(bucket: string, prefix: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await sdk.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) found.set(o.Key!, o.Size!);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return found;
}

test('put: every counted PUT is an object of the right size on the server', async () => {
  // 200 KiB is above the inline threshold, so the erasure-coded shard path is exercised too.
  for (const size of [4096, 200 * 1024]) {
    const r = await runWorkload(opts({ op: 'put', size, durationSec: 0.8 }));
    assert.equal(r.errors, 0, r.errorMessages.join('; '));
    assert.ok(r.ops > 0, 'no PUT completed');
    assert.equal(r.bytes, r.ops * size);
    assert.ok(r.opsPerSec > 0 && r.mbPerSec > 0);
    assert.ok(r.latencyMs.p50 > 0 && r.latencyMs.p99 >= r.latencyMs.p50);
    const objects = await listAll('bench-test', `${r.prefix}put/`);
    assert.equal(objects.size, r.ops, 'objects found under the PUT prefix');
    for (let i = 0; i < r.ops; i++) assert.equal(objects.get(`${r.prefix}put/${i}`), size, `object ${i}`);
    const one = await sdk.send(new GetObjectCommand({ Bucket: 'bench-test', Key: `${r.prefix}put/0` }));
    assert.equal((await one.Body!.transformToByteArray()).length, size);
  }
});

test('get: reads back objects it wrote, byte counts checked', async () => {
  const r = await runWorkload(opts({ op: 'get', size: 8192, keys: 5 }));
  assert.equal(r.errors, 0, r.errorMessages.join('; '));
  assert.ok(r.ops > 0, 'no GET completed');
  assert.equal(r.byOp.get, r.ops);
  assert.equal(r.bytes, r.ops * 8192);
  assert.equal((await listAll('bench-test', `${r.prefix}get/`)).size, 5);
});

test('list: lists a prefix of one-byte objects', async () => {
  const r = await runWorkload(opts({ op: 'list', listKeys: 300 }));
  assert.equal(r.errors, 0, r.errorMessages.join('; '));
  assert.ok(r.ops > 0, 'no LIST completed');
  // Each reply is a ListObjectsV2 page naming 300 keys: far more than 300 × 20 bytes of XML.
  assert.ok(r.bytes / r.ops > 300 * 20, `list replies of ${r.bytes / r.ops} bytes are too small`);
  const objects = await listAll('bench-test', `${r.prefix}list/`);
  assert.equal(objects.size, 300);
  for (const size of objects.values()) assert.equal(size, 1);
});

test('a wrong secret fails loudly instead of reporting throughput', async () => {
  // Preparation (HEAD bucket) is refused already; HEAD replies carry no body, so only the status shows.
  await assert.rejects(runWorkload(opts({ op: 'put', secretKey: 'not-the-secret', durationSec: 0.2 })), /HTTP 403/);
});

test('bench arguments: sizes with units, required flags', () => {
  const a = parseBenchArgs(['--endpoint', 'http://127.0.0.1:1', '--access-key', 'k', '--secret-key', 's', '--size', '64MiB', '--op=get', '--json']);
  assert.equal(a.size, 64 * 1024 * 1024);
  assert.equal(a.op, 'get');
  assert.equal(a.json, true);
  assert.equal(parseBenchArgs(['--endpoint=http://h:1', '--access-key=k', '--secret-key=s', '--size=4KiB']).size, 4096);
  assert.throws(() => parseBenchArgs(['--access-key', 'k', '--secret-key', 's']), /--endpoint is required/);
  assert.throws(() => parseBenchArgs(['--endpoint', 'http://h:1', '--access-key', 'k', '--secret-key', 's', '--op', 'nope']), /--op/);
  assert.throws(() => parseBenchArgs(['--endpoint', 'http://h:1', '--access-key', 'k', '--secret-key', 's', '--size', '4XB']), /--size/);
});
