// Embedded mode and `tessera server --ephemeral` seen from outside, in processes of their own:
// a quiet embedded server writes nothing to stdout or stderr and lets its process exit by
// itself after close(); --ephemeral prints one JSON line, serves, and removes its directory
// on SIGTERM and SIGINT.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, PutObjectCommand, CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { run } from '../helpers/clients.js';
import { freePort } from '../helpers/process-server.js';
import { repoRoot } from '../helpers/repo-root.js';

const INDEX = fileURLToPath(new URL('../../src/index.js', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** A host program: starts an embedded server, uses it through the SDK, resets, closes, and just ends. */
const HOST = (quiet: boolean) => `
  import { startTessera } from ${JSON.stringify(INDEX)};
  import { S3Client, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
  const t = await startTessera({ buckets: ['host-bucket'], quiet: ${quiet}, logLevel: 'info' });
  const s3 = new S3Client(t.clientConfig);
  await s3.send(new PutObjectCommand({ Bucket: 'host-bucket', Key: 'k', Body: 'v' }));
  const got = await (await s3.send(new GetObjectCommand({ Bucket: 'host-bucket', Key: 'k' }))).Body.transformToString();
  if (got !== 'v') throw new Error('read back ' + got);
  await t.reset();
  s3.destroy();
  await t.close();
`;

async function readLine(child: ChildProcess, what: string, ms = 30_000): Promise<string> {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no line within ${ms} ms; got ${JSON.stringify(out)}`)), ms);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before printing a line`)));
  });
}

describe('embedded and ephemeral servers in their own processes', { timeout: 300_000 }, () => {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'tessera-embed-proc-'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  test('quiet (the default): nothing on stdout or stderr, and the process exits by itself after close()', { timeout: 120_000 }, async () => {
    const r = await run(process.execPath, ['--no-warnings', '--input-type=module', '-e', HOST(true)], { cwd: repoRoot(), env: { ...process.env, TMPDIR: tmp }, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, '');
    assert.deepEqual(await readdir(tmp), [], 'the temporary directory is gone');
  });

  test('quiet: false logs JSON lines to stderr, never stdout', { timeout: 120_000 }, async () => {
    const r = await run(process.execPath, ['--no-warnings', '--input-type=module', '-e', HOST(false)], { cwd: repoRoot(), env: { ...process.env, TMPDIR: tmp }, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.ok(lines.length > 0);
    for (const l of lines) assert.equal(typeof JSON.parse(l).msg, 'string', l);
  });

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    test(`--ephemeral ${sig === 'SIGTERM' ? '--json' : '(fixed keys from the environment)'}: one JSON line, a working server, the directory removed on ${sig}`, { timeout: 120_000 }, async () => {
      const port = await freePort();
      const json = sig === 'SIGTERM';
      const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp, TESSERA_DISKS: '/nonexistent/d1', TESSERA_CONFIG: '/nonexistent.yaml' };
      if (!json) Object.assign(env, { TESSERA_ROOT_ACCESS_KEY: 'AKIAEPHEMERALTEST001', TESSERA_ROOT_SECRET_KEY: 'ephemeral-secret-0123456789abcdefghijklm' });
      const child = spawn(process.execPath, [MAIN, 'server', '--ephemeral', '--port', String(port), ...(json ? ['--json'] : [])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      try {
        const info = JSON.parse(await readLine(child, 'tessera server --ephemeral')) as Record<string, unknown>;
        assert.deepEqual(Object.keys(info).sort(), ['accessKeyId', 'dir', 'endpoint', 'pid', 'region', 'secretAccessKey']);
        assert.equal(info.endpoint, `http://127.0.0.1:${port}`);
        assert.equal(info.region, 'us-east-1');
        assert.equal(info.pid, child.pid);
        if (!json) assert.equal(info.accessKeyId, 'AKIAEPHEMERALTEST001');
        const dir = info.dir as string;
        assert.equal(path.dirname(dir), tmp);
        assert.ok(existsSync(path.join(dir, 'disk1')));
        const s3 = new S3Client({
          endpoint: info.endpoint as string,
          region: info.region as string,
          forcePathStyle: true,
          credentials: { accessKeyId: info.accessKeyId as string, secretAccessKey: info.secretAccessKey as string },
        });
        await s3.send(new CreateBucketCommand({ Bucket: 'from-another-language' }));
        await s3.send(new PutObjectCommand({ Bucket: 'from-another-language', Key: 'k', Body: 'v' }));
        assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: 'from-another-language', Key: 'k' }))).Body!.transformToString(), 'v');
        s3.destroy();

        child.kill(sig);
        assert.equal(await exited, 0, stderr);
        assert.equal(existsSync(dir), false, 'the directory is removed on exit');
        assert.equal(stdout.trim().split('\n').length, 1, `exactly one line on stdout: ${stdout}`);
        if (json) for (const l of stderr.trim().split('\n').filter(Boolean)) JSON.parse(l);
        else assert.match(stderr, /ephemeral S3 server[\s\S]*AKIAEPHEMERALTEST001/);
      } finally {
        child.kill('SIGKILL');
      }
    });
  }

  test('--ephemeral refuses options it does not know, and --config', { timeout: 60_000 }, async () => {
    for (const args of [['--disks', '4'], ['--config', 'x.yaml'], ['--port', 'many']]) {
      const r = await run(process.execPath, [MAIN, 'server', '--ephemeral', ...args], { env: { ...process.env, TMPDIR: tmp }, timeoutMs: 30_000 });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^tessera: config: /);
    }
    assert.deepEqual((await readdir(tmp)).filter((n) => n.startsWith('tessera-embed-')), []);
  });
});
