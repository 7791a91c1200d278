// Tessera as a dependency, the way a user gets it: `npm pack` (whose prepack builds dist/), the
// tarball installed into an empty project outside the repository, offline from the npm cache
// and with no working C++ compiler, then a node:test file in that project that uses
// `startTessera` with the AWS SDK at default settings: create a bucket, PUT/GET, a multipart
// Upload, versioning, reset() between tests, close(), and no temporary directory left behind.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run, type RunResult } from '../helpers/clients.js';
import { writeConsumerProject } from '../helpers/consumer-project.js';
import { repoRoot } from '../helpers/repo-root.js';

const SDK_VERSION = '3.1175.0';

/** The consumer's own test file: what the README's "Use it in tests" shows, with assertions. */
const CONSUMER_TEST = `
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { startTessera } from 'tessera';
import {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, ListBucketsCommand, ListObjectsV2Command,
  PutBucketVersioningCommand, ListObjectVersionsCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

let tessera;
let s3;
before(async () => {
  tessera = await startTessera({ buckets: ['app-bucket'] });
  s3 = new S3Client(tessera.clientConfig);
});
afterEach(() => tessera.reset());
after(async () => {
  s3.destroy();
  await tessera.close();
  assert.equal(existsSync(tessera.dir), false, 'close() removed the data directory');
});

test('create a bucket, PUT and GET', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'made-by-a-test' }));
  await s3.send(new PutObjectCommand({ Bucket: 'made-by-a-test', Key: 'hello.txt', Body: 'hello world', ContentType: 'text/plain' }));
  const r = await s3.send(new GetObjectCommand({ Bucket: 'made-by-a-test', Key: 'hello.txt' }));
  assert.equal(r.ContentType, 'text/plain');
  assert.equal(await r.Body.transformToString(), 'hello world');
  await s3.send(new PutObjectCommand({ Bucket: 'app-bucket', Key: 'left-behind', Body: 'x' }));
});

test('multipart Upload (lib-storage, 3 parts)', async () => {
  const body = Buffer.alloc(12 * 1024 * 1024 + 5);
  for (let i = 0; i < body.length; i += 4096) body.writeUInt32LE(i, i);
  const out = await new Upload({ client: s3, params: { Bucket: 'app-bucket', Key: 'big.bin', Body: body }, partSize: 5 * 1024 * 1024 }).done();
  assert.match(out.ETag, /-3"$/);
  const got = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'app-bucket', Key: 'big.bin' }))).Body.transformToByteArray());
  assert.equal(createHash('md5').update(got).digest('hex'), createHash('md5').update(body).digest('hex'));
});

test('versioning', async () => {
  await s3.send(new PutBucketVersioningCommand({ Bucket: 'app-bucket', VersioningConfiguration: { Status: 'Enabled' } }));
  const v1 = await s3.send(new PutObjectCommand({ Bucket: 'app-bucket', Key: 'doc', Body: 'first' }));
  await s3.send(new PutObjectCommand({ Bucket: 'app-bucket', Key: 'doc', Body: 'second' }));
  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: 'app-bucket' }));
  assert.equal(versions.Versions.length, 2);
  const old = await s3.send(new GetObjectCommand({ Bucket: 'app-bucket', Key: 'doc', VersionId: v1.VersionId }));
  assert.equal(await old.Body.transformToString(), 'first');
});

test('reset() between tests: what earlier tests made is gone, the configured bucket is back empty', async () => {
  const names = ((await s3.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name);
  assert.deepEqual(names, ['app-bucket']);
  assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: 'app-bucket' }))).KeyCount, 0);
  assert.equal((await s3.send(new ListObjectVersionsCommand({ Bucket: 'app-bucket' }))).Versions, undefined);
});
`;

/** The types a TypeScript user sees, checked with the repository's compiler. */
const CONSUMER_TYPES = `
import { startTessera, type StartTesseraOptions, type Tessera } from 'tessera';
import { S3Client } from '@aws-sdk/client-s3';
const options: StartTesseraOptions = { buckets: ['typed'], disks: 1, quiet: true };
const t: Tessera = await startTessera(options);
const s3 = new S3Client(t.clientConfig);
const endpoint: string = t.endpoint;
await t.reset();
await t.close({ graceMs: 10 });
s3.destroy();
console.log(endpoint);
`;

/**
 * npm's own variables from an outer `npm test` must not steer the npm commands run here, and
 * the outer test runner's NODE_TEST_CONTEXT would make the project's `node --test` report to
 * it in its private format instead of printing.
 */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'NODE_TEST_CONTEXT') env[k] = v;
  return { ...env, ...extra };
}

function check(r: RunResult, what: string): RunResult {
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  return r;
}

/** Runs the project's storage.test.mjs with TMPDIR=tmp: all 4 tests pass, nothing is left in tmp. */
async function runConsumerSuite(project: string, tmp: string): Promise<void> {
  const r = await run(process.execPath, ['--no-warnings', '--test', '--test-reporter=tap', '--test-timeout=120000', 'storage.test.mjs'], { cwd: project, env: cleanEnv({ TMPDIR: tmp }), timeoutMs: 240_000 });
  assert.equal(r.code, 0, `the consumer's tests failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /# pass 4\b/);
  assert.match(r.stdout, /# fail 0\b/);
  assert.deepEqual(await readdir(tmp), [], 'no temporary directory left behind');
}

describe('the packed tarball installed into an empty project', { timeout: 600_000 }, () => {
  const repo = repoRoot();
  let work: string;
  let project: string;
  let tarball: string;
  let packed: { size: number; unpackedSize: number; entryCount: number; files: { path: string }[] };

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'tessera-install-'));
    project = path.join(work, 'project');
    await mkdir(project);
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  test('npm pack builds (prepack) and ships only dist/src, bin, README, LICENSE and the config example', { timeout: 300_000 }, async () => {
    const r = check(await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: repo, env: cleanEnv(), timeoutMs: 280_000 }), 'npm pack');
    [packed] = JSON.parse(r.stdout) as [typeof packed & { filename: string }];
    tarball = path.join(work, (packed as unknown as { filename: string }).filename);
    const files = packed.files.map((f) => f.path);
    console.log(`tarball: ${path.basename(tarball)}, ${(packed.size / 1024).toFixed(0)} KiB packed, ${(packed.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${packed.entryCount} files`);
    for (const f of ['package.json', 'README.md', 'LICENSE', 'config.example.yaml', 'bin/tessera.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/embed/start-tessera.d.ts', 'dist/src/cli/main.js', 'dist/src/object/hash-worker.js']) {
      assert.ok(files.includes(f), `${f} is in the package`);
    }
    const stray = files.filter((f) => !/^(package\.json|README\.md|LICENSE|config\.example\.yaml|bin\/tessera\.js|dist\/src\/.+\.(js|d\.ts))$/.test(f));
    assert.deepEqual(stray, [], 'nothing else: no dist/test, sources, source maps, tests or docs');
    assert.ok(packed.size < 2 * 1024 * 1024, `package size ${packed.size}`);
  });

  test('npm ci --offline from the cache, with no working C++ compiler; runs a node:test suite against startTessera', { timeout: 300_000 }, async () => {
    assert.ok(tarball, 'packed by the previous test');
    const manifest = JSON.parse((await run('tar', ['-xOzf', tarball, 'package/package.json'])).stdout) as Parameters<typeof writeConsumerProject>[0]['manifest'];
    await writeConsumerProject({ dir: project, repo, tarball, manifest, extra: { '@aws-sdk/client-s3': SDK_VERSION, '@aws-sdk/lib-storage': SDK_VERSION } });
    // CC/CXX that always fail: the optional native CRC32C addon cannot build, as on a machine
    // without a toolchain; fast-crc32c must then fall back to JavaScript.
    const noCompiler = { CC: '/bin/false', CXX: '/bin/false' };
    check(await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: project, env: cleanEnv(noCompiler), timeoutMs: 280_000 }), 'npm ci --offline');
    const installed = path.join(project, 'node_modules', 'tessera');
    assert.equal(existsSync(path.join(installed, 'src')), false);
    assert.equal(existsSync(path.join(installed, 'dist', 'test')), false);
    assert.equal(existsSync(path.join(project, 'node_modules', 'typescript')), false, 'no compiler at run time');
    assert.equal(existsSync(path.join(project, 'node_modules', 'sse4_crc32')), false, 'the native addon did not build (no compiler), so the JS CRC32C is in use');

    // The command runs from dist/ as installed (no src/, no TypeScript).
    const v = check(await run(path.join(project, 'node_modules', '.bin', 'tessera'), ['--version'], { cwd: project, env: cleanEnv() }), 'tessera --version');
    assert.equal(v.stdout.trim(), `tessera ${manifest.version}`);

    const tmp = path.join(work, 'tmp');
    await mkdir(tmp);
    await writeFile(path.join(project, 'storage.test.mjs'), CONSUMER_TEST);
    await runConsumerSuite(project, tmp);
  });

  test('install scripts skipped (npm ci --ignore-scripts, as with unapproved scripts): the same suite passes on the prebuilt LevelDB binding and the JS CRC32C', { timeout: 300_000 }, async () => {
    assert.ok(existsSync(path.join(project, 'storage.test.mjs')), 'written by the previous test');
    await rm(path.join(project, 'node_modules'), { recursive: true, force: true });
    check(await run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: project, env: cleanEnv(), timeoutMs: 280_000 }), 'npm ci --offline --ignore-scripts');
    assert.equal(existsSync(path.join(project, 'node_modules', 'sse4_crc32', 'build')), false, 'the addon was not built');
    const tmp = await mkdtemp(path.join(work, 'tmp-'));
    await runConsumerSuite(project, tmp);
  });

  test('the shipped types: StartTesseraOptions, Tessera, and clientConfig accepted by S3Client', { timeout: 120_000 }, async () => {
    assert.ok(existsSync(path.join(project, 'node_modules', 'tessera')), 'installed by the previous test');
    await writeFile(path.join(project, 'typed.ts'), CONSUMER_TYPES);
    const tsc = path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
    const typecheck = () => run(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--typeRoots', path.join(repo, 'node_modules', '@types'), '--types', 'node', 'typed.ts'], { cwd: project, env: cleanEnv(), timeoutMs: 110_000 });
    const r = await typecheck();
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    // And a wrong option is a type error, so the check above can fail.
    await writeFile(path.join(project, 'typed.ts'), CONSUMER_TYPES.replace("disks: 1", "disks: 'one'"));
    const bad = await typecheck();
    assert.notEqual(bad.code, 0);
    assert.match(bad.stdout, /typed\.ts\(4,\d+\): error TS2322/);
    assert.equal(JSON.parse(await readFile(path.join(project, 'node_modules', 'tessera', 'package.json'), 'utf8')).types, './dist/src/index.d.ts');
  });

  test('npx tessera server --ephemeral --json from the installed package: one JSON line; SIGTERM to npx removes the directory', { timeout: 120_000 }, async () => {
    assert.ok(existsSync(path.join(project, 'node_modules', '.bin', 'tessera')), 'installed by an earlier test');
    const tmp = await mkdtemp(path.join(work, 'tmp-'));
    const child = spawn('npx', ['--offline', 'tessera', 'server', '--ephemeral', '--json'], { cwd: project, env: cleanEnv({ TMPDIR: tmp }), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no JSON line within 60 s: ${out} ${err}`)), 60_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) {
            clearTimeout(timer);
            resolve(out.slice(0, out.indexOf('\n')));
          }
        });
      });
      const info = JSON.parse(line) as { endpoint: string; dir: string; accessKeyId: string; secretAccessKey: string; region: string };
      assert.match(info.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(path.dirname(info.dir), tmp);
      const health = await fetch(`${info.endpoint}/health/ready`);
      assert.equal(health.status, 200);
      child.kill('SIGTERM');
      await exited;
      // npm exits at once; the server notices its npm is gone, closes and removes its directory.
      const deadline = Date.now() + 30_000;
      // On Node 22+ npm itself keeps a compile cache in TMPDIR (module.enableCompileCache):
      // not ours to remove.
      const ours = async () => (await readdir(tmp)).filter((n) => n !== 'node-compile-cache');
      while ((await ours()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(await ours(), [], 'the ephemeral directory is removed');
      assert.equal(existsSync(info.dir), false);
      await assert.rejects(fetch(`${info.endpoint}/health/live`), 'the server is gone');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
