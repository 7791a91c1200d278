// `tessera admin info | heal | scan` end to end: the real server process, the real CLI as a
// child process, real shard files damaged on disk (a flipped byte, a wiped disk, a disk gone).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { run, type RunResult } from '../helpers/clients.js';
import { freePort, spawnServer, type ChildServer } from '../helpers/process-server.js';
import { TEST_ACCESS_KEY, TEST_SECRET_KEY } from '../helpers/server.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const OBJECTS = 12;
const SIZE = 200_000; // above the inline threshold: every object has a shard on every disk

interface Job {
  type: string;
  id: string;
  state: string;
  total: { objects: number; bytes: number } | null;
  objectsChecked: number;
  bytesChecked: number;
  objectsHealed: number;
  shardsRebuilt: number;
  damage: Array<{ bucket: string; key: string; disk: number; diskPath: string; problem: string }>;
}

describe('admin info, heal and scan through the server process', { timeout: 300_000 }, () => {
  let root: string;
  let server: ChildServer;
  let s3: S3Client;
  const bodies = new Map<string, Buffer>();
  const disk = (i: number) => path.join(root, `disk${i}`);

  const admin = (args: string[], keys = { id: TEST_ACCESS_KEY, secret: TEST_SECRET_KEY }): Promise<RunResult> =>
    run(process.execPath, [MAIN, 'admin', '--endpoint', server.endpoint, ...args], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: keys.id, AWS_SECRET_ACCESS_KEY: keys.secret },
      timeoutMs: 120_000,
    });
  const jsonLines = (out: string): Job[] => out.trim().split('\n').map((l) => JSON.parse(l) as Job);

  /** Shard files on a disk whose trailer names `key`. */
  async function shardFilesOf(diskDir: string, key: string): Promise<string[]> {
    const found: string[] = [];
    const shards = path.join(diskDir, 'shards');
    for (const sub of await readdir(shards)) {
      for (const f of await readdir(path.join(shards, sub))) {
        const file = path.join(shards, sub, f);
        const buf = await readFile(file);
        const len = buf.readUInt32BE(buf.length - 8);
        const trailer = JSON.parse(buf.subarray(buf.length - 8 - len, buf.length - 8).toString('utf8')) as { key: string };
        if (trailer.key === key) found.push(file);
      }
    }
    return found;
  }

  async function readBack(): Promise<void> {
    for (const [key, body] of bodies) {
      const r = await s3.send(new GetObjectCommand({ Bucket: 'photos', Key: key }));
      const got = Buffer.from(await r.Body!.transformToByteArray());
      assert.ok(got.equals(body), `${key} reads back bit-exact`);
    }
  }

  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'tessera-admin-heal-'));
    // 3 data + 1 parity: with one disk gone, every read needs all three others.
    server = await spawnServer(root, await freePort(), { TESSERA_PARITY: '1', TESSERA_SCANNER_BYTES_PER_SECOND: '0' });
    s3 = new S3Client({
      endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true,
      credentials: { accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY },
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'photos' }));
    for (let i = 0; i < OBJECTS; i++) {
      const body = randomBytes(SIZE);
      bodies.set(`img/${i}`, body);
      await s3.send(new PutObjectCommand({ Bucket: 'photos', Key: `img/${i}`, Body: body }));
    }
  });

  after(async () => {
    s3?.destroy();
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    await rm(root, { recursive: true, force: true });
  });

  test('info shows version, disks, layout and the usage records; --json parses', async () => {
    const human = await admin(['info']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /3 data \+ 1 parity shards/);
    assert.match(human.stdout, new RegExp(`4\\s+ok\\s+.*${disk(4).replace(/[/\\.]/g, '\\$&')}`));
    assert.match(human.stdout, new RegExp(`photos\\s+${OBJECTS}\\s`));
    const j = await admin(['info', '--json']);
    const info = JSON.parse(j.stdout) as { version: string; uptime: number; memory: { rss: number }; disks: Array<{ state: string; totalBytes: number }>; erasure: { dataShards: number; parityShards: number }; usage: { objects: number; bytes: number } };
    assert.equal(typeof info.version, 'string');
    assert.equal(typeof info.uptime, 'number');
    assert.ok(info.memory.rss > 0);
    assert.deepEqual(info.disks.map((d) => d.state), ['ok', 'ok', 'ok', 'ok']);
    assert.ok(info.disks[0]!.totalBytes > 0);
    assert.deepEqual([info.erasure.dataShards, info.erasure.parityShards], [3, 1]);
    assert.deepEqual([info.usage.objects, info.usage.bytes], [OBJECTS, OBJECTS * SIZE]);
  });

  test('a user without an admin policy is refused: AccessDenied, exit 1', async () => {
    const add = await admin(['user', 'add', 'viewer', '--policy', 'readonly']);
    assert.equal(add.code, 0, add.stderr);
    const u = JSON.parse(add.stdout) as { accessKey: string; secretKey: string };
    for (const cmd of [['info'], ['heal'], ['scan'], ['heal', '--status']]) {
      const r = await admin(cmd, { id: u.accessKey, secret: u.secretKey });
      assert.equal(r.code, 1, `${cmd.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, /AccessDenied/);
    }
  });

  test('scan reports a flipped byte (object and disk), changes nothing, exits 3; heal repairs it', async () => {
    const [file] = await shardFilesOf(disk(1), 'img/3');
    assert.ok(file, 'img/3 has a shard on disk 1');
    const fh = await open(file, 'r+');
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, 100);
    b[0]! ^= 0x5a;
    await fh.write(b, 0, 1, 100);
    await fh.close();
    const before = await readFile(file);
    const mtime = (await stat(file)).mtimeMs;

    const plain = await admin(['scan']);
    assert.equal(plain.code, 3, plain.stderr + plain.stdout);
    assert.match(plain.stdout, new RegExp(`DAMAGE photos/img/3 .*on disk 1 \\(${disk(1).replace(/[/\\.]/g, '\\$&')}\\): corrupt`));
    assert.equal(plain.stdout.split('\n').filter((l) => l.startsWith('DAMAGE')).length, 1, plain.stdout);

    const j = await admin(['scan', '--json', '--bucket', 'photos']);
    assert.equal(j.code, 3);
    const summary = jsonLines(j.stdout).at(-1)!;
    assert.equal(summary.type, 'summary');
    assert.equal(summary.objectsChecked, OBJECTS);
    assert.deepEqual(summary.damage.map((d) => [d.key, d.disk, d.problem]), [['img/3', 1, 'corrupt']]);

    assert.ok((await readFile(file)).equals(before), 'scan left the shard file as it was');
    assert.equal((await stat(file)).mtimeMs, mtime);

    const heal = await admin(['heal', '--json']);
    assert.equal(heal.code, 0, heal.stderr);
    const h = jsonLines(heal.stdout).at(-1)!;
    assert.deepEqual([h.objectsHealed, h.shardsRebuilt], [1, 1]);
    const again = await admin(['scan']);
    assert.equal(again.code, 0, again.stdout);
    assert.match(again.stdout, /no damage found/);
  });

  test('heal rebuilds a wiped disk; its progress lines add up to the totals; data survives losing another disk', async () => {
    // Disk 2 loses every shard file (its format and journal stay: no automatic heal starts).
    await rm(path.join(disk(2), 'shards'), { recursive: true, force: true });
    const scan = await admin(['scan', '--json']);
    assert.equal(scan.code, 3);
    assert.equal(jsonLines(scan.stdout).at(-1)!.damage.filter((d) => d.problem === 'missing' && d.disk === 2).length, OBJECTS);

    // Paced so that several progress lines come out.
    const r = await admin(['heal', '--rate', '1MiB', '--interval', '0.3']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const lines = r.stdout.trim().split('\n');
    const progress = lines.slice(0, -1).map((l) => /: (\d+)\/(\d+) objects, .* (\d+) healed \((\d+) shards\)/.exec(l));
    assert.ok(progress.length >= 2 && progress.every(Boolean), r.stdout);
    let last = 0;
    for (const m of progress) {
      const n = Number(m![1]);
      assert.equal(Number(m![2]), OBJECTS);
      assert.ok(n >= last && n <= OBJECTS, r.stdout);
      last = n;
    }
    assert.match(lines.at(-1)!, new RegExp(`done in .*: ${OBJECTS} object\\(s\\), ${((OBJECTS * SIZE) / 2 ** 20).toFixed(1)} MiB checked .*; ${OBJECTS} object\\(s\\) healed, ${OBJECTS} shard\\(s\\) rewritten$`));

    // Again with disk 3, in JSON: every progress line parses, the summary matches the totals.
    await rm(path.join(disk(3), 'shards'), { recursive: true, force: true });
    const j = await admin(['heal', '--json', '--rate', '2MiB', '--interval', '0.3']);
    assert.equal(j.code, 0, j.stderr);
    const jobs = jsonLines(j.stdout);
    const summary = jobs.at(-1)!;
    assert.equal(summary.type, 'summary');
    assert.ok(jobs.slice(0, -1).every((p) => p.type === 'progress' && p.id === summary.id && p.objectsChecked <= OBJECTS));
    assert.deepEqual(summary.total, { objects: OBJECTS, bytes: OBJECTS * SIZE });
    assert.deepEqual([summary.objectsChecked, summary.bytesChecked, summary.objectsHealed, summary.shardsRebuilt], [OBJECTS, OBJECTS * SIZE, OBJECTS, OBJECTS]);

    // Disk 1 goes away (a file where the directory was: the monitor takes it offline).
    await rename(disk(1), `${disk(1)}.away`);
    await writeFile(disk(1), 'not a disk');
    const deadline = Date.now() + 60_000;
    let info: RunResult;
    for (;;) {
      info = await admin(['info']);
      if (/\n\s+1\s+OFFLINE/.test(info.stdout)) break;
      assert.ok(Date.now() < deadline, `disk 1 never shown offline:\n${info.stdout}`);
      await new Promise((res) => setTimeout(res, 500));
    }
    assert.match(info.stdout, /disks:\s+4 \(3 ok, 1 OFFLINE\)/);
    const ij = JSON.parse((await admin(['info', '--json'])).stdout) as { disks: Array<{ state: string }> };
    assert.deepEqual(ij.disks.map((d) => d.state), ['offline', 'ok', 'ok', 'ok']);
    await readBack();
  });

  test('Ctrl-C detaches, the job goes on; --status reattaches, a second start is refused, --stop stops it', async () => {
    const child = spawn(process.execPath, [MAIN, 'admin', '--endpoint', server.endpoint, 'heal', '--rate', '32KiB'], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: TEST_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: TEST_SECRET_KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const deadline = Date.now() + 30_000;
    while (!out.includes('\n')) {
      assert.ok(Date.now() < deadline, `no progress line: ${out} ${err}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    child.kill('SIGINT');
    assert.equal(await exited, 0, err);
    assert.match(err, /detached: heal job (heal-\S+) goes on in the server/);
    const id = /detached: heal job (heal-\S+)/.exec(err)![1];

    const status = await admin(['heal', '--status', '--detach', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const s = jsonLines(status.stdout).at(-1)!;
    assert.deepEqual([s.id, s.state], [id, 'running']);

    const second = await admin(['scan']);
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`already running: ${id}`));

    const stop = await admin(['heal', '--stop']);
    assert.equal(stop.code, 0, stop.stderr);
    const end = await admin(['heal', '--status', '--json']);
    const last = jsonLines(end.stdout).at(-1)!;
    assert.deepEqual([last.type, last.id, last.state], ['summary', id, 'stopped']);
    assert.equal(end.code, 1);
  });
});
