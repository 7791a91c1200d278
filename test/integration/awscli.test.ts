// aws-cli (v1, as installed) against a real server, with its default settings apart from
// what test/helpers/clients.ts configures (SigV4, path addressing, our credentials). aws-cli
// sends CRC32 checksums by default, lists with encoding-type=url, downloads large objects
// with parallel ranged GETs, and presigns with SigV4 because of the config.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { aws, run, type RunResult } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
let work: string;
const B = 'cli-bucket';

function show(r: RunResult): string {
  return `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

async function ok(args: string[], opts: Parameters<typeof aws>[2] = {}): Promise<string> {
  const r = await aws(s, args, opts);
  assert.equal(r.code, 0, `aws ${args.join(' ')} failed\n${show(r)}`);
  return r.stdout;
}

async function json<T = any>(args: string[]): Promise<T> {
  const out = await ok(args);
  return (out.trim() === '' ? {} : JSON.parse(out)) as T;
}

/** Runs a command that must fail with S3 error `code` (aws-cli prints "An error occurred (Code)"). */
async function fails(args: string[], code: string): Promise<RunResult> {
  const r = await aws(s, args);
  assert.notEqual(r.code, 0, `aws ${args.join(' ')} should fail\n${show(r)}`);
  assert.match(r.stderr, new RegExp(`\\(${code}\\)`), `expected ${code}\n${show(r)}`);
  return r;
}

function crc32Base64(data: Buffer): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(zlib.crc32(data) >>> 0);
  return b.toString('base64');
}

function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

/** Deterministic pseudo-random bytes, fast enough for tens of MiB. */
function pattern(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  for (let i = size - (size % 4); i < size; i++) b[i] = i & 0xff;
  return b;
}

async function listKeys(bucket: string, prefix = ''): Promise<string[]> {
  const r = await json<{ Contents?: Array<{ Key: string }> }>(['s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', prefix]);
  return (r.Contents ?? []).map((c) => c.Key).sort();
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  await walk(dir, '');
  return out.sort();
}

before(async () => {
  s = await startTestServer();
  work = await mkdtemp(path.join(os.tmpdir(), 'tessera-awscli-'));
});

after(async () => {
  await s?.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('aws s3 (high-level commands)', () => {
  test('mb, head-bucket, get-bucket-location', async () => {
    assert.match(await ok(['s3', 'mb', `s3://${B}`]), new RegExp(`make_bucket: ${B}`));
    const head = await json<{ BucketRegion?: string }>(['s3api', 'head-bucket', '--bucket', B]);
    if (head.BucketRegion !== undefined) assert.equal(head.BucketRegion, s.region);
    const loc = await json<{ LocationConstraint: string | null }>(['s3api', 'get-bucket-location', '--bucket', B]);
    // S3 reports us-east-1 as an empty location constraint.
    assert.equal(loc.LocationConstraint ?? 'us-east-1', s.region);
    assert.match(await ok(['s3', 'ls']), new RegExp(`\\s${B}\\n`));
  });

  test('cp a small file up and down; the CRC32 aws-cli sends is stored', async () => {
    const data = Buffer.from('hello from aws-cli\n'.repeat(50));
    const src = path.join(work, 'small.txt');
    await writeFile(src, data);
    await ok(['s3', 'cp', src, `s3://${B}/docs/small.txt`]);
    const dst = path.join(work, 'small.down.txt');
    await ok(['s3', 'cp', `s3://${B}/docs/small.txt`, dst]);
    assert.ok((await readFile(dst)).equals(data));
    // To stdout as well.
    const r = await aws(s, ['s3', 'cp', `s3://${B}/docs/small.txt`, '-']);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, data.toString());
    const head = await json<{ ContentLength: number; ETag: string; ChecksumCRC32?: string; ContentType?: string }>(
      ['s3api', 'head-object', '--bucket', B, '--key', 'docs/small.txt', '--checksum-mode', 'ENABLED']);
    assert.equal(head.ContentLength, data.length);
    assert.equal(head.ETag, `"${md5Hex(data)}"`);
    assert.equal(head.ChecksumCRC32, crc32Base64(data));
    assert.equal(head.ContentType, 'text/plain', 'aws s3 cp guesses the content type');

    // From stdin, and S3 → S3 (CopyObject) then mv (copy + delete).
    await ok(['s3', 'cp', '-', `s3://${B}/docs/stdin.txt`], { input: 'piped in\n' });
    await ok(['s3', 'cp', `s3://${B}/docs/stdin.txt`, `s3://${B}/docs/copied.txt`]);
    await ok(['s3', 'mv', `s3://${B}/docs/copied.txt`, `s3://${B}/docs/moved.txt`]);
    const moved = await aws(s, ['s3', 'cp', `s3://${B}/docs/moved.txt`, '-']);
    assert.equal(moved.stdout, 'piped in\n', show(moved));
    assert.deepEqual(await listKeys(B, 'docs/'), ['docs/moved.txt', 'docs/small.txt', 'docs/stdin.txt']);
  });

  test('cp a 20 MiB file: single PUT, single GET, parallel ranged GETs, multipart upload', async () => {
    const data = pattern(20 * 1024 * 1024, 7);
    const src = path.join(work, 'big.bin');
    await writeFile(src, data);
    const single = { s3Settings: { multipart_threshold: '64MB' } };
    await ok(['s3', 'cp', src, `s3://${B}/big/big.bin`], single);
    const head = await json<{ ContentLength: number; ETag: string; ChecksumCRC32?: string }>(
      ['s3api', 'head-object', '--bucket', B, '--key', 'big/big.bin', '--checksum-mode', 'ENABLED']);
    assert.equal(head.ContentLength, data.length);
    assert.equal(head.ETag, `"${md5Hex(data)}"`, 'a single-part upload has the MD5 as ETag');
    assert.equal(head.ChecksumCRC32, crc32Base64(data));

    const down1 = path.join(work, 'big.down1.bin');
    await ok(['s3', 'cp', `s3://${B}/big/big.bin`, down1], single);
    assert.ok((await readFile(down1)).equals(data), 'single GET is bit-exact');
    await unlink(down1);

    // Default settings: 8 MiB threshold → aws-cli fetches 8 MiB ranges in parallel.
    const down2 = path.join(work, 'big.down2.bin');
    await ok(['s3', 'cp', `s3://${B}/big/big.bin`, down2]);
    assert.ok((await readFile(down2)).equals(data), 'ranged GETs reassemble bit-exact');
    await unlink(down2);

    // Default settings upload it as a multipart upload of 8 MiB parts.
    await ok(['s3', 'cp', src, `s3://${B}/big/multi.bin`]);
    const mhead = await json<{ ContentLength: number; ETag: string; ChecksumCRC32?: string; ChecksumType?: string }>(
      ['s3api', 'head-object', '--bucket', B, '--key', 'big/multi.bin', '--checksum-mode', 'ENABLED']);
    assert.equal(mhead.ContentLength, data.length);
    assert.match(mhead.ETag, /^"[0-9a-f]{32}-3"$/, 'multipart ETag: MD5 of the part MD5s, dash, part count');
    if (mhead.ChecksumType === 'FULL_OBJECT') assert.equal(mhead.ChecksumCRC32, crc32Base64(data));
    else if (mhead.ChecksumCRC32 !== undefined) assert.match(mhead.ChecksumCRC32, /-3$/);
    const down3 = path.join(work, 'big.down3.bin');
    await ok(['s3', 'cp', `s3://${B}/big/multi.bin`, down3]);
    assert.ok((await readFile(down3)).equals(data), 'multipart object reads back bit-exact');
    await unlink(down3);
    await unlink(src);
  });

  test('ls: top level, prefix, recursive', async () => {
    await Promise.all(['ls/a.txt', 'ls/sub/b.txt', 'ls/sub/deeper/c.txt', 'ls-other.txt'].map((k) =>
      ok(['s3api', 'put-object', '--bucket', B, '--key', k, '--body', path.join(work, 'small.txt')])));
    const top = await ok(['s3', 'ls', `s3://${B}/`]);
    assert.match(top, /PRE docs\/\n/);
    assert.match(top, /PRE ls\/\n/);
    assert.match(top, /\d+ ls-other\.txt\n/);
    assert.doesNotMatch(top, /a\.txt/);

    const prefixed = await ok(['s3', 'ls', `s3://${B}/ls/`]);
    assert.match(prefixed, /PRE sub\/\n/);
    assert.match(prefixed, /\d+ a\.txt\n/);
    assert.doesNotMatch(prefixed, /b\.txt/);

    // A prefix that is not a "directory" matches key beginnings.
    const partial = await ok(['s3', 'ls', `s3://${B}/ls`]);
    assert.match(partial, /PRE ls\/\n/);
    assert.match(partial, /ls-other\.txt/);

    const rec = await ok(['s3', 'ls', '--recursive', `s3://${B}/ls/`]);
    const keys = rec.trim().split('\n').map((l) => l.trim().split(/\s+/).slice(3).join(' ')).sort();
    assert.deepEqual(keys, ['ls/a.txt', 'ls/sub/b.txt', 'ls/sub/deeper/c.txt']);

    const summary = await ok(['s3', 'ls', '--recursive', '--summarize', `s3://${B}/ls/sub/`]);
    assert.match(summary, /Total Objects: 2/);
  });

  test('sync a directory tree with awkward names up, again (no-op), down, and with --delete', async () => {
    const tree = path.join(work, 'tree');
    const files: Record<string, string> = {
      'dir with space/a+b.txt': 'plus and space',
      'dir with space/ü/ñandú €.txt': 'unicode',
      'plus+dir/c d+e.txt': 'more plus',
      '100% real.txt': 'percent',
      'semi;colon=eq&amp~tilde.txt': 'punctuation',
      '日本語/ファイル.txt': 'cjk',
      'plain.txt': 'plain',
    };
    const past = new Date(Date.now() - 3600_000);
    for (const [rel, content] of Object.entries(files)) {
      const p = path.join(tree, rel);
      await mkdir(path.dirname(p), { recursive: true });
      await writeFile(p, content);
      // Older than the upload, so that a second sync has nothing to do.
      await utimes(p, past, past);
    }
    await ok(['s3', 'sync', tree, `s3://${B}/tree/`]);
    assert.deepEqual(await listKeys(B, 'tree/'), Object.keys(files).map((k) => `tree/${k}`).sort());

    const again = await ok(['s3', 'sync', tree, `s3://${B}/tree/`]);
    assert.equal(again.trim(), '', `second sync must upload nothing:\n${again}`);

    const back = path.join(work, 'back');
    await ok(['s3', 'sync', `s3://${B}/tree/`, back]);
    assert.deepEqual(await filesUnder(back), Object.keys(files).sort());
    for (const [rel, content] of Object.entries(files)) assert.equal(await readFile(path.join(back, rel), 'utf8'), content, rel);
    const againDown = await ok(['s3', 'sync', `s3://${B}/tree/`, back]);
    assert.equal(againDown.trim(), '', `second download sync must fetch nothing:\n${againDown}`);

    await unlink(path.join(tree, 'plus+dir/c d+e.txt'));
    const del = await ok(['s3', 'sync', '--delete', tree, `s3://${B}/tree/`]);
    assert.match(del, /delete: s3:\/\/cli-bucket\/tree\/plus\+dir\/c d\+e\.txt/);
    assert.ok(!(await listKeys(B, 'tree/')).includes('tree/plus+dir/c d+e.txt'));
  });

  test('rm --recursive removes everything under a prefix, and only that', async () => {
    await ok(['s3', 'rm', '--recursive', `s3://${B}/tree/`]);
    assert.deepEqual(await listKeys(B, 'tree/'), []);
    assert.ok((await listKeys(B, 'ls/')).length === 3, 'other prefixes untouched');
    await ok(['s3', 'rm', `s3://${B}/ls-other.txt`]);
    assert.deepEqual(await listKeys(B, 'ls-'), []);
  });

  test('rb refuses a non-empty bucket (BucketNotEmpty), rb --force empties and removes it', async () => {
    const other = 'cli-bucket-two';
    await ok(['s3', 'mb', `s3://${other}`]);
    await ok(['s3', 'cp', path.join(work, 'small.txt'), `s3://${other}/x/1.txt`]);
    await ok(['s3', 'cp', path.join(work, 'small.txt'), `s3://${other}/2.txt`]);
    await fails(['s3', 'rb', `s3://${other}`], 'BucketNotEmpty');
    await fails(['s3api', 'delete-bucket', '--bucket', other], 'BucketNotEmpty');
    assert.deepEqual(await listKeys(other), ['2.txt', 'x/1.txt'], 'the refused delete changed nothing');
    await ok(['s3', 'rb', '--force', `s3://${other}`]);
    const r = await aws(s, ['s3api', 'head-bucket', '--bucket', other]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /404|NoSuchBucket|Not Found/);
    await fails(['s3', 'ls', `s3://${other}`], 'NoSuchBucket');
  });
});

describe('aws s3api (low-level commands)', () => {
  test('put-object with --metadata and --content-type; head-object; get-object --range', async () => {
    const src = path.join(work, 'meta.bin');
    const data = Buffer.from('0123456789abcdefghij');
    await writeFile(src, data);
    const put = await json<{ ETag: string; ChecksumCRC32?: string }>(['s3api', 'put-object', '--bucket', B, '--key', 'api/meta.bin', '--body', src,
      '--metadata', 'color=blue,Shape=Round', '--content-type', 'application/x-tessera', '--cache-control', 'max-age=60']);
    assert.equal(put.ETag, `"${md5Hex(data)}"`);
    assert.equal(put.ChecksumCRC32, crc32Base64(data));

    const head = await json<{ ContentLength: number; ContentType: string; CacheControl?: string; Metadata: Record<string, string>; ETag: string }>(
      ['s3api', 'head-object', '--bucket', B, '--key', 'api/meta.bin']);
    assert.equal(head.ContentLength, 20);
    assert.equal(head.ContentType, 'application/x-tessera');
    assert.equal(head.CacheControl, 'max-age=60');
    assert.deepEqual(head.Metadata, { color: 'blue', shape: 'Round' }, 'metadata names are lower-cased, values kept');

    const out = path.join(work, 'range.out');
    const got = await json<{ ContentLength: number; ContentRange: string; Metadata: Record<string, string> }>(
      ['s3api', 'get-object', '--bucket', B, '--key', 'api/meta.bin', '--range', 'bytes=5-9', out]);
    assert.equal(got.ContentLength, 5);
    assert.equal(got.ContentRange, 'bytes 5-9/20');
    assert.equal(await readFile(out, 'utf8'), '56789');
    const suffix = await json<{ ContentRange: string }>(['s3api', 'get-object', '--bucket', B, '--key', 'api/meta.bin', '--range', 'bytes=-3', out]);
    assert.equal(suffix.ContentRange, 'bytes 17-19/20');
    assert.equal(await readFile(out, 'utf8'), 'hij');
    await fails(['s3api', 'get-object', '--bucket', B, '--key', 'api/meta.bin', '--range', 'bytes=20-30', out], 'InvalidRange');
  });

  test('copy-object: COPY keeps metadata, REPLACE replaces it', async () => {
    const copy = await json<{ CopyObjectResult: { ETag: string } }>(['s3api', 'copy-object', '--bucket', B, '--key', 'api/copy.bin', '--copy-source', `${B}/api/meta.bin`]);
    const head = await json<{ ContentType: string; Metadata: Record<string, string>; ETag: string }>(['s3api', 'head-object', '--bucket', B, '--key', 'api/copy.bin']);
    assert.equal(head.ETag, copy.CopyObjectResult.ETag);
    assert.equal(head.ContentType, 'application/x-tessera');
    assert.deepEqual(head.Metadata, { color: 'blue', shape: 'Round' });

    await ok(['s3api', 'copy-object', '--bucket', B, '--key', 'api/copy.bin', '--copy-source', `${B}/api/copy.bin`,
      '--metadata-directive', 'REPLACE', '--metadata', 'color=red', '--content-type', 'text/plain']);
    const head2 = await json<{ ContentType: string; Metadata: Record<string, string> }>(['s3api', 'head-object', '--bucket', B, '--key', 'api/copy.bin']);
    assert.equal(head2.ContentType, 'text/plain');
    assert.deepEqual(head2.Metadata, { color: 'red' });

    // A key with awkward characters as copy source (URL-encoded by aws-cli).
    const weird = 'api/we ird+ü.bin';
    await ok(['s3api', 'copy-object', '--bucket', B, '--key', weird, '--copy-source', `${B}/api/meta.bin`]);
    await ok(['s3api', 'copy-object', '--bucket', B, '--key', 'api/from-weird.bin', '--copy-source', `${B}/${weird}`]);
    const out = path.join(work, 'weird.out');
    await ok(['s3api', 'get-object', '--bucket', B, '--key', 'api/from-weird.bin', out]);
    assert.equal(await readFile(out, 'utf8'), '0123456789abcdefghij');
    await fails(['s3api', 'copy-object', '--bucket', B, '--key', 'api/x.bin', '--copy-source', `${B}/api/missing.bin`], 'NoSuchKey');
  });

  test('list-objects-v2 and list-objects paginate with small pages', async () => {
    const src = path.join(work, 'small.txt');
    await Promise.all(Array.from({ length: 7 }, (_, i) => ok(['s3api', 'put-object', '--bucket', B, '--key', `page/k${i}`, '--body', src])));
    const v2 = await json<{ Contents: Array<{ Key: string; Size: number }>; KeyCount?: number }>(
      ['s3api', 'list-objects-v2', '--bucket', B, '--prefix', 'page/', '--page-size', '2']);
    assert.deepEqual(v2.Contents.map((c) => c.Key), Array.from({ length: 7 }, (_, i) => `page/k${i}`));
    const v1 = await json<{ Contents: Array<{ Key: string }> }>(['s3api', 'list-objects', '--bucket', B, '--prefix', 'page/', '--page-size', '3']);
    assert.deepEqual(v1.Contents.map((c) => c.Key), Array.from({ length: 7 }, (_, i) => `page/k${i}`));
    const delim = await json<{ CommonPrefixes?: Array<{ Prefix: string }>; Contents?: unknown[] }>(
      ['s3api', 'list-objects-v2', '--bucket', B, '--delimiter', '/', '--prefix', 'api/']);
    assert.equal(delim.CommonPrefixes, undefined);
    assert.ok((delim.Contents ?? []).length >= 4);
    const top = await json<{ CommonPrefixes: Array<{ Prefix: string }> }>(['s3api', 'list-objects-v2', '--bucket', B, '--delimiter', '/']);
    assert.ok(top.CommonPrefixes.map((p) => p.Prefix).includes('page/'));
  });

  test('delete-object and delete-objects', async () => {
    await ok(['s3api', 'delete-object', '--bucket', B, '--key', 'page/k0']);
    const r = await aws(s, ['s3api', 'head-object', '--bucket', B, '--key', 'page/k0']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /\(404\)/, 'HEAD has no body: the error is the status');
    // Deleting a missing key succeeds, as in S3.
    await ok(['s3api', 'delete-object', '--bucket', B, '--key', 'page/never-existed']);

    const del = await json<{ Deleted: Array<{ Key: string }>; Errors?: unknown[] }>(['s3api', 'delete-objects', '--bucket', B, '--delete',
      JSON.stringify({ Objects: [{ Key: 'page/k1' }, { Key: 'page/k2' }, { Key: 'page/nope' }] })]);
    assert.deepEqual(del.Deleted.map((d) => d.Key).sort(), ['page/k1', 'page/k2', 'page/nope']);
    assert.equal(del.Errors, undefined);
    assert.deepEqual(await listKeys(B, 'page/'), ['page/k3', 'page/k4', 'page/k5', 'page/k6']);
    const quiet = await json<{ Deleted?: unknown[] }>(['s3api', 'delete-objects', '--bucket', B, '--delete',
      JSON.stringify({ Objects: [{ Key: 'page/k3' }, { Key: 'page/k4' }], Quiet: true })]);
    assert.equal(quiet.Deleted, undefined, 'Quiet mode lists no successes');
    assert.deepEqual(await listKeys(B, 'page/'), ['page/k5', 'page/k6']);
  });

  test('errors exit non-zero with the S3 code: NoSuchKey, NoSuchBucket, BucketNotEmpty, InvalidBucketName', async () => {
    const out = path.join(work, 'err.out');
    // Independent of each other: run them side by side.
    await Promise.all([
      fails(['s3api', 'get-object', '--bucket', B, '--key', 'no/such/key', out], 'NoSuchKey'),
      fails(['s3api', 'get-object', '--bucket', 'no-such-bucket-here', '--key', 'k', out], 'NoSuchBucket'),
      fails(['s3api', 'put-object', '--bucket', 'no-such-bucket-here', '--key', 'k', '--body', path.join(work, 'small.txt')], 'NoSuchBucket'),
      fails(['s3api', 'list-objects-v2', '--bucket', 'no-such-bucket-here'], 'NoSuchBucket'),
      fails(['s3api', 'delete-bucket', '--bucket', 'no-such-bucket-here'], 'NoSuchBucket'),
      fails(['s3api', 'delete-bucket', '--bucket', B], 'BucketNotEmpty'),
      fails(['s3api', 'create-bucket', '--bucket', 'ab'], 'InvalidBucketName'),
    ]);
    const cp = await aws(s, ['s3', 'cp', `s3://${B}/no/such/key`, path.join(work, 'err2.out')]);
    assert.notEqual(cp.code, 0);
    assert.match(cp.stderr, /404|NoSuchKey/);
  });
});

describe('aws s3 presign (SigV4 query authentication)', () => {
  test('a presigned GET URL works with curl; a tampered one is refused', async () => {
    const url = (await ok(['s3', 'presign', `s3://${B}/api/meta.bin`, '--expires-in', '300'])).trim();
    assert.match(url, /X-Amz-Algorithm=AWS4-HMAC-SHA256/);
    assert.match(url, /X-Amz-Expires=300/);
    const out = path.join(work, 'presigned.out');
    const r = await run('curl', ['-sS', '-o', out, '-w', '%{http_code}', url]);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, '200');
    assert.equal(await readFile(out, 'utf8'), '0123456789abcdefghij');

    const tampered = url.replace('api/meta.bin', 'api/copy.bin');
    const t = await run('curl', ['-sS', '-w', '\n%{http_code}', tampered]);
    assert.match(t.stdout, /\n403$/);
    assert.match(t.stdout, /<Code>SignatureDoesNotMatch<\/Code>/);

    const missing = (await ok(['s3', 'presign', `s3://${B}/api/missing.bin`])).trim();
    const m = await run('curl', ['-sS', '-w', '\n%{http_code}', missing]);
    assert.match(m.stdout, /\n404$/);
    assert.match(m.stdout, /<Code>NoSuchKey<\/Code>/);
    assert.match(m.stdout, /<RequestId>[^<]+<\/RequestId>/);
  });

  test('cleanup: rm --recursive and rb leave no bucket', async () => {
    await ok(['s3', 'rm', '--recursive', `s3://${B}/`]);
    assert.deepEqual(await listKeys(B), []);
    assert.match(await ok(['s3', 'rb', `s3://${B}`]), new RegExp(`remove_bucket: ${B}`));
    assert.doesNotMatch(await ok(['s3', 'ls']), new RegExp(B));
  });
});
