// Lifecycle expiry is reported as s3:LifecycleExpiration:* (not ObjectRemoved:*), with
// s3.amazonaws.com as the principal, as AWS does. A lifecycle day lasts 1 s here.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand, PutBucketLifecycleConfigurationCommand, PutBucketNotificationConfigurationCommand, PutBucketVersioningCommand,
  PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { sdkClient } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { WebhookReceiver } from '../helpers/webhook.js';

const ARN = 'arn:tessera:sqs::hook:webhook';

describe('lifecycle expiration events', { timeout: 180_000 }, () => {
  let server: TestServer;
  let s3: S3Client;
  const hook = new WebhookReceiver();
  before(async () => {
    await hook.up();
    server = await startTestServer({ env: { TESSERA_NOTIFY_WEBHOOK_HOOK: hook.url, TESSERA_LIFECYCLE_DAY_SECONDS: '1' } });
    s3 = sdkClient(server);
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
    await hook.down();
  });

  test('expiry in unversioned and versioned buckets: LifecycleExpiration:Delete and :DeleteMarkerCreated', async () => {
    for (const [bucket, versioned] of [['lc-plain', false], ['lc-versioned', true]] as const) {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      if (versioned) await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      await s3.send(new PutBucketNotificationConfigurationCommand({
        Bucket: bucket,
        NotificationConfiguration: {
          QueueConfigurations: [
            { Id: 'expiry', QueueArn: ARN, Events: ['s3:LifecycleExpiration:*'] },
            { Id: 'removed', QueueArn: ARN, Events: ['s3:ObjectRemoved:*'] },
          ],
        },
      }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tmp/x', Body: 'bye' }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'keep/y', Body: 'stay' }));
      await s3.send(new PutBucketLifecycleConfigurationCommand({
        Bucket: bucket,
        LifecycleConfiguration: { Rules: [{ ID: 'tmp', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: 1 } }] },
      }));
    }
    await hook.waitFor(2, 60_000);
    await new Promise((r) => setTimeout(r, 3000)); // later passes must not report anything more
    const got = hook.received.map((r) => r.record);
    const line = (r: any) => `${r.s3.bucket.name} ${r.s3.configurationId} ${r.eventName} ${r.s3.object.key} ${r.userIdentity.principalId}`;
    assert.deepEqual(got.map(line).sort(), [
      'lc-plain expiry LifecycleExpiration:Delete tmp/x s3.amazonaws.com',
      'lc-versioned expiry LifecycleExpiration:DeleteMarkerCreated tmp/x s3.amazonaws.com',
    ]);
    const marker = got.find((r) => r.s3.bucket.name === 'lc-versioned')!;
    assert.ok(marker.s3.object.versionId, 'the delete marker\'s version id');
    assert.equal(marker.eventVersion, '2.3');
  });
});
