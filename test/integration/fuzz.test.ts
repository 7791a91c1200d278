// A seeded fuzz run against the real `tessera server` process: a few thousand malformed
// requests (random and truncated request heads, NULs and invalid UTF-8 in every name and query
// parameter, random header values, oversized and truncated XML bodies, bad and missing
// signatures, absurd ranges, lengths and part numbers), signed and unsigned. Every answer must
// be a valid success or a well-formed S3 error XML (Code, RequestId matching its header) and
// never a 500; a connection may close without an answer only when the request itself was cut
// short; the server must stay up, log no error and no stack, and its RSS must stay bounded.
//
// The seed is printed; FUZZ_SEED=<n> repeats a run exactly (FUZZ_COUNT changes its length).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, spawnServer, type ChildServer } from '../helpers/process-server.js';
import { TEST_ACCESS_KEY, TEST_SECRET_KEY } from '../helpers/server.js';
import { esc, exchange, s3ErrorOf, sendRaw, signRaw, type RawResponse, type RawTarget } from '../helpers/raw-sign.js';

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const COUNT = Number(process.env.FUZZ_COUNT ?? 3000);
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 12);
/** RSS may grow this much over the run (caches, LevelDB block cache, allocator arenas), no more. */
const RSS_GROWTH_LIMIT = 200 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// A small seeded generator (mulberry32): the same seed gives the same requests.

function generator(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const chance = (p: number): boolean => next() < p;
  const bytes = (n: number): Buffer => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = int(256);
    return b;
  };
  return { next, int, pick, chance, bytes };
}
type Gen = ReturnType<typeof generator>;

// Pieces that break things: NUL, bytes that are not UTF-8 (lone, truncated, overlong, encoded
// surrogates, 5-byte forms), control characters, over-long runs, XML and URL specials.
const NASTY: Buffer[] = [
  Buffer.of(0), Buffer.of(0xff), Buffer.of(0xc3), Buffer.of(0xed, 0xa0, 0x80), Buffer.of(0xc0, 0xaf),
  Buffer.of(0xf8, 0x88, 0x80, 0x80, 0x80), Buffer.of(0x01), Buffer.of(0x1f), Buffer.of(0x7f),
  Buffer.from('a'.repeat(1025)), Buffer.from('é'.repeat(600)), Buffer.from('../'), Buffer.from('%'), Buffer.from('%zz'),
  Buffer.from('+'), Buffer.from(' '), Buffer.from('&'), Buffer.from('='), Buffer.from('?'), Buffer.from('#'),
  Buffer.from('<x>'), Buffer.from(']]>'), Buffer.from('&#0;'), Buffer.from('日本'), Buffer.from('😀'), Buffer.from('\uFFFE'),
];
const NUMBERS = ['-1', '0', '1', '2', '10000', '10001', '2147483648', '99999999999999999999999', '1e3', 'NaN', '0x10', '1.5', ' 1', ''];

function nastyValue(g: Gen): Buffer {
  const parts: Buffer[] = [];
  const n = 1 + g.int(3);
  for (let i = 0; i < n; i++) {
    const r = g.next();
    if (r < 0.45) parts.push(g.pick(NASTY));
    else if (r < 0.6) parts.push(g.bytes(g.int(12)));
    else if (r < 0.75) parts.push(Buffer.from(g.pick(NUMBERS)));
    else parts.push(Buffer.from(g.pick(['obj', 'k', 'a/b', 'fzz', 'null', 'x'])));
  }
  return Buffer.concat(parts);
}

interface World {
  uploadId: string;
  versionId: string;
}

const QUERY_NAMES = [
  'prefix', 'delimiter', 'marker', 'key-marker', 'version-id-marker', 'upload-id-marker', 'continuation-token', 'start-after',
  'uploadId', 'versionId', 'partNumber', 'max-keys', 'max-uploads', 'max-parts', 'part-number-marker', 'list-type', 'encoding-type',
  'fetch-owner', 'uploads', 'versions', 'tagging', 'acl', 'delete', 'cors', 'policy', 'versioning', 'location', 'publicAccessBlock',
  'response-content-type', 'response-content-disposition', 'response-expires', 'X-Amz-Signature', 'X-Amz-Credential', 'X-Amz-Date',
  'X-Amz-Expires', 'X-Amz-Algorithm', 'X-Amz-SignedHeaders', 'lifecycle', 'attributes', 'select', 'torrent',
];

const HEADER_NAMES = [
  'range', 'x-amz-copy-source', 'x-amz-copy-source-range', 'x-amz-tagging', 'x-amz-meta-a', 'x-amz-meta-b', 'content-md5',
  'x-amz-checksum-crc32', 'x-amz-checksum-sha256', 'x-amz-sdk-checksum-algorithm', 'x-amz-trailer', 'content-type', 'if-match',
  'if-none-match', 'if-modified-since', 'x-amz-decoded-content-length', 'content-encoding', 'expect', 'x-amz-acl', 'x-amz-storage-class',
  'x-amz-server-side-encryption', 'x-amz-metadata-directive', 'x-amz-tagging-directive', 'x-amz-checksum-mode', 'origin',
  'access-control-request-method', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-security-token', 'cache-control', 'x-amz-website-redirect-location',
];

/** A header value: bytes as latin1, without CR or LF (those would end the header, not fuzz it). */
function headerValue(g: Gen, name: string, w: World): string {
  const r = g.next();
  let v: Buffer;
  if (name === 'range' && r < 0.6) {
    v = Buffer.from(g.pick(['bytes=0-', 'bytes=-0', 'bytes=99999999999999999999-', 'bytes=5-1', 'bytes=-99999999999999999999', 'bytes=0-0,1-1', 'bytes=', 'items=0-1', `bytes=${g.int(1e6)}-${g.int(1e6)}`]));
  } else if (name === 'x-amz-copy-source' && r < 0.5) {
    v = Buffer.from(g.pick([`fzz/obj`, `/fvv/obj?versionId=${w.versionId}`, `fzz/${esc(nastyValue(g))}`, `${esc(nastyValue(g))}/obj`, `fzz/obj?versionId=${esc(nastyValue(g))}`]));
  } else if (name === 'x-amz-decoded-content-length' && r < 0.6) {
    v = Buffer.from(g.pick(NUMBERS));
  } else if (name === 'x-amz-content-sha256' && r < 0.6) {
    v = Buffer.from(g.pick(['UNSIGNED-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', '0'.repeat(64), 'zz']));
  } else if (name === 'expect' && r < 0.6) {
    v = Buffer.from(g.pick(['100-continue', '200-ok', 'x']));
  } else {
    v = r < 0.85 ? nastyValue(g) : g.bytes(g.int(64));
  }
  // Raw NULs and other control bytes are worth sending (the parser must refuse them in S3
  // XML), but rarely: most requests should get past the parser.
  const bytes = Buffer.from(v.filter((c) => c !== 0x0d && c !== 0x0a && (c >= 0x20 || c === 0x09 || g.chance(0.1))));
  return bytes.toString('latin1');
}

const XML_TEMPLATES = [
  '<Delete><Object><Key>obj</Key></Object><Object><Key>K</Key><VersionId>V</VersionId></Object></Delete>',
  '<CompleteMultipartUpload><Part><PartNumber>P</PartNumber><ETag>"E"</ETag></Part></CompleteMultipartUpload>',
  '<Tagging><TagSet><Tag><Key>K</Key><Value>V</Value></Tag></TagSet></Tagging>',
  '<VersioningConfiguration><Status>V</Status></VersioningConfiguration>',
  '<CORSConfiguration><CORSRule><AllowedOrigin>K</AllowedOrigin><AllowedMethod>V</AllowedMethod></CORSRule></CORSConfiguration>',
  '<CreateBucketConfiguration><LocationConstraint>K</LocationConstraint></CreateBucketConfiguration>',
  '<AccessControlPolicy><Owner><ID>K</ID></Owner><AccessControlList/></AccessControlPolicy>',
];

function xmlBody(g: Gen): Buffer {
  let xml = Buffer.from(g.pick(XML_TEMPLATES));
  for (const ph of ['K', 'V', 'P', 'E']) {
    const at = xml.indexOf(`>${ph}<`);
    if (at >= 0) xml = Buffer.concat([xml.subarray(0, at + 1), g.chance(0.7) ? nastyValue(g) : Buffer.from(g.pick(NUMBERS)), xml.subarray(at + 2)]);
  }
  const r = g.next();
  if (r < 0.3) return xml.subarray(0, g.int(xml.length)); // truncated XML
  if (r < 0.33) return Buffer.concat([xml, Buffer.alloc(2 * 1024 * 1024 + 10, 0x20)]); // over the 2 MiB XML limit
  if (r < 0.4) return Buffer.from(`<!DOCTYPE x [<!ENTITY a "b">]>${xml.toString('latin1')}`, 'latin1');
  return xml;
}

function awsChunkedBody(g: Gen): Buffer {
  const data = g.bytes(g.int(100));
  const r = g.next();
  if (r < 0.3) return Buffer.from(`${data.length.toString(16)};chunk-signature=${'0'.repeat(64)}\r\n${data.toString('latin1')}\r\n0;chunk-signature=${'0'.repeat(64)}\r\n\r\n`, 'latin1');
  if (r < 0.6) return Buffer.from(`${g.pick(['ffffffffffffffff', 'zz', '-1', '10'])}\r\n${data.toString('latin1')}\r\n0\r\nx-amz-checksum-crc32:${g.pick(['AAAAAA==', '%%%', ''])}\r\n\r\n`, 'latin1');
  return data;
}

interface Planned {
  bytes: Buffer;
  /** The request was cut short on purpose: closing without an answer is acceptable. */
  truncated: boolean;
  method: string;
  describe: string;
  /**
   * It asked for "100 Continue" and sent its body without waiting: the server answers a refusal
   * without waiting for a body it told the client to hold back, and closes under it.
   */
  continueUnasked: boolean;
}

function plan(g: Gen, t: RawTarget, w: World): Planned {
  const method = g.pick(['GET', 'GET', 'PUT', 'PUT', 'POST', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH']);
  const bucket = g.chance(0.7) ? g.pick(['fzz', 'fvv', 'no-such-bucket']) : esc(nastyValue(g));
  const key = g.chance(0.5) ? g.pick(['obj', 'up', 'new', 'a/b']) : esc(nastyValue(g), g.chance(0.3));
  const shape = g.next();
  const p = shape < 0.1 ? '/' : shape < 0.35 ? `/${bucket}` : shape < 0.95 ? `/${bucket}/${key}` : g.pick(['//x', '//', `/${bucket}//${key}`]);

  const params: Array<[string, string]> = [];
  const nParams = g.int(4);
  for (let i = 0; i < nParams; i++) {
    const name = g.chance(0.92) ? g.pick(QUERY_NAMES) : esc(nastyValue(g));
    let value: string;
    const r = g.next();
    if (name === 'uploadId' && r < 0.4) value = w.uploadId;
    else if ((name === 'versionId' || name === 'version-id-marker') && r < 0.4) value = w.versionId;
    else if (r < 0.6) value = esc(nastyValue(g));
    else if (r < 0.8) value = esc(g.pick(NUMBERS));
    else value = '';
    params.push([name, value]);
  }
  params.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1));
  const query = params.map(([k, v]) => `${k}=${v}`).join('&');

  const headers: Record<string, string> = {};
  const nHeaders = g.int(5);
  for (let i = 0; i < nHeaders; i++) {
    const name = g.pick(HEADER_NAMES);
    headers[name] = headerValue(g, name, w);
  }

  let body: Buffer = Buffer.alloc(0);
  const b = g.next();
  if (method === 'PUT' || method === 'POST' || b < 0.1) {
    if (b < 0.35) body = xmlBody(g);
    else if (b < 0.5) body = awsChunkedBody(g);
    else if (b < 0.8) body = g.bytes(g.int(4096));
  }
  if (body.length > 0 && (headers['content-md5'] === undefined || g.chance(0.5))) headers['content-md5'] = createHash('md5').update(body).digest('base64');

  // How the request is authenticated.
  const auth = g.next();
  let signed: Record<string, string>;
  if (auth < 0.55) signed = signRaw(t, { method, path: p, query, headers, body });
  else if (auth < 0.7) signed = signRaw(t, { method, path: p, query, headers, body, badSignature: true });
  else if (auth < 0.85) signed = signRaw(t, { method, path: p, query, headers, body, unsigned: true });
  else signed = { ...signRaw(t, { method, path: p, query, headers, body, unsigned: true }), Authorization: headerValue(g, 'authorization', w) || 'AWS4-HMAC-SHA256 Credential=x' };

  // Framing: the real length, an absurd one, or a body cut short.
  let truncated = false;
  let declared = String(body.length);
  let send: Buffer = body;
  const f = g.next();
  if (f < 0.04) declared = g.pick([String(5 * 1024 ** 4 + 1), '1180591620717411303424', String(6 * 1024 ** 3)]);
  if (f >= 0.04 && f < 0.1 && body.length > 1) {
    send = body.subarray(0, g.int(body.length));
    truncated = true;
  }
  if (!(method === 'GET' || method === 'HEAD') || body.length > 0 || f < 0.04) signed['Content-Length'] = declared;
  if (f < 0.04) {
    // Nothing follows an absurd length: the answer must come without the body.
    send = Buffer.alloc(0);
  }
  const target = query ? `${p}?${query}` : p;
  let head = `${method} ${target} HTTP/1.1\r\n` + Object.entries(signed).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n';
  let bytes: Buffer = Buffer.concat([Buffer.from(head, 'latin1'), send]);

  // A share of requests are damaged below HTTP: cut inside the head, bytes flipped, or garbage.
  const d = g.next();
  if (d < 0.04) {
    bytes = bytes.subarray(0, g.int(Buffer.byteLength(head, 'latin1')));
    truncated = true;
  } else if (d < 0.08) {
    bytes = Buffer.from(bytes);
    for (let i = 0; i < 1 + g.int(4); i++) bytes[g.int(Math.min(bytes.length, head.length))] = g.int(256);
    // A flipped byte may turn a length into a larger one, or a header line into a partial one.
    truncated = true;
  } else if (d < 0.1) {
    head = `${g.pick(['GET', 'FOO', 'G\x00T', ''])} ${g.pick(['/', '*', 'http://x/y', '/a b', '\xff'])} ${g.pick(['HTTP/1.1', 'HTTP/1.0', 'HTTP/2', 'ICY', ''])}\r\n` +
      Array.from({ length: g.int(5) }, () => `${g.pick(['Host', 'X', ' bad', 'Content-Length', 'Transfer-Encoding', ':'])}: ${g.bytes(g.int(20)).toString('latin1').replace(/[\r\n]/g, '')}\r\n`).join('') + '\r\n';
    bytes = Buffer.from(head, 'latin1');
    truncated = true;
  }
  if (process.env.FUZZ_DUMP) process.stderr.write(`--- ${JSON.stringify(bytes.toString('latin1').slice(0, 2000))}\n`);
  return { bytes, truncated, method, continueUnasked: /100-continue/i.test(headers.expect ?? '') && send.length > 0, describe: `${method} ${JSON.stringify(target.slice(0, 160))} ${JSON.stringify(Object.keys(headers))} body=${body.length}` };
}

/** Empty when the answer is acceptable, else why not. */
function judge(p: Planned, res: RawResponse): string {
  if (res.closedEarly || res.status === 0) return p.truncated || p.continueUnasked ? '' : 'closed without a complete answer';
  if (res.status === 500) return `500 ${s3ErrorOf(res.body)?.code ?? ''}`;
  if (res.status >= 500 && res.status !== 501 && res.status !== 503) return `unexpected ${res.status}`;
  if (res.status < 300 || res.status === 304) return '';
  if (p.method === 'HEAD') return '';
  const e = s3ErrorOf(res.body);
  if (!e) return `${res.status} without S3 error XML: ${res.body.toString('latin1').slice(0, 120)}`;
  if (res.headers['x-amz-request-id'] !== e.requestId) return `RequestId ${e.requestId} is not the x-amz-request-id header ${res.headers['x-amz-request-id']}`;
  return '';
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

let root: string;
let server: ChildServer;
let target: RawTarget;

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'tessera-fuzz-'));
  const port = await freePort();
  server = await spawnServer(root, port, { TESSERA_DOMAIN: 's3.test', TESSERA_SCANNER_BYTES_PER_SECOND: '0' });
  target = { host: '127.0.0.1', port, accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY, region: 'us-east-1' };
});

after(async () => {
  server?.child.kill('SIGKILL');
  await server?.exited;
  await rm(root, { recursive: true, force: true });
});

test(`fuzz: ${COUNT} malformed requests, seed ${SEED} (FUZZ_SEED=${SEED} repeats it)`, { timeout: 180_000 }, async (t) => {
  t.diagnostic(`seed ${SEED}; FUZZ_SEED=${SEED} FUZZ_COUNT=${COUNT} repeats this run`);
  const region = /region:\s+(\S+)/.exec(server.output())?.[1];
  if (region) target.region = region;
  // A world worth poking at: buckets, objects (inline and erasure-coded), versions, an upload.
  const ok = async (r: Parameters<typeof sendRaw>[1]) => {
    const res = await sendRaw(target, r);
    assert.ok(res.status < 300, `${r.method} ${r.path}: ${res.status} ${res.body.toString()}`);
    return res;
  };
  await ok({ method: 'PUT', path: '/fzz' });
  await ok({ method: 'PUT', path: '/fvv' });
  const ver = '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>';
  await ok({ method: 'PUT', path: '/fvv', query: 'versioning=', body: ver, headers: { 'content-md5': createHash('md5').update(ver).digest('base64') } });
  await ok({ method: 'PUT', path: '/fzz/obj', body: Buffer.alloc(200 * 1024, 3) });
  await ok({ method: 'PUT', path: '/fzz/a/b', body: 'small' });
  // A bucket the generator never names: its object must read back unchanged at the end.
  await ok({ method: 'PUT', path: '/keep-out' });
  await ok({ method: 'PUT', path: '/keep-out/witness', body: Buffer.alloc(100 * 1024, 9) });
  const v = await ok({ method: 'PUT', path: '/fvv/obj', body: 'version one' });
  const world: World = { versionId: v.headers['x-amz-version-id'] ?? 'null', uploadId: '' };
  const up = await ok({ method: 'POST', path: '/fzz/up', query: 'uploads=' });
  world.uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(up.body.toString())?.[1] ?? '';

  const g = generator(SEED);
  const planned = Array.from({ length: COUNT }, () => plan(g, target, world));
  const pid = server.child.pid!;
  const failures: string[] = [];
  const tally = new Map<string, number>();
  let peak = 0;
  let rssStart = 0;
  const started = Date.now();
  let nextIndex = 0;
  const worker = async () => {
    for (let i = nextIndex++; i < planned.length; i = nextIndex++) {
      if (i === 200) rssStart = await rssOf(pid); // after warm-up: code paths loaded, pools filled
      const p = planned[i]!;
      let res: RawResponse;
      try {
        // A request cut short is followed by the end of the stream (or it would wait for bytes
        // that never come); a whole one is not: Node aborts requests still in progress when
        // the client half-closes, as most servers do.
        res = await exchange(target, p.bytes, 15_000, p.truncated, p.method === 'HEAD');
      } catch (e) {
        failures.push(`#${i} ${p.describe}: ${(e as Error).message.slice(0, 200)}`);
        continue;
      }
      const why = judge(p, res);
      if (why && process.env.FUZZ_DUMP) process.stderr.write(`#${i} ${why}\n>>> ${JSON.stringify(p.bytes.toString('latin1').slice(0, 1500))}\n<<< ${JSON.stringify(res.body.toString('latin1').slice(0, 500))} ${JSON.stringify(res.headers)}\n`);
      if (why) failures.push(`#${i} ${p.describe}: ${why}`);
      const label = res.closedEarly ? 'closed' : `${res.status} ${s3ErrorOf(res.body)?.code ?? ''}`.trim();
      tally.set(label, (tally.get(label) ?? 0) + 1);
    }
  };
  const sampler = setInterval(() => {
    rssOf(pid).then((r) => (peak = Math.max(peak, r)), () => undefined);
  }, 250);
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  } finally {
    clearInterval(sampler);
  }
  const seconds = (Date.now() - started) / 1000;
  const rssEnd = await rssOf(pid);
  peak = Math.max(peak, rssEnd);
  const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
  const summary = [...tally.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`).join(', ');
  t.diagnostic(`${COUNT} requests in ${seconds.toFixed(1)} s; RSS ${mib(rssStart)} MiB after warm-up → ${mib(rssEnd)} MiB at the end (peak ${mib(peak)} MiB, growth ${mib(rssEnd - rssStart)} MiB)`);
  t.diagnostic(`answers: ${summary}`);

  // Still up, still serving, nothing logged as an error, no stack anywhere.
  assert.equal(server.child.exitCode, null, 'the server is still running');
  const witness = await sendRaw(target, { method: 'GET', path: '/keep-out/witness' });
  assert.equal(witness.status, 200, witness.body.toString());
  assert.ok(witness.body.equals(Buffer.alloc(100 * 1024, 9)), 'the witness object reads back unchanged');
  if (process.env.FUZZ_DUMP) process.stderr.write(server.output());
  const logLines = server.output().split('\n').filter((l) => l.startsWith('{'));
  const bad = logLines.filter((l) => /"level":"error"/.test(l) || /\\n\s+at /.test(l));
  t.diagnostic(`unacceptable answers: ${failures.length}; error or stack log lines: ${bad.length}`);
  assert.deepEqual(bad.slice(0, 10), [], `${bad.length} error/stack log lines`);
  assert.deepEqual(failures.slice(0, 25), [], `${failures.length} of ${COUNT} answers were not acceptable (seed ${SEED})`);
  assert.ok(rssEnd - rssStart < RSS_GROWTH_LIMIT, `RSS grew ${mib(rssEnd - rssStart)} MiB`);
});
