// Who may use events: aws-cli round-trips the notification configuration, the live stream is
// allowed to a bucket's owner and refused to another user without a policy that allows
// s3:ListenBucketNotification; and the notify section of the config file declares targets.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import aws4 from 'aws4';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config/config.js';
import { aws, run, sdkClient } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function streamStatus(s: TestServer, bucket: string, key: { id: string; secret: string }): Promise<number> {
  const url = new URL(s.endpoint);
  const p = `/tessera/admin/v1/events?bucket=${bucket}`;
  const opts = { host: url.host, path: p, method: 'GET', service: 's3', region: s.region, headers: {} as Record<string, string> };
  aws4.sign(opts, { accessKeyId: key.id, secretAccessKey: key.secret });
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname: url.hostname, port: url.port, path: p, method: 'GET', headers: opts.headers }, (res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
    req.end();
  });
}

describe('event configuration and stream access', { timeout: 180_000 }, () => {
  let server: TestServer;
  let s3: S3Client;
  before(async () => {
    server = await startTestServer({ env: { TESSERA_NOTIFY_WEBHOOK_Q1: 'http://127.0.0.1:9/none' } });
    s3 = sdkClient(server);
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });

  test('aws-cli put/get-bucket-notification-configuration round trip', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'cli-notify' }));
    const config = { QueueConfigurations: [{ Id: 'q', QueueArn: 'arn:tessera:sqs::Q1:webhook', Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'in/' }] } } }] };
    const put = await aws(server, ['s3api', 'put-bucket-notification-configuration', '--bucket', 'cli-notify', '--notification-configuration', JSON.stringify(config)]);
    assert.equal(put.code, 0, put.stderr);
    const got = await aws(server, ['s3api', 'get-bucket-notification-configuration', '--bucket', 'cli-notify']);
    assert.equal(got.code, 0, got.stderr);
    assert.deepEqual(JSON.parse(got.stdout).QueueConfigurations, [{ Id: 'q', QueueArn: 'arn:tessera:sqs::Q1:webhook', Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'Prefix', Value: 'in/' }] } } }]);
  });

  test('the live stream: the bucket owner may listen, another user may not', async () => {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey };
    const admin = (args: string[]) => run(process.execPath, [MAIN, 'admin', '--endpoint', server.endpoint, ...args], { env, timeoutMs: 60_000 });
    // A user who may only create buckets: whatever else she may do on hers comes from owning it.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-notify-pol-'));
    const file = path.join(dir, 'p.json');
    await writeFile(file, JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:CreateBucket'], Resource: ['*'] }] }));
    const pol = await admin(['policy', 'add', 'create-only', file]);
    await rm(dir, { recursive: true, force: true });
    assert.equal(pol.code, 0, pol.stderr);
    const added = await admin(['user', 'add', 'alice', '--policy', 'create-only']);
    assert.equal(added.code, 0, added.stderr);
    const alice = JSON.parse(added.stdout) as { accessKey: string; secretKey: string };
    const key = { id: alice.accessKey, secret: alice.secretKey };
    const aliceS3 = new S3Client({ endpoint: server.endpoint, region: server.region, forcePathStyle: true, credentials: { accessKeyId: key.id, secretAccessKey: key.secret } });
    try {
      await aliceS3.send(new CreateBucketCommand({ Bucket: 'alice-bucket' }));
    } finally {
      aliceS3.destroy();
    }
    await s3.send(new CreateBucketCommand({ Bucket: 'root-bucket' }));
    assert.equal(await streamStatus(server, 'alice-bucket', key), 200, 'the owner listens to her bucket');
    assert.equal(await streamStatus(server, 'root-bucket', key), 403, 'no policy grants her s3:ListenBucketNotification there');
    assert.equal(await streamStatus(server, 'alice-bucket', { id: server.accessKeyId, secret: server.secretAccessKey }), 200, 'the root key may');
  });

  test('config file: notify.webhook declares targets, env adds and overrides them', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-notify-cfg-'));
    try {
      const file = path.join(dir, 'tessera.yaml');
      await writeFile(file, 'disks: [d1, d2]\nnotify:\n  retry_max_seconds: 5\n  webhook:\n    Thumbs: {endpoint: "http://127.0.0.1:8080/hook", auth_token: "abc"}\n    plain: "http://127.0.0.1:8081/"\n');
      const c = await loadConfig({ argv: ['--config', file], cwd: dir, env: { TESSERA_NOTIFY_WEBHOOK_PLAIN: 'http://127.0.0.1:9999/x', TESSERA_NOTIFY_WEBHOOK_EXTRA: 'https://example.test/e', TESSERA_NOTIFY_WEBHOOK_EXTRA_AUTH_TOKEN: 'tok' } });
      assert.equal(c.notify.retryMaxSeconds, 5);
      assert.deepEqual(c.notify.webhooks, {
        thumbs: { endpoint: 'http://127.0.0.1:8080/hook', authToken: 'abc' },
        plain: { endpoint: 'http://127.0.0.1:9999/x' },
        extra: { endpoint: 'https://example.test/e', authToken: 'tok' },
      });
      await assert.rejects(loadConfig({ argv: [], cwd: dir, env: { TESSERA_DISKS: 'd1', TESSERA_NOTIFY_WEBHOOK_BAD: 'ftp://x' } }), /TESSERA_NOTIFY_WEBHOOK_BAD: expected an http:\/\/ or https:\/\/ URL/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
