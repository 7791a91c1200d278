// Bucket lifecycle against real servers: the ?lifecycle API through the AWS SDK (defaults),
// raw XML for validation errors, aws-cli for the round trip; and enforcement with a lifecycle
// day of 1 s (TESSERA_LIFECYCLE_DAY_SECONDS=1): expiration under a prefix, NewerNoncurrentVersions,
// aborted uploads with their shard files gone, and a restart in the middle of a pass.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteBucketLifecycleCommand,
  GetBucketLifecycleConfigurationCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type LifecycleRule,
} from '@aws-sdk/client-s3';
import { aws, sdkClient } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { assertXmlError, expectS3Error, signedRawRequest, uniqueBucket } from './sdk-helpers.js';

const T = { timeout: 120_000 };

async function waitFor(what: string, check: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function putRawLifecycle(s: TestServer, bucket: string, xml: string) {
  return signedRawRequest(s, {
    method: 'PUT',
    host: `127.0.0.1:${s.port}`,
    path: `/${bucket}?lifecycle`,
    headers: { 'content-md5': createHash('md5').update(xml).digest('base64'), 'content-type': 'application/xml' },
    body: xml,
  });
}

const rule = (inner: string) => `<LifecycleConfiguration><Rule>${inner}</Rule></LifecycleConfiguration>`;

async function versions(s3: S3Client, bucket: string, prefix?: string) {
  const r = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
  return { versions: r.Versions ?? [], markers: r.DeleteMarkers ?? [] };
}

describe('lifecycle configuration API', T, () => {
  let server: TestServer;
  let s3: S3Client;
  test('start', async () => {
    server = await startTestServer();
    s3 = sdkClient(server);
  });

  test('put/get/delete round trip through the SDK; 404 without one', async () => {
    const bucket = uniqueBucket('lc-api');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await expectS3Error(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket })), 'NoSuchLifecycleConfiguration', 404);
    const rules: LifecycleRule[] = [
      { ID: 'logs', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 30 } },
      { ID: 'keep5', Status: 'Enabled', Filter: {}, NoncurrentVersionExpiration: { NoncurrentDays: 7, NewerNoncurrentVersions: 5 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 } },
      { ID: 'and', Status: 'Disabled', Filter: { And: { Prefix: 'tmp/', Tags: [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }], ObjectSizeGreaterThan: 10 } }, Expiration: { Date: new Date('2030-01-01T00:00:00Z') } },
      { ID: 'markers', Status: 'Enabled', Filter: { ObjectSizeLessThan: 100 }, NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
      { ID: 'dm', Status: 'Enabled', Filter: { Prefix: 'gone/' }, Expiration: { ExpiredObjectDeleteMarker: true } },
      { Status: 'Enabled', Filter: { Tag: { Key: 'x', Value: 'y' } }, Expiration: { Days: 1 } },
    ];
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: rules } }));
    const got = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
    assert.equal(got.Rules?.length, 6);
    assert.deepEqual(got.Rules![0], rules[0]);
    assert.deepEqual(got.Rules![1], rules[1]);
    assert.deepEqual(got.Rules![2]!.Filter, rules[2]!.Filter);
    assert.equal(got.Rules![2]!.Status, 'Disabled');
    assert.equal(got.Rules![2]!.Expiration?.Date?.toISOString(), '2030-01-01T00:00:00.000Z');
    assert.deepEqual(got.Rules![3], rules[3]);
    assert.deepEqual(got.Rules![4], rules[4]);
    // A rule sent without an ID gets a generated one.
    assert.ok(got.Rules![5]!.ID && got.Rules![5]!.ID.length > 0);
    assert.deepEqual(got.Rules![5]!.Filter, { Tag: { Key: 'x', Value: 'y' } });
    await s3.send(new DeleteBucketLifecycleCommand({ Bucket: bucket }));
    await expectS3Error(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket })), 'NoSuchLifecycleConfiguration', 404);
  });

  test('legacy top-level Prefix is kept in its form', async () => {
    const bucket = uniqueBucket('lc-legacy');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const r = await putRawLifecycle(server, bucket, rule('<ID>old</ID><Prefix>a/</Prefix><Status>Enabled</Status><Expiration><Days>3</Days></Expiration>'));
    assert.equal(r.status, 200, r.body.toString());
    const got = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
    assert.equal(got.Rules![0]!.Prefix, 'a/');
    assert.equal(got.Rules![0]!.Filter, undefined);
  });

  test('validation errors as S3 answers them; nothing stored', async () => {
    const bucket = uniqueBucket('lc-bad');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const cases: Array<[string, string, number, RegExp?]> = [
      ['<LifecycleConfiguration><Rule><Filter/><Status>Enabled</Status><Expiration><Days>0</Days></Expiration></Rule></LifecycleConfiguration>', 'InvalidArgument', 400, /'Days' for Expiration action must be a positive integer/],
      [rule('<Filter/><Status>Enabled</Status><Expiration><Date>2030-01-01T10:00:00Z</Date></Expiration>'), 'InvalidArgument', 400, /'Date' must be at midnight GMT/],
      [rule('<Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>-1</NoncurrentDays></NoncurrentVersionExpiration>'), 'InvalidArgument', 400, /'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer/],
      [rule('<Filter/><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload>'), 'InvalidArgument', 400, /DaysAfterInitiation/],
      [`<LifecycleConfiguration><Rule><ID>x</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule><Rule><ID>x</ID><Filter/><Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule></LifecycleConfiguration>`, 'InvalidArgument', 400, /Rule ID must be unique/],
      [rule(`<ID>${'i'.repeat(256)}</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`), 'InvalidArgument', 400, /ID length should not exceed allowed limit of 255/],
      [rule('<Filter/><Status>Enabled</Status><Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>'), 'MalformedXML', 400],
      [rule('<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>'), 'InvalidRequest', 400, /AbortIncompleteMultipartUpload cannot be specified with Tags\./],
      [rule('<Filter><ObjectSizeGreaterThan>5</ObjectSizeGreaterThan></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>'), 'InvalidRequest', 400, /ExpiredObjectDeleteMarker cannot be specified with Object Size\./],
      [rule('<Filter/><Status>Enabled</Status>'), 'InvalidRequest', 400, /At least one action needs to be specified in a rule/],
      [rule('<Filter/><Status>On</Status><Expiration><Days>1</Days></Expiration>'), 'MalformedXML', 400],
      [rule('<Status>Enabled</Status><Expiration><Days>1</Days></Expiration>'), 'MalformedXML', 400],
      [rule('<Prefix>a</Prefix><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>'), 'MalformedXML', 400],
      [rule('<Filter><Prefix>a</Prefix><ObjectSizeLessThan>5</ObjectSizeLessThan></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>'), 'MalformedXML', 400],
      [rule('<Filter/><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition>'), 'NotImplemented', 501, /one storage class/],
      [`<LifecycleConfiguration>${'<Rule><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>'.repeat(1001)}</LifecycleConfiguration>`, 'MalformedXML', 400],
      ['<LifecycleConfiguration><Rule>', 'MalformedXML', 400],
    ];
    for (const [xml, code, status, message] of cases) {
      const r = await putRawLifecycle(server, bucket, xml);
      const body = r.body.toString().replace(/&apos;/g, "'");
      assertXmlError({ ...r, body }, code, status);
      if (message) assert.match(body, message, xml.slice(0, 200));
    }
    await expectS3Error(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket })), 'NoSuchLifecycleConfiguration', 404);
  });

  test('aws s3api put/get-bucket-lifecycle-configuration round trip', async () => {
    const bucket = uniqueBucket('lc-cli');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const config = { Rules: [{ ID: 'cli', Status: 'Enabled', Filter: { Prefix: 'x/' }, Expiration: { Days: 5 }, NoncurrentVersionExpiration: { NoncurrentDays: 2, NewerNoncurrentVersions: 3 } }] };
    const put = await aws(server, ['s3api', 'put-bucket-lifecycle-configuration', '--bucket', bucket, '--lifecycle-configuration', JSON.stringify(config)]);
    assert.equal(put.code, 0, put.stderr);
    const get = await aws(server, ['s3api', 'get-bucket-lifecycle-configuration', '--bucket', bucket]);
    assert.equal(get.code, 0, get.stderr);
    const got = JSON.parse(get.stdout) as { Rules: unknown[] };
    assert.deepEqual(got.Rules, config.Rules);
  });

  test('stop', async () => {
    s3.destroy();
    await server.destroy();
  });
});

/** Shard files (not format or meta files) under the disks. */
async function shardFiles(s: TestServer): Promise<number> {
  let n = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'meta') await walk(p);
      } else if ((await stat(p)).size > 64 * 1024) n++;
    }
  };
  for (const d of s.disks) await walk(d);
  return n;
}

describe('lifecycle enforcement (one day = 1 s)', T, () => {
  let server: TestServer;
  let s3: S3Client;
  test('start', async () => {
    server = await startTestServer({ env: { TESSERA_LIFECYCLE_DAY_SECONDS: '1' } });
    s3 = sdkClient(server);
  });

  test('objects under the prefix expire, the others stay; x-amz-expiration names the rule', async () => {
    const bucket = uniqueBucket('lc-exp');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: [{ ID: 'logs rule', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 2 } }] } }));
    for (let i = 0; i < 5; i++) {
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `logs/${i}`, Body: 'x' }));
      assert.match(put.Expiration ?? '', /^expiry-date="[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT", rule-id="logs%20rule"$/);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `keep/${i}`, Body: 'y' }));
    }
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'logs/0' }));
    assert.ok(head.Expiration?.includes('rule-id="logs%20rule"'));
    const expiry = Date.parse(/expiry-date="([^"]+)"/.exec(head.Expiration!)![1]!);
    assert.ok(Math.abs(expiry - (head.LastModified!.getTime() + 2000)) <= 1000, `expiry ${expiry} is 2 lifecycle days after ${head.LastModified!.getTime()}`);
    const keep = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'keep/0' }));
    assert.equal(keep.Expiration, undefined);
    await waitFor('logs/ to expire', async () => (await versions(s3, bucket, 'logs/')).versions.length === 0);
    const left = await versions(s3, bucket);
    assert.deepEqual(left.versions.map((v) => v.Key).sort(), ['keep/0', 'keep/1', 'keep/2', 'keep/3', 'keep/4']);
    assert.equal(left.markers.length, 0, 'an unversioned bucket gets no delete markers');
  });

  test('versioned bucket: expiring the current version adds one delete marker; then the sole marker goes', async () => {
    const bucket = uniqueBucket('lc-ver');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a', Body: 'one' }));
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: [{ ID: 'exp', Status: 'Enabled', Filter: {}, Expiration: { Days: 1 } }] } }));
    await waitFor('a delete marker on a', async () => (await versions(s3, bucket)).markers.length === 1);
    const after = await versions(s3, bucket);
    assert.equal(after.versions.length, 1, 'the data version is kept as noncurrent');
    assert.equal(after.markers[0]!.IsLatest, true);
    // Only noncurrent expiration removes the data; then the marker stands alone and is removed.
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: [{ ID: 'nc', Status: 'Enabled', Filter: {}, NoncurrentVersionExpiration: { NoncurrentDays: 1 } }, { ID: 'dm', Status: 'Enabled', Filter: {}, Expiration: { ExpiredObjectDeleteMarker: true } }] } }));
    await waitFor('the key to be gone entirely', async () => {
      const v = await versions(s3, bucket);
      return v.versions.length === 0 && v.markers.length === 0;
    });
  });

  test('suspended bucket: expiry puts a null delete marker in place of the null version, older versions stay', async () => {
    const bucket = uniqueBucket('lc-susp');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const kept = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a', Body: 'versioned' }))).VersionId!;
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Suspended' } }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a', Body: 'null version' }));
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: [{ ID: 'exp', Status: 'Enabled', Filter: {}, Expiration: { Days: 1 } }] } }));
    await waitFor('a null delete marker', async () => (await versions(s3, bucket)).markers.length === 1);
    const v = await versions(s3, bucket);
    assert.equal(v.markers[0]!.VersionId, 'null');
    assert.deepEqual(v.versions.map((x) => x.VersionId), [kept], 'the null version was replaced, the older version kept');
  });

  test('NewerNoncurrentVersions keeps exactly the newest N noncurrent versions', async () => {
    const bucket = uniqueBucket('lc-newer');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: `v${i}` }))).VersionId!);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'other', Body: 'x' }));
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: [{ ID: 'keep2', Status: 'Enabled', Filter: { Prefix: 'doc' }, NoncurrentVersionExpiration: { NoncurrentDays: 1, NewerNoncurrentVersions: 2 } }] } }));
    await waitFor('doc down to 3 versions', async () => (await versions(s3, bucket, 'doc')).versions.length === 3);
    // Several more passes change nothing.
    const passes = server.started.engine.lifecycle.stats.passes;
    await waitFor('two more passes', () => server.started.engine.lifecycle.stats.passes >= passes + 2);
    const left = (await versions(s3, bucket, 'doc')).versions.map((v) => v.VersionId);
    assert.deepEqual(left, [ids[6], ids[5], ids[4]]);
    assert.equal((await versions(s3, bucket, 'other')).versions.length, 1);
  });

  test('a version keeps when it became noncurrent once its successor is deleted', async () => {
    const bucket = uniqueBucket('lc-since');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: `v${i}` }))).VersionId!);
    const meta = server.started.engine.store.meta;
    const v2 = (await meta.getVersion(bucket, 'k', ids[1]!))!;
    assert.equal((await meta.getVersion(bucket, 'k', ids[0]!))!.noncurrentSince, undefined, 'the successor says when');
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: ids[1] }));
    assert.equal((await meta.getVersion(bucket, 'k', ids[0]!))!.noncurrentSince, v2.lastModified, 'the deleted successor\'s time is kept');
    // Deleting the newest makes it current again: no noncurrent time any more.
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: ids[2] }));
    const cur = (await meta.getVersion(bucket, 'k', ids[0]!))!;
    assert.equal(cur.noncurrentSince, undefined);
    assert.equal((await meta.getCurrent(bucket, 'k'))!.versionId, ids[0]);
    // Suspended: the null version replaced in place hands its time to the version behind it.
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Suspended' } }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'null 1' }));
    const null1 = (await meta.getVersion(bucket, 'k', 'null'))!;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'null 2' }));
    assert.equal((await meta.getVersion(bucket, 'k', ids[0]!))!.noncurrentSince, null1.lastModified);
  });

  test('abandoned multipart uploads are aborted and their parts\' shard files removed', async () => {
    const bucket = uniqueBucket('lc-mpu');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const before = await shardFiles(server);
    const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'big/file' }));
    await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'big/file', UploadId: up.UploadId, PartNumber: 1, Body: Buffer.alloc(3 * 1024 * 1024, 7) }));
    const keep = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'other/file' }));
    assert.equal(keep.AbortDate, undefined);
    assert.equal(keep.AbortRuleId, undefined);
    assert.ok((await shardFiles(server)) > before, 'the part wrote shard files');
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: [{ ID: 'mpu', Status: 'Enabled', Filter: { Prefix: 'big/' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }] } }));
    const late = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'big/late' }));
    assert.equal(late.AbortRuleId, 'mpu');
    assert.ok(late.AbortDate && late.AbortDate.getTime() > Date.now() - 5000);
    await waitFor('the upload to be aborted', async () => {
      const l = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      return (l.Uploads ?? []).length === 1 && l.Uploads![0]!.UploadId === keep.UploadId;
    });
    const l = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    assert.equal(l.Uploads![0]!.UploadId, keep.UploadId);
    await waitFor('the part\'s shard files to be removed', async () => (await shardFiles(server)) === before);
  });

  test('metrics count examined objects and actions', async () => {
    const r = await fetch(`${server.endpoint}/metrics`);
    const text = await r.text();
    assert.match(text, /tessera_lifecycle_objects_examined_total [1-9]/);
    assert.match(text, /tessera_lifecycle_actions_total\{action="expire_current"\} [1-9]/);
    assert.match(text, /tessera_lifecycle_actions_total\{action="abort_upload"\} [1-9]/);
    assert.match(text, /tessera_lifecycle_last_pass_duration_seconds /);
  });

  test('stop', async () => {
    s3.destroy();
    await server.destroy();
  });
});

describe('lifecycle pass interrupted by a restart', T, () => {
  test('resumes without skipping or repeating an action', async () => {
    const env = { TESSERA_LIFECYCLE_DAY_SECONDS: '1' };
    const first = await startTestServer({ env });
    const root = first.root;
    let s3 = sdkClient(first);
    const bucket = uniqueBucket('lc-restart');
    const N = 30;
    const K = 11;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    for (let i = 0; i < N; i++) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `k${String(i).padStart(3, '0')}`, Body: `${i}` }));
    const w1 = first.started.engine.lifecycle;
    w1.stopAfterActions(K);
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: [{ ID: 'all', Status: 'Enabled', Filter: {}, Expiration: { Days: 1 } }] } }));
    await waitFor('K actions, then the worker stops', () => w1.stats.actions.expire_current === K && !w1.stats.running);
    assert.equal((await versions(s3, bucket)).markers.length, K);
    s3.destroy();
    await first.stop();

    const second = await startTestServer({ env, root });
    s3 = sdkClient(second);
    try {
      const w2 = second.started.engine.lifecycle;
      await waitFor('a complete pass after the restart', () => w2.stats.passes >= 1);
      assert.equal(w2.stats.actions.expire_current, N - K, 'the restarted pass did only what was left');
      const v = await versions(s3, bucket);
      assert.equal(v.versions.length, N);
      assert.equal(v.markers.length, N, 'exactly one delete marker per key');
      assert.deepEqual(new Set(v.markers.map((m) => m.Key)).size, N);
      // The first pass after the restart resumed after the keys already done.
      assert.ok(w2.stats.lastPassExamined! < 2 * N, `examined ${w2.stats.lastPassExamined}`);
    } finally {
      s3.destroy();
      await second.destroy();
    }
  });
});
