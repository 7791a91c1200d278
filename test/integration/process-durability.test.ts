// What acceptance runs do to a real server process: kill -9 it in the middle of uploads and
// wipe disk directories, then start it again. Every acknowledged object must read back
// bit-exact, the wiped disks must be healed, and a bad configuration must fail fast.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { S3Client, PutObjectCommand, GetObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, spawnServer } from '../helpers/process-server.js';
import { TEST_ACCESS_KEY, TEST_SECRET_KEY } from '../helpers/server.js';
import { patternBuffer } from '../helpers/data.js';

function client(endpoint: string): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY }, maxAttempts: 1 });
}

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

async function countShardFiles(disk: string): Promise<number> {
  let n = 0;
  try {
    for (const sub of await readdir(path.join(disk, 'shards'))) n += (await readdir(path.join(disk, 'shards', sub))).length;
  } catch {
    return 0;
  }
  return n;
}

test('kill -9 during uploads, then two wiped disks: acknowledged objects survive and are healed', { timeout: 240_000 }, async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-proc-'));
  try {
    const port = await freePort();
    let srv = await spawnServer(root, port);
    let s3 = client(srv.endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: 'durable' }));
    const acked = new Map<string, string>();
    // Uploads in flight when the process dies.
    let stop = false;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const key = `w${w}/obj-${i}`;
        const body = patternBuffer(i % 3 === 0 ? 1000 : 300_000 + i * 1000, w * 1000 + i);
        try {
          await s3.send(new PutObjectCommand({ Bucket: 'durable', Key: key, Body: body }));
          acked.set(key, md5(body));
        } catch {
          return; // the server died under us
        }
      }
    });
    await new Promise((r) => setTimeout(r, 1500));
    srv.child.kill('SIGKILL');
    stop = true;
    await srv.exited;
    await Promise.all(writers);
    assert.ok(acked.size > 10, `only ${acked.size} uploads were acknowledged`);

    // Two disks are lost while the server is down: blank directories take their place.
    await rm(path.join(root, 'disk2'), { recursive: true, force: true });
    await rm(path.join(root, 'disk4'), { recursive: true, force: true });
    srv = await spawnServer(root, port);
    assert.match(srv.output(), /healing onto blank disk/);
    s3 = client(srv.endpoint);
    for (const [key, sum] of acked) {
      const r = await s3.send(new GetObjectCommand({ Bucket: 'durable', Key: key }));
      assert.equal(md5(await r.Body!.transformToByteArray()), sum, key);
    }
    // Healing puts the wiped disks' shards back (as many as on a disk that was never lost).
    const deadline = Date.now() + 60_000;
    for (;;) {
      const counts = await Promise.all([1, 2, 3, 4].map((i) => countShardFiles(path.join(root, `disk${i}`))));
      if (counts[1] === counts[0] && counts[3] === counts[2] && counts[0] > 0) break;
      if (Date.now() > deadline) assert.fail(`disks not healed: shard files per disk ${counts}`);
      await new Promise((r) => setTimeout(r, 200));
    }

    // A disk wiped while the server runs is noticed, reformatted and healed too.
    await rm(path.join(root, 'disk3'), { recursive: true, force: true, maxRetries: 10 });
    await s3.send(new PutObjectCommand({ Bucket: 'durable', Key: 'after-wipe', Body: patternBuffer(400_000, 7) }));
    const r = await s3.send(new GetObjectCommand({ Bucket: 'durable', Key: 'after-wipe' }));
    assert.equal(md5(await r.Body!.transformToByteArray()), md5(patternBuffer(400_000, 7)));
    const deadline2 = Date.now() + 60_000;
    for (;;) {
      const counts = await Promise.all([1, 2, 3, 4].map((i) => countShardFiles(path.join(root, `disk${i}`))));
      if (counts[2] === counts[0] && counts[0] > 0) break;
      if (Date.now() > deadline2) assert.fail(`disk3 not healed while running: ${counts}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    srv.child.kill('SIGTERM');
    assert.equal(await srv.exited, 0);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a bad configuration stops start-up with one clear line and exit code 2', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-badconf-'));
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const runWith = (env: Record<string, string>) =>
    new Promise<{ code: number | null; err: string }>((resolve) => {
      const p = spawn(process.execPath, [main, 'server'], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('exit', (code) => resolve({ code, err }));
    });
  try {
    const cases: [Record<string, string>, RegExp][] = [
      [{ TESSERA_ADDRESS: 'nonsense' }, /TESSERA_ADDRESS/],
      [{ TESSERA_PARITY: '4' }, /parity/],
      [{ TESSERA_ROOT_ACCESS_KEY: 'ONLYACCESSKEY' }, /secret|access/i],
    ];
    for (const [env, re] of cases) {
      const r = await runWith(env);
      assert.equal(r.code, 2, JSON.stringify(env) + r.err);
      assert.match(r.err, re);
      assert.equal(r.err.trim().split('\n').length, 1, `one line: ${r.err}`);
    }
    await writeFile(path.join(root, 'bad.yaml'), 'adress: 1.2.3.4:9000\n');
    const r = await runWith({ TESSERA_CONFIG: path.join(root, 'bad.yaml') });
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown key/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
