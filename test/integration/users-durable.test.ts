// Users, keys, policies and bucket policies survive a restart; no secret of a user is kept in
// clear anywhere in the metadata (LevelDB, its journal on the disks); users declared in the
// config sign too, and cannot be changed through the admin API; a bucket policy naming a user
// opens another owner's bucket to exactly that user.

import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, PutBucketPolicyCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Level } from 'level';
import { run, sdkClient } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { bodyText, expectS3Error, uniqueBucket } from './sdk-helpers.js';

const MAIN = path.resolve('dist/src/cli/main.js');
const T = { timeout: 180_000 };
const CONFIG_USER = { name: 'ci-bot', access_key: 'CIBOTACCESSKEY000001', secret_key: 'ci-bot-secret-key-kept-in-the-config-0001', policies: ['readonly'] };
const env = { TESSERA_USERS: JSON.stringify([CONFIG_USER]) };

let s: TestServer;
let rootDir: string;

interface NewKey { user: string; accessKey: string; secretKey: string }

async function admin(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [MAIN, 'admin', '--endpoint', s.endpoint, '--access-key', s.accessKeyId, '--secret-key', s.secretAccessKey, ...args], { timeoutMs: 60_000 });
}

const clientOf = (accessKeyId: string, secretAccessKey: string): S3Client => sdkClient(s, { credentials: { accessKeyId, secretAccessKey } });

/** Every file under dir, recursively. */
async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await files(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

before(async () => {
  s = await startTestServer({ env });
  rootDir = s.root;
});
after(async () => {
  await s?.destroy();
});

test('users, keys, policies and bucket policies survive a restart; no user secret is stored in clear', T, async () => {
  const policyFile = path.join(rootDir, 'p.json');
  await writeFile(policyFile, JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListAllMyBuckets'], Resource: '*' }] }));
  assert.equal((await admin(['policy', 'add', 'getter', policyFile])).code, 0);
  const add = await admin(['user', 'add', 'alice', '--policy', 'getter']);
  assert.equal(add.code, 0, add.stderr);
  const alice = JSON.parse(add.stdout) as NewKey;
  const bob = JSON.parse((await admin(['user', 'add', 'bob'])).stdout) as NewKey;
  assert.equal((await admin(['user', 'disable', 'bob'])).code, 0);

  const root = sdkClient(s);
  const b = uniqueBucket('durable');
  await root.send(new CreateBucketCommand({ Bucket: b }));
  await root.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'kept' }));
  const shared = uniqueBucket('shared');
  await root.send(new CreateBucketCommand({ Bucket: shared }));
  await root.send(new PutObjectCommand({ Bucket: shared, Key: 'doc', Body: 'for bob only' }));
  await root.send(new PutBucketPolicyCommand({
    Bucket: shared,
    Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::000000000000:user/carol'] }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${shared}/*` }] }),
  }));
  const carol = JSON.parse((await admin(['user', 'add', 'carol'])).stdout) as NewKey;

  // Restart on the same directories.
  await s.stop();
  s = await startTestServer({ root: rootDir, env });

  const a = clientOf(alice.accessKey, alice.secretKey);
  assert.equal(await bodyText((await a.send(new GetObjectCommand({ Bucket: b, Key: 'k' }))).Body), 'kept');
  await expectS3Error(a.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'x' })), 'AccessDenied', 403);
  await expectS3Error(clientOf(bob.accessKey, bob.secretKey).send(new ListBucketsCommand({})), 'InvalidAccessKeyId', 403);
  // The bucket policy names carol: she reads that bucket's objects and nothing else.
  const c = clientOf(carol.accessKey, carol.secretKey);
  assert.equal(await bodyText((await c.send(new GetObjectCommand({ Bucket: shared, Key: 'doc' }))).Body), 'for bob only');
  await expectS3Error(c.send(new GetObjectCommand({ Bucket: b, Key: 'k' })), 'AccessDenied', 403);
  await expectS3Error(a.send(new GetObjectCommand({ Bucket: shared, Key: 'nope' })), 'NoSuchKey', 404);

  const users = JSON.parse((await admin(['user', 'list', '--json'])).stdout) as Array<{ user: string; enabled: boolean; fromConfig: boolean }>;
  assert.deepEqual(users.map((u) => [u.user, u.enabled, u.fromConfig]), [['alice', true, false], ['bob', false, false], ['carol', true, false], ['ci-bot', true, true]]);

  // No secret in clear: not in any LevelDB value, not in any file of the metadata directory or
  // of the disks (journal, checkpoints, credential copies).
  await s.stop();
  const secrets = [alice.secretKey, bob.secretKey, carol.secretKey];
  const db = new Level<Buffer, Buffer>(path.join(rootDir, 'meta', 'leveldb'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  let records = 0;
  let iamRecords = 0;
  for await (const [k, v] of db.iterator()) {
    records++;
    if (k[0] === 0x41) iamRecords++; // 'A': identity records
    for (const secret of secrets) assert.ok(!v.includes(secret) && !k.includes(secret), `secret of a user in LevelDB record ${k.toString('latin1')}`);
  }
  await db.close();
  assert.ok(iamRecords >= 7, `identity records in LevelDB: ${iamRecords} of ${records}`);
  const all = [...(await files(path.join(rootDir, 'meta'))), ...(await Promise.all(s.disks.map((d) => files(d)))).flat()];
  assert.ok(all.length > 10);
  for (const f of all) {
    if ((await stat(f)).size > 256 * 1024 * 1024) continue;
    const bytes = await readFile(f);
    for (const secret of secrets) assert.ok(!bytes.includes(secret), `secret of a user in clear in ${f}`);
  }
  s = await startTestServer({ root: rootDir, env });
});

test('config users sign with their policies; the admin API refuses to change them', T, async () => {
  const bot = clientOf(CONFIG_USER.access_key, CONFIG_USER.secret_key);
  await bot.send(new ListBucketsCommand({}));
  await expectS3Error(bot.send(new CreateBucketCommand({ Bucket: uniqueBucket('bot') })), 'AccessDenied', 403);
  const r = await admin(['user', 'disable', 'ci-bot']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /config file/);
  const k = await admin(['key', 'remove', CONFIG_USER.access_key]);
  assert.equal(k.code, 1);
  await bot.send(new ListBucketsCommand({}));
});
