// Users, access keys and policies, end to end: the `tessera admin` CLI against a real server,
// then real SDK clients signing with the users' keys.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListBucketsCommand, ListObjectsV2Command,
  PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { aws, boto3, run, sdkClient } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { bodyText, expectS3Error, uniqueBucket } from './sdk-helpers.js';

const MAIN = path.resolve('dist/src/cli/main.js');
const T = { timeout: 120_000 };

let s: TestServer;
let root: S3Client;

interface NewKey { user: string; accessKey: string; secretKey: string }

/** Runs `tessera admin ARGS` as root against the test server. */
async function admin(args: string[], o: { access?: string; secret?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_ACCESS_KEY_ID: o.access ?? s.accessKeyId, AWS_SECRET_ACCESS_KEY: o.secret ?? s.secretAccessKey };
  return run(process.execPath, [MAIN, 'admin', '--endpoint', s.endpoint, ...args], { env, timeoutMs: 60_000 });
}

async function adminOk(args: string[]): Promise<string> {
  const r = await admin(args);
  assert.equal(r.code, 0, `tessera admin ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

async function addUser(name: string, ...policies: string[]): Promise<NewKey> {
  const out = await adminOk(['user', 'add', name, ...policies.flatMap((p) => ['--policy', p])]);
  const k = JSON.parse(out) as NewKey;
  assert.deepEqual(Object.keys(k).sort(), ['accessKey', 'secretKey', 'user']);
  return k;
}

async function addPolicy(name: string, doc: unknown): Promise<void> {
  const file = path.join(s.root, `${name}.json`);
  await (await import('node:fs/promises')).writeFile(file, JSON.stringify(doc));
  await adminOk(['policy', 'add', name, file]);
}

function clientOf(k: NewKey): S3Client {
  return sdkClient(s, { credentials: { accessKeyId: k.accessKey, secretAccessKey: k.secretKey } });
}

async function anon(method: string, p: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`${s.endpoint}${p}`, { method });
  return { status: r.status, body: await r.text() };
}

before(async () => {
  s = await startTestServer();
  root = sdkClient(s);
});
after(async () => {
  await s?.destroy();
});

describe('users and keys through the admin CLI', () => {
  test('user add prints one JSON object; list, info, key add/remove, disable takes effect at once', T, async () => {
    const k = await addUser('carol', 'readonly');
    assert.equal(k.user, 'carol');
    assert.match(k.accessKey, /^[A-Z0-9]{20}$/);
    assert.equal(k.secretKey.length, 40);

    const list = JSON.parse(await adminOk(['user', 'list', '--json'])) as Array<{ user: string; policies: string[]; enabled: boolean }>;
    const carol = list.find((u) => u.user === 'carol');
    assert.deepEqual(carol?.policies, ['readonly']);
    assert.equal(carol?.enabled, true);
    const info = JSON.parse(await adminOk(['user', 'info', 'carol', '--json'])) as { accessKeys: Array<{ accessKey: string }> };
    assert.deepEqual(info.accessKeys.map((a) => a.accessKey), [k.accessKey]);
    assert.ok(!JSON.stringify(info).includes(k.secretKey), 'info never shows a secret');

    const c = clientOf(k);
    await c.send(new ListBucketsCommand({}));

    // A second key for rotation; a third is refused with the server's message and exit 1.
    const k2 = JSON.parse(await adminOk(['key', 'add', 'carol'])) as NewKey;
    assert.equal(k2.user, 'carol');
    await clientOf(k2).send(new ListBucketsCommand({}));
    const third = await admin(['key', 'add', 'carol']);
    assert.equal(third.code, 1);
    assert.match(third.stderr, /LimitExceeded/);

    await adminOk(['key', 'remove', k.accessKey]);
    await expectS3Error(c.send(new ListBucketsCommand({})), 'InvalidAccessKeyId', 403);

    await adminOk(['user', 'disable', 'carol']);
    await expectS3Error(clientOf(k2).send(new ListBucketsCommand({})), 'InvalidAccessKeyId', 403);
    await adminOk(['user', 'enable', 'carol']);
    await clientOf(k2).send(new ListBucketsCommand({}));

    await adminOk(['user', 'remove', 'carol']);
    await expectS3Error(clientOf(k2).send(new ListBucketsCommand({})), 'InvalidAccessKeyId', 403);
    const gone = await admin(['user', 'info', 'carol']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /NoSuchEntity/);
  });

  test('bad input: unknown policy, duplicate user, malformed policy document → exit 1 with the reason', T, async () => {
    const r1 = await admin(['user', 'add', 'dave', '--policy', 'no-such-policy']);
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, /no-such-policy/);
    await addUser('dave');
    const r2 = await admin(['user', 'add', 'dave']);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /EntityAlreadyExists/);
    const file = path.join(s.root, 'bad.json');
    await (await import('node:fs/promises')).writeFile(file, '{"Statement": [{"Effect": "Allow", "Action": "s3:Get*"}]}');
    const r3 = await admin(['policy', 'add', 'bad', file]);
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /MalformedPolicy/);
    const policies = JSON.parse(await adminOk(['policy', 'list', '--json'])) as Array<{ name: string; builtin: boolean }>;
    assert.deepEqual(policies.filter((p) => p.builtin).map((p) => p.name).sort(), ['admin', 'readonly', 'readwrite', 'writeonly']);
    assert.ok(!policies.some((p) => p.name === 'bad'));
  });

  test('the admin API refuses non-admin users and serves admin-policy users', T, async () => {
    const rw = await addUser('rw-user', 'readwrite');
    const denied = await admin(['user', 'list'], { access: rw.accessKey, secret: rw.secretKey });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /AccessDenied/);
    const ad = await addUser('admin-user', 'admin');
    const ok = await admin(['user', 'list', '--json'], { access: ad.accessKey, secret: ad.secretKey });
    assert.equal(ok.code, 0, ok.stderr);
    // Unsigned requests never reach it.
    const r = await anon('GET', '/tessera/admin/v1/users');
    assert.equal(r.status, 403);
  });
});

describe('policies decide what a user may do', () => {
  test('readonly: GET works, PUT and DELETE are AccessDenied, also through a presigned URL', T, async () => {
    const b = uniqueBucket('ro');
    await root.send(new CreateBucketCommand({ Bucket: b }));
    await root.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'hello' }));
    const ro = clientOf(await addUser('reader', 'readonly'));
    assert.equal(await bodyText((await ro.send(new GetObjectCommand({ Bucket: b, Key: 'k' }))).Body), 'hello');
    assert.equal((await ro.send(new ListObjectsV2Command({ Bucket: b }))).KeyCount, 1);
    await expectS3Error(ro.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'x' })), 'AccessDenied', 403);
    await expectS3Error(ro.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' })), 'AccessDenied', 403);
    await expectS3Error(ro.send(new CreateBucketCommand({ Bucket: uniqueBucket('ro2') })), 'AccessDenied', 403);
    const url = await getSignedUrl(ro, new PutObjectCommand({ Bucket: b, Key: 'k' }), { expiresIn: 60 });
    const put = await fetch(url, { method: 'PUT', body: 'evil' });
    assert.equal(put.status, 403);
    assert.equal(await bodyText((await root.send(new GetObjectCommand({ Bucket: b, Key: 'k' }))).Body), 'hello', 'nothing changed');
  });

  test('writeonly: uploads, but publishing (x-amz-acl) or tagging needs s3:PutObjectAcl / s3:PutObjectTagging', T, async () => {
    const b = uniqueBucket('wo');
    await root.send(new CreateBucketCommand({ Bucket: b }));
    const wo = clientOf(await addUser('uploader', 'writeonly'));
    await wo.send(new PutObjectCommand({ Bucket: b, Key: 'in', Body: 'x' }));
    await expectS3Error(wo.send(new GetObjectCommand({ Bucket: b, Key: 'in' })), 'AccessDenied', 403);
    await expectS3Error(wo.send(new PutObjectCommand({ Bucket: b, Key: 'pub', Body: 'x', ACL: 'public-read' })), 'AccessDenied', 403);
    await expectS3Error(wo.send(new PutObjectCommand({ Bucket: b, Key: 'tagged', Body: 'x', Tagging: 'a=b' })), 'AccessDenied', 403);
    await expectS3Error(root.send(new GetObjectCommand({ Bucket: b, Key: 'pub' })), 'NoSuchKey', 404);
  });

  test('a user confined to bucket-a/* cannot list or read bucket-b; Deny beats Allow', T, async () => {
    const a = uniqueBucket('a');
    const bb = uniqueBucket('b');
    for (const b of [a, bb]) {
      await root.send(new CreateBucketCommand({ Bucket: b }));
      await root.send(new PutObjectCommand({ Bucket: b, Key: 'open/x', Body: 'x' }));
      await root.send(new PutObjectCommand({ Bucket: b, Key: 'secret/y', Body: 'y' }));
    }
    await addPolicy('only-a', {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: `arn:aws:s3:::${a}` },
        { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: `arn:aws:s3:::${a}/*` },
        { Effect: 'Deny', Action: 's3:*', Resource: `arn:aws:s3:::${a}/secret/*` },
      ],
    });
    const u = clientOf(await addUser('confined', 'only-a'));
    assert.equal((await u.send(new ListObjectsV2Command({ Bucket: a }))).KeyCount, 2);
    await u.send(new GetObjectCommand({ Bucket: a, Key: 'open/x' }));
    await u.send(new PutObjectCommand({ Bucket: a, Key: 'open/new', Body: 'n' }));
    await expectS3Error(u.send(new GetObjectCommand({ Bucket: a, Key: 'secret/y' })), 'AccessDenied', 403);
    await expectS3Error(u.send(new PutObjectCommand({ Bucket: a, Key: 'secret/z', Body: 'z' })), 'AccessDenied', 403);
    await expectS3Error(u.send(new ListObjectsV2Command({ Bucket: bb })), 'AccessDenied', 403);
    await expectS3Error(u.send(new GetObjectCommand({ Bucket: bb, Key: 'open/x' })), 'AccessDenied', 403);
  });

  test('conditions: aws:SourceIp and s3:prefix', T, async () => {
    const b = uniqueBucket('cond');
    await root.send(new CreateBucketCommand({ Bucket: b }));
    await root.send(new PutObjectCommand({ Bucket: b, Key: 'home/alice/a', Body: 'a' }));
    await addPolicy('from-loopback', {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${b}/*`, Condition: { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } } },
        { Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${b}`, Condition: { StringLike: { 's3:prefix': ['home/${aws:username}/*'] } } },
      ],
    });
    await addPolicy('from-elsewhere', {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${b}/*`, Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }],
    });
    const alice = clientOf(await addUser('alice', 'from-loopback'));
    await alice.send(new GetObjectCommand({ Bucket: b, Key: 'home/alice/a' }));
    assert.equal((await alice.send(new ListObjectsV2Command({ Bucket: b, Prefix: 'home/alice/' }))).KeyCount, 1);
    await expectS3Error(alice.send(new ListObjectsV2Command({ Bucket: b, Prefix: 'home/bob/' })), 'AccessDenied', 403);
    await expectS3Error(alice.send(new ListObjectsV2Command({ Bucket: b })), 'AccessDenied', 403);
    const far = clientOf(await addUser('far', 'from-elsewhere'));
    await expectS3Error(far.send(new GetObjectCommand({ Bucket: b, Key: 'home/alice/a' })), 'AccessDenied', 403);
  });
});

describe('other clients sign as users too', () => {
  test('aws-cli and boto3 with a readonly user\'s keys: reads work, writes are AccessDenied', T, async () => {
    const b = uniqueBucket('cli');
    await root.send(new CreateBucketCommand({ Bucket: b }));
    await root.send(new PutObjectCommand({ Bucket: b, Key: 'f.txt', Body: 'from root' }));
    const k = await addUser('cli-reader', 'readonly');
    const as = { ...s, accessKeyId: k.accessKey, secretAccessKey: k.secretKey };
    const get = await aws(as, ['s3', 'cp', `s3://${b}/f.txt`, '-']);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, 'from root');
    const put = await aws(as, ['s3', 'cp', '-', `s3://${b}/g.txt`], { input: 'x' });
    assert.notEqual(put.code, 0);
    assert.match(put.stderr, /AccessDenied/);
    const py = await boto3(as, `
keys = [o['Key'] for o in s3.list_objects_v2(Bucket=${JSON.stringify(b)})['Contents']]
try:
    s3.put_object(Bucket=${JSON.stringify(b)}, Key='h.txt', Body=b'x')
    err = None
except botocore.exceptions.ClientError as e:
    err = e.response['Error']['Code']
print(json.dumps([keys, err]))
`);
    assert.equal(py.code, 0, py.stderr);
    assert.deepEqual(JSON.parse(py.stdout.trim().split('\n').pop()!), [['f.txt'], 'AccessDenied']);
    await expectS3Error(root.send(new GetObjectCommand({ Bucket: b, Key: 'g.txt' })), 'NoSuchKey', 404);
  });
});

describe('bucket ownership', () => {
  test('a bucket belongs to its creator: another user gets BucketAlreadyExists, the owner may use it without a policy for it', T, async () => {
    await addPolicy('make-buckets', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:CreateBucket', 's3:ListAllMyBuckets'], Resource: '*' }] });
    const maker = clientOf(await addUser('maker', 'make-buckets'));
    const other = clientOf(await addUser('other', 'make-buckets'));
    const b = uniqueBucket('owned');
    await maker.send(new CreateBucketCommand({ Bucket: b }));
    await maker.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'mine' }));
    await expectS3Error(other.send(new CreateBucketCommand({ Bucket: b })), 'BucketAlreadyExists', 409);
    // A user who still owns buckets cannot be removed: a later user of that name would own them.
    const rm = await admin(['user', 'remove', 'maker']);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /DeleteConflict.*owns 1 bucket/);
    await expectS3Error(other.send(new GetObjectCommand({ Bucket: b, Key: 'k' })), 'AccessDenied', 403);
    // us-east-1: the owner's repeat is 200 and changes nothing.
    await maker.send(new CreateBucketCommand({ Bucket: b }));
    const mine = await maker.send(new ListBucketsCommand({}));
    assert.deepEqual(mine.Buckets?.map((x) => x.Name), [b]);
    assert.equal(mine.Owner?.DisplayName, 'maker');
    assert.deepEqual((await other.send(new ListBucketsCommand({}))).Buckets ?? [], []);
  });
});
