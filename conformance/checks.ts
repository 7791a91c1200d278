// The checks: what a user commonly does, in the order they would do it, with what the outcome
// must be. Each check calls the client's Session (conformance/clients/*.ts) and judges the
// result here, so every client is held to the same expectations.

import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CommandError, fail, md5File, walkFiles, which, type Driver, type Op, type Session } from './lib.js';

/** Local files every client uploads (generated once per run, never modified). */
export interface Fixtures {
  dir: string;
  small: { key: string; file: string; bytes: Buffer; contentType: string; metadata: Record<string, string> };
  large: { key: string; file: string; size: number; md5: string };
  range: { start: number; end: number };
  copyKey: string;
  list: { dir: string; prefix: string; keys: string[]; prefixes: string[] };
  awkward: { dir: string; prefix: string; names: string[] };
}

export const LARGE_SIZE = 20 * 1024 * 1024;

/** Relative names under awk/: a space, a plus, non-ASCII (2-, 3- and 4-byte UTF-8), literal percent escapes. */
export const AWKWARD_NAMES = [
  'with space.txt',
  'plus+sign.txt',
  'unicodé-文件-😀.txt',
  'percent%41%2F%.txt',
  'sub dir/nested + ü %25.txt',
];

export async function makeFixtures(dir: string): Promise<Fixtures> {
  await mkdir(dir, { recursive: true });
  const smallBytes = Buffer.from(`Hello from the S3 conformance run.\n${randomBytes(12).toString('hex')}\n`);
  const smallFile = path.join(dir, 'hello.txt');
  await writeFile(smallFile, smallBytes);

  const largeFile = path.join(dir, 'large.bin');
  const fh = await open(largeFile, 'w');
  try {
    for (let off = 0; off < LARGE_SIZE; off += 1024 * 1024) await fh.write(randomBytes(1024 * 1024));
  } finally {
    await fh.close();
  }

  const listDir = path.join(dir, 'list');
  for (const rel of ['a.txt', 'b/c.txt', 'b/d.txt', 'e/f.txt']) {
    await mkdir(path.dirname(path.join(listDir, rel)), { recursive: true });
    await writeFile(path.join(listDir, rel), `list fixture ${rel}\n`);
  }

  const awkDir = path.join(dir, 'awk');
  for (const rel of AWKWARD_NAMES) {
    await mkdir(path.dirname(path.join(awkDir, rel)), { recursive: true });
    await writeFile(path.join(awkDir, rel), `awkward key ${rel}\n`);
  }

  return {
    dir,
    small: { key: 'docs/hello.txt', file: smallFile, bytes: smallBytes, contentType: 'text/x-conformance', metadata: { color: 'blue', owner: 'conformance run' } },
    large: { key: 'big/large-20MiB.bin', file: largeFile, size: LARGE_SIZE, md5: await md5File(largeFile) },
    // Crosses 2 MiB, a stripe boundary for many erasure layouts (and a part boundary for none).
    range: { start: 2 * 1024 * 1024 - 1000, end: 2 * 1024 * 1024 + 999 },
    copyKey: 'copies/hello-copy.txt',
    list: { dir: listDir, prefix: 'list/', keys: ['list/a.txt'], prefixes: ['list/b/', 'list/e/'] },
    awkward: { dir: awkDir, prefix: 'awk/', names: [...AWKWARD_NAMES].sort() },
  };
}

export interface CheckContext {
  s: Session;
  op: Op;
  driver: Driver;
  bucket: string;
  fx: Fixtures;
  /** This client's scratch directory for downloads. */
  work: string;
  keep: boolean;
}

export interface CheckDef {
  id: string;
  title: string;
  /** Checks that must have passed first; otherwise this one is SKIP. */
  needs: string[];
  /** Timeout multiplier for the checks that move 20 MiB. */
  slow?: boolean;
  /** A reason when the check does not apply to this client (n/a). */
  na?(c: { s: Session; driver: Driver; keep: boolean }): string | undefined;
  /** Throws on failure; may return a note for the report. */
  run(c: CheckContext): Promise<string | void>;
}

const sortStr = (a: string[]) => [...a].sort();
const same = (a: string[], b: string[]) => JSON.stringify(sortStr(a)) === JSON.stringify(sortStr(b));
const show = (a: string[]) => JSON.stringify(sortStr(a));

async function expectBytes(file: string, want: Buffer, what: string): Promise<void> {
  let got: Buffer;
  try {
    got = await readFile(file);
  } catch {
    fail(`${what}: the client reported success but wrote no file ${file}`);
  }
  if (!got.equals(want)) {
    fail(`${what}: ${got.length} bytes differ from the ${want.length} uploaded` + (got.length < 200 ? ` (got ${JSON.stringify(got.toString('utf8'))})` : ''));
  }
}

async function readSlice(file: string, start: number, end: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(end - start + 1);
    await fh.read(b, 0, b.length, start);
    return b;
  } finally {
    await fh.close();
  }
}

/** Number of parts in a multipart ETag ("…-3" → 3), 0 for a plain MD5 ETag. */
export function etagParts(etag: string | undefined): number | undefined {
  if (etag === undefined) return undefined;
  const m = /-(\d+)$/.exec(etag);
  return m ? Number(m[1]) : 0;
}

function checkMetadata(h: { contentType?: string; metadata: Record<string, string> }, contentType: string, metadata: Record<string, string>, what: string): void {
  const problems: string[] = [];
  if (h.contentType !== contentType) problems.push(`content-type ${JSON.stringify(h.contentType)}, expected ${JSON.stringify(contentType)}`);
  for (const [k, v] of Object.entries(metadata)) {
    if (h.metadata[k] !== v) problems.push(`x-amz-meta-${k} ${JSON.stringify(h.metadata[k])}, expected ${JSON.stringify(v)}`);
  }
  if (problems.length) fail(`${what}: ${problems.join('; ')} (metadata seen: ${JSON.stringify(h.metadata)})`);
}

const CURL = which('curl');

/** Fetches a URL with curl (as given, no normalisation) into a file; falls back to fetch(). */
async function fetchUrl(op: Op, url: string, dest: string): Promise<number> {
  if (CURL) {
    const args = ['-sS', '--globoff', '--path-as-is', '-o', dest, '-w', '%{http_code}', url];
    op.note(`curl ${args.map((a) => (a === url ? `'${url}'` : a)).join(' ')}`);
    return new Promise((resolve, reject) => {
      execFile(CURL, args, { signal: op.signal }, (err, stdout, stderr) => {
        if (err) reject(new CommandError(`curl … '${url}'`, String(stderr || err.message), 'curl failed'));
        else resolve(Number(String(stdout).trim()));
      });
    });
  }
  op.note(`fetch('${url}')`);
  const r = await fetch(url, { signal: op.signal });
  await writeFile(dest, Buffer.from(await r.arrayBuffer()));
  return r.status;
}

export const CHECKS: CheckDef[] = [
  {
    id: 'create-bucket',
    title: 'create bucket',
    needs: [],
    async run({ s, op, bucket }) {
      await s.createBucket(op, bucket);
    },
  },
  {
    id: 'list-buckets',
    title: 'list buckets shows it',
    needs: ['create-bucket'],
    async run({ s, op, bucket }) {
      const names = await s.listBuckets(op);
      if (!names.includes(bucket)) fail(`${bucket} is not among the ${names.length} buckets listed: ${show(names.slice(0, 20))}`);
    },
  },
  {
    id: 'put-small',
    title: 'put object (content-type, metadata)',
    needs: ['create-bucket'],
    async run({ s, op, bucket, fx }) {
      await s.putObject(op, bucket, fx.small.key, fx.small.file, { contentType: fx.small.contentType, metadata: fx.small.metadata });
    },
  },
  {
    id: 'head-small',
    title: 'head: content-type, metadata, size',
    needs: ['put-small'],
    async run({ s, op, bucket, fx }) {
      const h = await s.headObject(op, bucket, fx.small.key);
      if (h.size !== undefined && h.size !== fx.small.bytes.length) fail(`size ${h.size}, expected ${fx.small.bytes.length}`);
      checkMetadata(h, fx.small.contentType, fx.small.metadata, 'head');
    },
  },
  {
    id: 'get-small',
    title: 'get: bytes equal',
    needs: ['put-small'],
    async run({ s, op, bucket, fx, work }) {
      const dest = path.join(work, 'get-small.out');
      await s.getObject(op, bucket, fx.small.key, dest);
      await expectBytes(dest, fx.small.bytes, 'downloaded object');
    },
  },
  {
    id: 'put-large',
    title: 'put 20 MiB file',
    needs: ['create-bucket'],
    slow: true,
    async run({ s, op, bucket, fx, driver }) {
      await s.uploadFile(op, bucket, fx.large.key, fx.large.file);
      const h = await s.headObject(op, bucket, fx.large.key);
      if (h.size !== undefined && h.size !== fx.large.size) fail(`head says ${h.size} bytes, uploaded ${fx.large.size}`);
      const parts = etagParts(h.etag);
      if (driver.multipartAt20MiB && parts === 0) fail(`expected a multipart upload (ETag "<md5>-N"), but the ETag is ${JSON.stringify(h.etag)}`);
      const how = parts === undefined ? undefined : parts > 0 ? `multipart, ${parts} parts` : 'single PUT';
      return [how, driver.uploadNote].filter(Boolean).join('; ') || undefined;
    },
  },
  {
    id: 'get-large',
    title: 'get 20 MiB file: md5 equal',
    needs: ['put-large'],
    slow: true,
    async run({ s, op, bucket, fx, work }) {
      const dest = path.join(work, 'get-large.out');
      await s.downloadFile(op, bucket, fx.large.key, dest);
      let md5: string;
      try {
        md5 = await md5File(dest);
      } catch {
        fail(`the client reported success but wrote no file ${dest}`);
      }
      if (md5 !== fx.large.md5) fail(`md5 of the download ${md5} != md5 of the upload ${fx.large.md5}`);
    },
  },
  {
    id: 'ranged-get',
    title: 'ranged get (across 2 MiB)',
    needs: ['put-large'],
    na: ({ s }) => (s.getRange ? undefined : (s.na?.getRange ?? 'the client has no ranged download')),
    async run({ s, op, bucket, fx, work }) {
      const { start, end } = fx.range;
      const dest = path.join(work, 'range.out');
      await s.getRange!(op, bucket, fx.large.key, start, end, dest);
      await expectBytes(dest, await readSlice(fx.large.file, start, end), `bytes ${start}-${end}`);
    },
  },
  {
    id: 'list-delimiter',
    title: 'list with prefix + delimiter',
    needs: ['create-bucket'],
    async run({ s, op, bucket, fx }) {
      await s.uploadDir(op, bucket, fx.list.prefix, fx.list.dir);
      const r = await s.list(op, bucket, fx.list.prefix, '/');
      if (!same(r.keys, fx.list.keys) || !same(r.prefixes, fx.list.prefixes)) {
        fail(`prefix=${fx.list.prefix} delimiter=/ gave keys ${show(r.keys)} prefixes ${show(r.prefixes)}; expected keys ${show(fx.list.keys)} prefixes ${show(fx.list.prefixes)}`);
      }
    },
  },
  {
    id: 'copy',
    title: 'server-side copy (keeps metadata)',
    needs: ['put-small'],
    async run({ s, op, bucket, fx, work }) {
      await s.copy(op, bucket, fx.small.key, fx.copyKey);
      const dest = path.join(work, 'copy.out');
      await s.getObject(op, bucket, fx.copyKey, dest);
      await expectBytes(dest, fx.small.bytes, 'the copy');
      const h = await s.headObject(op, bucket, fx.copyKey);
      checkMetadata(h, fx.small.contentType, fx.small.metadata, 'the copy');
    },
  },
  {
    id: 'awkward-keys',
    title: "keys with space + unicode % round trip",
    needs: ['create-bucket'],
    async run({ s, op, bucket, fx, work }) {
      const { prefix, dir, names } = fx.awkward;
      await s.uploadDir(op, bucket, prefix, dir);
      const want = names.map((n) => prefix + n);
      const r = await s.list(op, bucket, prefix);
      if (!same(r.keys, want)) {
        const missing = want.filter((k) => !r.keys.includes(k));
        const extra = r.keys.filter((k) => !want.includes(k));
        fail(`listing ${prefix}: missing ${show(missing)}, unexpected ${show(extra)}`);
      }
      const dest = path.join(work, 'awk-down');
      await s.downloadDir(op, bucket, prefix, dest);
      const got = await walkFiles(dest);
      if (!same(got, names)) {
        fail(`downloaded files ${show(got)}, expected ${show(names)}`);
      }
      for (const n of names) await expectBytes(path.join(dest, n), await readFile(path.join(dir, n)), JSON.stringify(prefix + n));
    },
  },
  {
    id: 'presign',
    title: 'presigned GET URL, fetched by curl',
    needs: ['put-small'],
    na: ({ s }) => (s.presign ? undefined : (s.na?.presign ?? 'the client cannot presign')),
    async run({ s, op, bucket, fx, work }) {
      const url = (await s.presign!(op, bucket, fx.small.key, 900)).trim();
      if (!/^https?:\/\//.test(url)) fail(`the client did not print a URL: ${JSON.stringify(url.slice(0, 300))}`);
      const dest = path.join(work, 'presigned.out');
      const status = await fetchUrl(op, url, dest);
      if (status !== 200) {
        const body = await readFile(dest, 'utf8').catch(() => '');
        fail(`GET ${url} → HTTP ${status}: ${body.slice(0, 400)}`);
      }
      await expectBytes(dest, fx.small.bytes, 'the presigned download');
    },
  },
  {
    id: 'delete-object',
    title: 'delete object',
    needs: ['put-small'],
    async run({ s, op, bucket, fx }) {
      await s.deleteObject(op, bucket, fx.small.key);
      const r = await s.list(op, bucket, 'docs/');
      if (r.keys.includes(fx.small.key)) fail(`${fx.small.key} is still listed after the delete`);
    },
  },
  {
    id: 'delete-bucket',
    title: 'delete bucket (with what is left)',
    needs: ['create-bucket'],
    na: ({ keep }) => (keep ? 'kept (--keep)' : undefined),
    async run({ s, op, bucket }) {
      await s.deleteBucket(op, bucket);
      const names = await s.listBuckets(op);
      if (names.includes(bucket)) fail(`${bucket} is still listed after the delete`);
    },
  },
];
