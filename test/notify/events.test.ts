// Bucket event notifications end to end: a real server with a webhook target, a real receiver
// (node:http), the AWS SDK at its defaults. Every kind of change produces exactly the record AWS
// documents (event message structure), rules filter by prefix and suffix, and configurations
// are validated as S3 validates them.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  DeleteObjectTaggingCommand, GetBucketNotificationConfigurationCommand, PutBucketNotificationConfigurationCommand,
  PutBucketVersioningCommand, PutObjectCommand, PutObjectTaggingCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { DeleteObjectsCommand } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { sdkClient } from '../helpers/clients.js';
import { startTestServer, TEST_ACCESS_KEY, type TestServer } from '../helpers/server.js';
import { WebhookReceiver } from '../helpers/webhook.js';

const ARN = 'arn:tessera:sqs::hook:webhook';

describe('bucket event notifications', { timeout: 180_000 }, () => {
  let server: TestServer;
  let s3: S3Client;
  const hook = new WebhookReceiver();

  before(async () => {
    await hook.up();
    server = await startTestServer({ env: { TESSERA_NOTIFY_WEBHOOK_HOOK: hook.url, TESSERA_NOTIFY_WEBHOOK_HOOK_AUTH_TOKEN: 'tok-123', TESSERA_NOTIFY_RETRY_MAX_SECONDS: '1' } });
    s3 = sdkClient(server);
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
    await hook.down();
  });

  test('Put/GetBucketNotificationConfiguration round-trip, and S3\'s validation errors', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'cfg' }));
    const empty = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'cfg' }));
    assert.equal(empty.QueueConfigurations, undefined);
    await s3.send(new PutBucketNotificationConfigurationCommand({
      Bucket: 'cfg',
      NotificationConfiguration: {
        QueueConfigurations: [{ Id: 'images', QueueArn: ARN, Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'img/' }, { Name: 'suffix', Value: '.jpg' }] } } }],
        TopicConfigurations: [{ TopicArn: ARN, Events: ['s3:ObjectRemoved:Delete'] }],
      },
    }));
    const got = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'cfg' }));
    assert.equal(got.QueueConfigurations?.length, 1);
    const q = got.QueueConfigurations![0]!;
    assert.equal(q.Id, 'images');
    assert.equal(q.QueueArn, ARN);
    assert.deepEqual(q.Events, ['s3:ObjectCreated:*']);
    assert.deepEqual(q.Filter?.Key?.FilterRules, [{ Name: 'Prefix', Value: 'img/' }, { Name: 'Suffix', Value: '.jpg' }]);
    assert.equal(got.TopicConfigurations?.length, 1);
    assert.ok(got.TopicConfigurations![0]!.Id, 'an Id is assigned when none is given');

    const refused = async (config: object, message: RegExp) => {
      await assert.rejects(s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: 'cfg', NotificationConfiguration: config })), (e: any) => {
        assert.equal(e.name, 'InvalidArgument');
        assert.equal(e.$metadata.httpStatusCode, 400);
        assert.match(e.message, message);
        return true;
      });
    };
    await refused({ QueueConfigurations: [{ QueueArn: 'arn:tessera:sqs::nosuch:webhook', Events: ['s3:ObjectCreated:*'] }] }, /Unable to validate the following destination configurations/);
    await refused({ QueueConfigurations: [{ QueueArn: 'arn:aws:sqs:us-east-1:123456789012:q', Events: ['s3:ObjectCreated:*'] }] }, /Unable to validate the following destination configurations/);
    await refused({ QueueConfigurations: [{ QueueArn: ARN, Events: ['s3:ObjectCreated:Sideways'] }] }, /event is not supported/);
    await refused({
      QueueConfigurations: [
        { QueueArn: ARN, Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'a/' }] } } },
        { QueueArn: ARN, Events: ['s3:ObjectCreated:Put'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'a/b/' }] } } },
      ],
    }, /Configurations overlap/);
    await refused({ QueueConfigurations: [{ QueueArn: ARN, Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'middle', Value: 'x' }] } } }] }, /prefix or suffix/);
    // Disjoint prefixes for the same event are fine, as on S3.
    await s3.send(new PutBucketNotificationConfigurationCommand({
      Bucket: 'cfg',
      NotificationConfiguration: {
        QueueConfigurations: [
          { QueueArn: ARN, Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'a/' }] } } },
          { QueueArn: ARN, Events: ['s3:ObjectCreated:Put'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'b/' }] } } },
        ],
      },
    }));
    // An empty configuration removes it.
    await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: 'cfg', NotificationConfiguration: {} }));
    const none = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'cfg' }));
    assert.equal(none.QueueConfigurations, undefined);
  });

  test('every change produces exactly the AWS-format record', async () => {
    hook.received.length = 0;
    await s3.send(new CreateBucketCommand({ Bucket: 'evb' }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'evb', VersioningConfiguration: { Status: 'Enabled' } }));
    await s3.send(new PutBucketNotificationConfigurationCommand({
      Bucket: 'evb',
      NotificationConfiguration: { QueueConfigurations: [{ Id: 'all', QueueArn: ARN, Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*', 's3:ObjectTagging:*'] }] },
    }));
    const expected: Array<{ name: string; key: string; size?: number; etag?: string; versionId?: string; requestId?: string }> = [];
    const put = await s3.send(new PutObjectCommand({ Bucket: 'evb', Key: 'dir/a b(1).txt', Body: 'hello' }));
    expected.push({ name: 'ObjectCreated:Put', key: 'dir/a+b%281%29.txt', size: 5, etag: put.ETag!.replace(/"/g, ''), versionId: put.VersionId, requestId: put.$metadata.requestId });
    const copy = await s3.send(new CopyObjectCommand({ Bucket: 'evb', Key: 'copy.txt', CopySource: 'evb/dir/a%20b(1).txt' }));
    expected.push({ name: 'ObjectCreated:Copy', key: 'copy.txt', size: 5, etag: copy.CopyObjectResult!.ETag!.replace(/"/g, ''), versionId: copy.VersionId, requestId: copy.$metadata.requestId });
    const mp = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'evb', Key: 'mp.bin' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: 'evb', Key: 'mp.bin', UploadId: mp.UploadId, PartNumber: 1, Body: Buffer.alloc(1000, 7) }));
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'evb', Key: 'mp.bin', UploadId: mp.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    expected.push({ name: 'ObjectCreated:CompleteMultipartUpload', key: 'mp.bin', size: 1000, etag: done.ETag!.replace(/"/g, ''), versionId: done.VersionId, requestId: done.$metadata.requestId });
    const tag = await s3.send(new PutObjectTaggingCommand({ Bucket: 'evb', Key: 'copy.txt', Tagging: { TagSet: [{ Key: 'k', Value: 'v' }] } }));
    expected.push({ name: 'ObjectTagging:Put', key: 'copy.txt', size: 5, versionId: copy.VersionId, requestId: tag.$metadata.requestId });
    const untag = await s3.send(new DeleteObjectTaggingCommand({ Bucket: 'evb', Key: 'copy.txt' }));
    expected.push({ name: 'ObjectTagging:Delete', key: 'copy.txt', size: 5, versionId: copy.VersionId, requestId: untag.$metadata.requestId });
    const marker = await s3.send(new DeleteObjectCommand({ Bucket: 'evb', Key: 'dir/a b(1).txt' }));
    assert.equal(marker.DeleteMarker, true);
    expected.push({ name: 'ObjectRemoved:DeleteMarkerCreated', key: 'dir/a+b%281%29.txt', versionId: marker.VersionId, requestId: marker.$metadata.requestId });
    const del = await s3.send(new DeleteObjectCommand({ Bucket: 'evb', Key: 'copy.txt', VersionId: copy.VersionId }));
    expected.push({ name: 'ObjectRemoved:Delete', key: 'copy.txt', versionId: copy.VersionId, requestId: del.$metadata.requestId });

    const got = await hook.waitFor(expected.length);
    await new Promise((r) => setTimeout(r, 300)); // nothing more may come
    assert.equal(hook.received.length, expected.length, 'exactly one record per change');
    const sequencers: string[] = [];
    for (const [i, e] of expected.entries()) {
      const { record: r, authorization } = got[i]!;
      assert.equal(authorization, 'Bearer tok-123');
      assert.equal(r.eventName, e.name, `record ${i}`);
      assert.equal(r.eventSource, 'aws:s3');
      assert.equal(r.eventVersion, e.name.startsWith('ObjectTagging') ? '2.3' : '2.1');
      assert.equal(r.awsRegion, server.region);
      assert.ok(Math.abs(Date.parse(r.eventTime) - Date.now()) < 60_000);
      assert.equal(r.userIdentity.principalId, TEST_ACCESS_KEY);
      assert.equal(r.requestParameters.sourceIPAddress, '127.0.0.1');
      assert.equal(r.responseElements['x-amz-request-id'], e.requestId);
      assert.equal(r.s3.s3SchemaVersion, '1.0');
      assert.equal(r.s3.configurationId, 'all');
      assert.equal(r.s3.bucket.name, 'evb');
      assert.equal(r.s3.bucket.arn, 'arn:aws:s3:::evb');
      assert.match(r.s3.bucket.ownerIdentity.principalId, /^[0-9a-f]{64}$/);
      const o = r.s3.object;
      assert.equal(o.key, e.key);
      assert.equal(o.size, e.size);
      if (e.etag !== undefined) assert.equal(o.eTag, e.etag);
      if (e.size === undefined) assert.equal(o.eTag, undefined, 'removals carry no eTag');
      assert.equal(o.versionId, e.versionId);
      assert.match(o.sequencer, /^[0-9A-F]{16}$/);
      sequencers.push(o.sequencer);
    }
    assert.deepEqual([...sequencers].sort(), sequencers, 'sequencers increase in commit order');
  });

  test('an unversioned delete is ObjectRemoved:Delete without a versionId', async () => {
    hook.received.length = 0;
    await s3.send(new CreateBucketCommand({ Bucket: 'plain' }));
    await s3.send(new PutBucketNotificationConfigurationCommand({
      Bucket: 'plain',
      NotificationConfiguration: { LambdaFunctionConfigurations: [{ Id: 'rm', LambdaFunctionArn: ARN, Events: ['s3:ObjectRemoved:*'] }] },
    }));
    await s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'x', Body: 'abc' }));
    await s3.send(new DeleteObjectCommand({ Bucket: 'plain', Key: 'x' }));
    const [got] = await hook.waitFor(1);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(hook.received.length, 1, 'the PUT is not selected by an ObjectRemoved rule');
    assert.equal(got!.record.eventName, 'ObjectRemoved:Delete');
    assert.deepEqual(Object.keys(got!.record.s3.object).sort(), ['key', 'sequencer']);
  });

  test('a POST form upload is ObjectCreated:Post; each key of a multi-object delete is ObjectRemoved:Delete', async () => {
    hook.received.length = 0;
    await s3.send(new CreateBucketCommand({ Bucket: 'formb' }));
    await s3.send(new PutBucketNotificationConfigurationCommand({
      Bucket: 'formb',
      NotificationConfiguration: { QueueConfigurations: [{ Id: 'all', QueueArn: ARN, Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'] }] },
    }));
    const post = await createPresignedPost(s3, { Bucket: 'formb', Key: 'posted.txt', Expires: 300 });
    const form = new FormData();
    for (const [k, v] of Object.entries(post.fields)) form.append(k, v);
    form.append('file', new Blob(['posted body']), 'posted.txt');
    const posted = await fetch(`${server.endpoint}/formb`, { method: 'POST', body: form });
    assert.equal(posted.status, 204, await posted.text());
    await s3.send(new PutObjectCommand({ Bucket: 'formb', Key: 'second', Body: 'x' }));
    await s3.send(new DeleteObjectsCommand({ Bucket: 'formb', Delete: { Objects: [{ Key: 'posted.txt' }, { Key: 'second' }] } }));
    await hook.waitFor(4);
    await new Promise((r) => setTimeout(r, 300));
    // The multi-object delete removes its keys in parallel: their order is not fixed.
    const lines = hook.received.map((r) => `${r.record.eventName} ${r.record.s3.object.key} ${r.record.s3.object.size ?? '-'}`);
    assert.deepEqual([...lines.slice(0, 2), ...lines.slice(2).sort()], [
      'ObjectCreated:Post posted.txt 11',
      'ObjectCreated:Put second 1',
      'ObjectRemoved:Delete posted.txt -',
      'ObjectRemoved:Delete second -',
    ]);
  });

  test('rules filter by prefix and suffix', async () => {
    hook.received.length = 0;
    await s3.send(new CreateBucketCommand({ Bucket: 'filt' }));
    await s3.send(new PutBucketNotificationConfigurationCommand({
      Bucket: 'filt',
      NotificationConfiguration: {
        QueueConfigurations: [
          { Id: 'jpg', QueueArn: ARN, Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'Prefix' as any, Value: 'images/' }, { Name: 'Suffix' as any, Value: '.jpg' }] } } },
          { Id: 'logs', QueueArn: ARN, Events: ['s3:ObjectRemoved:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'logs/' }] } } },
        ],
      },
    }));
    for (const k of ['images/a.jpg', 'images/a.png', 'other/a.jpg', 'logs/1', 'images/b.jpg']) await s3.send(new PutObjectCommand({ Bucket: 'filt', Key: k, Body: 'x' }));
    for (const k of ['logs/1', 'images/a.jpg']) await s3.send(new DeleteObjectCommand({ Bucket: 'filt', Key: k }));
    await hook.waitFor(3);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(hook.received.map((r) => `${r.record.s3.configurationId} ${r.record.eventName} ${r.record.s3.object.key}`), [
      'jpg ObjectCreated:Put images/a.jpg',
      'jpg ObjectCreated:Put images/b.jpg',
      'logs ObjectRemoved:Delete logs/1',
    ]);
    // Removing the configuration stops the events.
    await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: 'filt', NotificationConfiguration: {} }));
    await s3.send(new PutObjectCommand({ Bucket: 'filt', Key: 'images/c.jpg', Body: 'x' }));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(hook.received.length, 3);
  });
});
