// SigV4 on the wire: raw HTTP requests against a real server for the signature paths that
// SDKs do not let a test control (tampered bodies, aws-chunked framing, chunk and trailer
// signatures, trailing checksums, bad credentials, skewed clocks, SigV2, presign limits).
// The signer below is written from the AWS documentation ("Signature Version 4 signing
// process", "Signature calculations for the Authorization header: Transferring payload in
// multiple chunks", "...including trailing headers"), independently of src/auth.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { startTestServer, type TestServer } from '../helpers/server.js';

// ---------------------------------------------------------------------------------------------
// A small SigV4 client

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();
const EMPTY_HASH = sha256('');

function amzDateOf(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

interface Signer {
  accessKeyId: string;
  secret: string;
  region: string;
  /** Request time; defaults to now. */
  time?: number;
}

interface SignedParts {
  headers: Record<string, string>;
  signature: string;
  stringToSign: string;
  signingKey: Buffer;
  scope: string;
  amzDate: string;
}

function signingKeyOf(secret: string, date: string, region: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), 's3'), 'aws4_request');
}

/**
 * Signs a request with an Authorization header. `path` must already be URI-encoded the way
 * S3 canonicalises it (each segment encoded once); `query` is sorted here.
 */
function signHeaders(
  s: Signer,
  method: string,
  host: string,
  pathname: string,
  query: Record<string, string>,
  headers: Record<string, string>,
  payloadHash: string,
): SignedParts {
  const time = s.time ?? Date.now();
  const amzDate = amzDateOf(time);
  const date = amzDate.slice(0, 8);
  const all: Record<string, string> = { ...headers, host, 'x-amz-date': amzDate, 'x-amz-content-sha256': payloadHash };
  const names = Object.keys(all).map((n) => n.toLowerCase()).sort();
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(all)) lower[k.toLowerCase()] = v;
  const canonicalQuery = Object.entries(query)
    .map(([k, v]) => [rfc3986(k), rfc3986(v)])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonical = [
    method,
    pathname,
    canonicalQuery,
    names.map((n) => `${n}:${lower[n].trim().replace(/\s+/g, ' ')}\n`).join(''),
    names.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${date}/${s.region}/s3/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = signingKeyOf(s.secret, date, s.region);
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  const out: Record<string, string> = { ...all };
  delete out.host;
  out.authorization = `AWS4-HMAC-SHA256 Credential=${s.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return { headers: out, signature, stringToSign, signingKey: key, scope, amzDate };
}

/** aws-chunked encoding with chunk signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]). */
function signedChunkedBody(
  data: Buffer,
  chunkSize: number,
  seed: SignedParts,
  trailer?: { name: string; value: string; badSignature?: boolean },
): Buffer {
  let previous = seed.signature;
  const parts: Buffer[] = [];
  const chunk = (payload: Buffer): void => {
    const toSign = ['AWS4-HMAC-SHA256-PAYLOAD', seed.amzDate, seed.scope, previous, EMPTY_HASH, sha256(payload)].join('\n');
    previous = createHmac('sha256', seed.signingKey).update(toSign).digest('hex');
    parts.push(Buffer.from(`${payload.length.toString(16)};chunk-signature=${previous}\r\n`));
    if (payload.length > 0) parts.push(payload, Buffer.from('\r\n'));
  };
  for (let i = 0; i < data.length; i += chunkSize) chunk(data.subarray(i, i + chunkSize));
  chunk(Buffer.alloc(0));
  if (trailer) {
    const canonicalTrailer = `${trailer.name}:${trailer.value}\n`;
    const toSign = ['AWS4-HMAC-SHA256-TRAILER', seed.amzDate, seed.scope, previous, sha256(canonicalTrailer)].join('\n');
    let sig = createHmac('sha256', seed.signingKey).update(toSign).digest('hex');
    if (trailer.badSignature) sig = (sig[0] === '0' ? '1' : '0') + sig.slice(1);
    parts.push(Buffer.from(`${trailer.name}:${trailer.value}\r\n`), Buffer.from(`x-amz-trailer-signature:${sig}\r\n`));
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** aws-chunked encoding without signatures, ending in a trailing header. */
function unsignedTrailerBody(data: Buffer, chunkSize: number, trailerName: string, trailerValue: string): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunkSize) {
    const c = data.subarray(i, i + chunkSize);
    parts.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`0\r\n${trailerName}:${trailerValue}\r\n\r\n`));
  return Buffer.concat(parts);
}

function crc32Base64(data: Buffer): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(zlib.crc32(data) >>> 0);
  return b.toString('base64');
}

/** Deterministic bytes (every 64 KiB chunk differs). */
function pattern(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function rawRequest(port: number, method: string, pathWithQuery: string, headers: Record<string, string>, body?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const req = http.request({ host: '127.0.0.1', port, method, path: pathWithQuery, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', (e) => {
        if (!settled) reject(e);
      });
    });
    // A server that refuses an upload may close the socket before reading all of it; the
    // reply still arrives, and that is what we look at.
    req.on('error', (e) => {
      setTimeout(() => {
        if (!settled) reject(e);
      }, 500);
    });
    req.end(body);
  });
}

function xmlField(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return m ? m[1] : undefined;
}

function unescapeXml(s: string): string {
  return s.replace(/&#x([0-9a-fA-F]+);/g, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

/** Asserts an S3 error reply: status, XML with Code, Message and RequestId, x-amz-request-id. */
function assertS3Error(r: Reply, status: number | 'any4xx', code: string | RegExp): string {
  const xml = r.body.toString('utf8');
  if (status === 'any4xx') assert.ok(r.status >= 400 && r.status < 500, `expected a 4xx, got ${r.status}: ${xml}`);
  else assert.equal(r.status, status, `status (body: ${xml})`);
  assert.match(String(r.headers['content-type']), /xml/);
  assert.match(xml, /^<\?xml[^>]*\?>\s*<Error>/);
  const c = xmlField(xml, 'Code');
  assert.ok(c !== undefined, `no <Code> in ${xml}`);
  if (typeof code === 'string') assert.equal(c, code, xml);
  else assert.match(c, code, xml);
  const message = xmlField(xml, 'Message');
  assert.ok(message !== undefined && message.length > 0, `no <Message> in ${xml}`);
  const requestId = xmlField(xml, 'RequestId');
  assert.ok(requestId, `no <RequestId> in ${xml}`);
  assert.equal(r.headers['x-amz-request-id'], requestId);
  return xml;
}

// ---------------------------------------------------------------------------------------------

let s: TestServer;
let signer: Signer;
let host: string;
const BUCKET = 'wire-bucket';

/** A presigned URL path+query (SigV4 query authentication, host signed, unsigned payload). */
function presignPath(
  method: string,
  key: string,
  o: { expires?: number; time?: number; region?: string; secret?: string } = {},
): string {
  const amzDate = amzDateOf(o.time ?? Date.now());
  const region = o.region ?? signer.region;
  const scope = `${amzDate.slice(0, 8)}/${region}/s3/aws4_request`;
  const pathname = `/${BUCKET}/${key.split('/').map(rfc3986).join('/')}`;
  const query: Record<string, string> = {
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `${signer.accessKeyId}/${scope}`,
    'X-Amz-Date': amzDate,
    'X-Amz-Expires': String(o.expires ?? 300),
    'X-Amz-SignedHeaders': 'host',
  };
  const cq = Object.keys(query).sort().map((k) => `${rfc3986(k)}=${rfc3986(query[k])}`).join('&');
  const canonical = [method, pathname, cq, `host:${host}\n`, 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const sig = createHmac('sha256', signingKeyOf(o.secret ?? signer.secret, amzDate.slice(0, 8), region)).update(toSign).digest('hex');
  return `${pathname}?${cq}&X-Amz-Signature=${sig}`;
}


async function send(
  method: string,
  key: string | undefined,
  opts: {
    query?: Record<string, string>;
    headers?: Record<string, string>;
    body?: Buffer;
    payloadHash?: string;
    signer?: Signer;
  } = {},
): Promise<Reply> {
  const pathname = key === undefined ? `/${BUCKET}` : `/${BUCKET}/${key.split('/').map(rfc3986).join('/')}`;
  const query = opts.query ?? {};
  const body = opts.body ?? Buffer.alloc(0);
  const payloadHash = opts.payloadHash ?? sha256(body);
  const headers = { ...(opts.headers ?? {}) };
  if (method === 'PUT' || method === 'POST') headers['content-length'] ??= String(body.length);
  const signed = signHeaders(opts.signer ?? signer, method, host, pathname, query, headers, payloadHash);
  const qs = Object.entries(query).map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`).join('&');
  return rawRequest(s.port, method, pathname + (qs ? `?${qs}` : ''), signed.headers, method === 'PUT' || method === 'POST' ? body : undefined);
}

async function headStatus(key: string): Promise<number> {
  return (await send('HEAD', key)).status;
}

async function getObject(key: string, headers: Record<string, string> = {}): Promise<Reply> {
  return send('GET', key, { headers });
}

/** Files under every disk's shards/ and tmp/ directories. */
async function diskFiles(): Promise<{ shards: number; tmp: string[] }> {
  let shards = 0;
  const tmp: string[] = [];
  const walk = async (dir: string, into: (p: string) => void): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p, into);
      else into(p);
    }
  };
  for (const d of s.disks) {
    await walk(path.join(d, 'shards'), () => shards++);
    await walk(path.join(d, 'tmp'), (p) => tmp.push(p));
  }
  return { shards, tmp };
}

/**
 * After a refused upload: the key does not exist, no shard file was added, temporary files
 * are gone (give the server a moment to remove them), and the server still answers.
 */
async function assertNothingStored(key: string, shardsBefore: number): Promise<void> {
  assert.equal(await headStatus(key), 404, `${key} must not exist`);
  const list = await send('GET', undefined, { query: { 'list-type': '2', prefix: key } });
  assert.equal(list.status, 200);
  assert.doesNotMatch(list.body.toString(), /<Key>/, 'listing must be empty');
  let files = await diskFiles();
  for (let i = 0; i < 40 && files.tmp.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    files = await diskFiles();
  }
  assert.deepEqual(files.tmp, [], 'temporary shard files must be removed');
  // (Background garbage collection may only ever remove shard files, never add them.)
  assert.ok(files.shards <= shardsBefore, `no shard file may be added (${shardsBefore} → ${files.shards})`);
  const hb = await send('HEAD', undefined);
  assert.equal(hb.status, 200, 'the server still answers');
}

before(async () => {
  s = await startTestServer();
  signer = { accessKeyId: s.accessKeyId, secret: s.secretAccessKey, region: s.region };
  host = `127.0.0.1:${s.port}`;
  const r = await send('PUT', undefined);
  assert.equal(r.status, 200, r.body.toString());
});

after(async () => {
  await s?.destroy();
});

const SIZE = 3 * 64 * 1024 + 1234; // 3 full 64 KiB chunks and a short last one

describe('signed SHA-256 payload (Authorization header)', () => {
  test('a body whose SHA-256 is signed is stored bit-exact', async () => {
    const data = pattern(SIZE, 1);
    const before = (await diskFiles()).shards;
    const put = await send('PUT', 'plain/ok.bin', { body: data, headers: { 'content-type': 'application/x-test' } });
    assert.equal(put.status, 200, put.body.toString());
    // Above the inline threshold: shard files appear (so "no shard file added" means something).
    assert.ok((await diskFiles()).shards > before, 'shard files were written');
    assert.equal(put.headers.etag, `"${createHash('md5').update(data).digest('hex')}"`);
    const got = await getObject('plain/ok.bin');
    assert.equal(got.status, 200);
    assert.equal(got.headers['content-type'], 'application/x-test');
    assert.ok(got.body.equals(data), 'bit-exact');
  });

  test('a tampered body with the original x-amz-content-sha256 → 400 XAmzContentSHA256Mismatch, nothing stored', async () => {
    const before = (await diskFiles()).shards;
    const data = pattern(SIZE, 2);
    const tampered = Buffer.from(data);
    tampered[100_000] ^= 0x01;
    const r = await send('PUT', 'plain/tampered.bin', { body: tampered, payloadHash: sha256(data) });
    const xml = assertS3Error(r, 400, 'XAmzContentSHA256Mismatch');
    assert.equal(xmlField(xml, 'ClientComputedContentSHA256'), sha256(data));
    assert.equal(xmlField(xml, 'S3ComputedContentSHA256'), sha256(tampered));
    await assertNothingStored('plain/tampered.bin', before);
  });

  test('a tampered small (inline) body is refused too', async () => {
    const data = Buffer.from('small and honest');
    const r = await send('PUT', 'plain/small-tampered.txt', { body: Buffer.from('small and HONEST'), payloadHash: sha256(data) });
    assertS3Error(r, 400, 'XAmzContentSHA256Mismatch');
    assert.equal(await headStatus('plain/small-tampered.txt'), 404);
  });

  test('a tampered body does not replace an existing object', async () => {
    const original = Buffer.from('version one');
    assert.equal((await send('PUT', 'plain/keep.txt', { body: original })).status, 200);
    const next = Buffer.from('version two');
    const r = await send('PUT', 'plain/keep.txt', { body: Buffer.from('version TWO'), payloadHash: sha256(next) });
    assertS3Error(r, 400, 'XAmzContentSHA256Mismatch');
    const got = await getObject('plain/keep.txt');
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), 'version one');
  });
});

describe('aws-chunked with chunk signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)', () => {
  function chunkedPut(key: string, data: Buffer, mutate?: (encoded: Buffer) => Buffer, extraHeaders: Record<string, string> = {}): Promise<Reply> {
    const pathname = `/${BUCKET}/${key.split('/').map(rfc3986).join('/')}`;
    // The encoded length must be known before signing (content-length is signed), and does
    // not depend on the signatures, so encode once with a throwaway seed to measure it.
    const headers: Record<string, string> = {
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(data.length),
      ...extraHeaders,
    };
    const dummy = signHeaders(signer, 'PUT', host, pathname, {}, { ...headers, 'content-length': '0' }, 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD');
    const encodedLength = signedChunkedBody(data, 64 * 1024, dummy).length;
    const seed = signHeaders(signer, 'PUT', host, pathname, {}, { ...headers, 'content-length': String(encodedLength) }, 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD');
    let body = signedChunkedBody(data, 64 * 1024, seed);
    if (mutate) body = mutate(body);
    const sendHeaders = { ...seed.headers, 'content-length': String(body.length) };
    return rawRequest(s.port, 'PUT', pathname, sendHeaders, body);
  }

  test('3 chunks of 64 KiB and a last one are stored bit-exact', async () => {
    const data = pattern(SIZE, 3);
    const r = await chunkedPut('chunked/ok.bin', data);
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.headers.etag, `"${createHash('md5').update(data).digest('hex')}"`);
    const got = await getObject('chunked/ok.bin');
    assert.equal(got.status, 200);
    assert.equal(Number(got.headers['content-length']), data.length);
    assert.ok(got.body.equals(data), 'bit-exact');
    // aws-chunked describes the transfer, not the object.
    assert.equal(got.headers['content-encoding'], undefined);
  });

  test('exactly 3 × 64 KiB (no short chunk) is stored bit-exact', async () => {
    const data = pattern(3 * 64 * 1024, 4);
    const r = await chunkedPut('chunked/even.bin', data);
    assert.equal(r.status, 200, r.body.toString());
    assert.ok((await getObject('chunked/even.bin')).body.equals(data));
  });

  test('one flipped byte in a chunk → 403 SignatureDoesNotMatch, nothing stored', async () => {
    const before = (await diskFiles()).shards;
    const data = pattern(SIZE, 5);
    const r = await chunkedPut('chunked/flipped.bin', data, (body) => {
      const b = Buffer.from(body);
      // Inside the data of the second chunk (well past its header line).
      const at = body.indexOf('\r\n', 64 * 1024 + 100) + 1000;
      b[at] ^= 0x20;
      return b;
    });
    assertS3Error(r, 403, 'SignatureDoesNotMatch');
    await assertNothingStored('chunked/flipped.bin', before);
  });

  test('a flipped byte in the last chunk → 403, nothing stored', async () => {
    const before = (await diskFiles()).shards;
    const data = pattern(SIZE, 6);
    const r = await chunkedPut('chunked/flipped-last.bin', data, (body) => {
      const b = Buffer.from(body);
      const lastHeader = body.lastIndexOf(`${(1234).toString(16)};chunk-signature=`);
      const at = body.indexOf('\r\n', lastHeader) + 2 + 10;
      b[at] ^= 0xff;
      return b;
    });
    assertS3Error(r, 403, 'SignatureDoesNotMatch');
    await assertNothingStored('chunked/flipped-last.bin', before);
  });

  test('a wrong chunk signature (data intact) → 403, nothing stored', async () => {
    const before = (await diskFiles()).shards;
    const data = pattern(SIZE, 7);
    const r = await chunkedPut('chunked/badsig.bin', data, (body) => {
      const text = body.toString('latin1');
      const at = text.indexOf('chunk-signature=', 64 * 1024) + 'chunk-signature='.length;
      const b = Buffer.from(body);
      b[at] = b[at] === 0x30 ? 0x31 : 0x30;
      return b;
    });
    assertS3Error(r, 403, 'SignatureDoesNotMatch');
    await assertNothingStored('chunked/badsig.bin', before);
  });

  test('bad chunk framing → 4xx, nothing stored', async () => {
    const data = pattern(SIZE, 8);
    const cases: Array<[string, (b: Buffer) => Buffer]> = [
      ['missing CRLF after a chunk', (b) => {
        const at = b.indexOf('\r\n') + 2 + 64 * 1024; // the CRLF after the first chunk's data
        assert.equal(b.subarray(at, at + 2).toString('latin1'), '\r\n');
        return Buffer.concat([b.subarray(0, at), b.subarray(at + 2)]);
      }],
      ['non-hex chunk size', (b) => {
        const at = b.indexOf('\r\n', 0) + 2 + 64 * 1024 + 2; // start of the second header line
        const out = Buffer.from(b);
        out.write('zz', at, 'latin1');
        return out;
      }],
      ['body cut off before the final chunk', (b) => b.subarray(0, b.length - 200)],
      ['chunk size larger than the data', (b) => {
        const out = Buffer.from(b);
        out.write('2', 0, 'latin1'); // "10000" → "20000"
        return out;
      }],
      ['garbage after the final chunk', (b) => Buffer.concat([b, Buffer.from('extra bytes\r\n')])],
    ];
    for (const [name, mutate] of cases) {
      const key = `chunked/framing-${name.replace(/\W+/g, '-')}.bin`;
      const before = (await diskFiles()).shards;
      const r = await chunkedPut(key, data, mutate);
      assertS3Error(r, 'any4xx', /^(InvalidRequest|IncompleteBody|SignatureDoesNotMatch|InvalidChunkSizeError|MalformedTrailerError)$/);
      await assertNothingStored(key, before);
    }
  });

  test('x-amz-decoded-content-length that disagrees with the chunks → 4xx, nothing stored', async () => {
    const before = (await diskFiles()).shards;
    const data = pattern(SIZE, 9);
    const r = await chunkedPut('chunked/declared-wrong.bin', data, undefined, { 'x-amz-decoded-content-length': String(SIZE + 10) });
    assertS3Error(r, 'any4xx', /^(IncompleteBody|InvalidRequest)$/);
    await assertNothingStored('chunked/declared-wrong.bin', before);
  });
});

describe('aws-chunked with unsigned chunks and a trailing checksum (STREAMING-UNSIGNED-PAYLOAD-TRAILER)', () => {
  async function trailerPut(key: string, data: Buffer, trailerValue: string): Promise<Reply> {
    const body = unsignedTrailerBody(data, 64 * 1024, 'x-amz-checksum-crc32', trailerValue);
    return send('PUT', key, {
      body,
      payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      headers: {
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(data.length),
        'x-amz-trailer': 'x-amz-checksum-crc32',
      },
    });
  }

  test('a correct trailer → stored; GET with checksum mode returns the CRC32', async () => {
    const data = pattern(SIZE, 10);
    const crc = crc32Base64(data);
    const r = await trailerPut('trailer/ok.bin', data, crc);
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.headers['x-amz-checksum-crc32'], crc);
    const got = await getObject('trailer/ok.bin', { 'x-amz-checksum-mode': 'ENABLED' });
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(data), 'bit-exact');
    assert.equal(got.headers['x-amz-checksum-crc32'], crc);
    // Without checksum mode S3 does not send it.
    const plain = await send('HEAD', 'trailer/ok.bin');
    assert.equal(plain.headers['x-amz-checksum-crc32'], undefined);
  });

  test('a wrong trailer checksum → 400 BadDigest, nothing stored', async () => {
    const before = (await diskFiles()).shards;
    const data = pattern(SIZE, 11);
    const r = await trailerPut('trailer/bad.bin', data, crc32Base64(Buffer.from('something else')));
    assertS3Error(r, 400, 'BadDigest');
    await assertNothingStored('trailer/bad.bin', before);
  });

  test('a missing trailer → 4xx, nothing stored', async () => {
    const before = (await diskFiles()).shards;
    const data = pattern(SIZE, 12);
    const chunks: Buffer[] = [];
    for (let i = 0; i < data.length; i += 64 * 1024) {
      const c = data.subarray(i, i + 64 * 1024);
      chunks.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'));
    }
    chunks.push(Buffer.from('0\r\n\r\n'));
    const r = await send('PUT', 'trailer/missing.bin', {
      body: Buffer.concat(chunks),
      payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length), 'x-amz-trailer': 'x-amz-checksum-crc32' },
    });
    assertS3Error(r, 'any4xx', /^(MalformedTrailerError|InvalidRequest|BadDigest)$/);
    await assertNothingStored('trailer/missing.bin', before);
  });
});

describe('signed chunks and a signed trailer (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER)', () => {
  function signedTrailerPut(key: string, data: Buffer, trailerValue: string, badSignature = false): Promise<Reply> {
    const pathname = `/${BUCKET}/${key.split('/').map(rfc3986).join('/')}`;
    const headers: Record<string, string> = {
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(data.length),
      'x-amz-trailer': 'x-amz-checksum-crc32',
    };
    const trailer = { name: 'x-amz-checksum-crc32', value: trailerValue, badSignature };
    const dummy = signHeaders(signer, 'PUT', host, pathname, {}, { ...headers, 'content-length': '0' }, 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER');
    const len = signedChunkedBody(data, 64 * 1024, dummy, trailer).length;
    const seed = signHeaders(signer, 'PUT', host, pathname, {}, { ...headers, 'content-length': String(len) }, 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER');
    const body = signedChunkedBody(data, 64 * 1024, seed, trailer);
    assert.equal(body.length, len);
    return rawRequest(s.port, 'PUT', pathname, seed.headers, body);
  }

  test('signed chunks + signed trailer → stored bit-exact with its CRC32', async () => {
    const data = pattern(SIZE, 13);
    const crc = crc32Base64(data);
    const r = await signedTrailerPut('strailer/ok.bin', data, crc);
    assert.equal(r.status, 200, r.body.toString());
    const got = await getObject('strailer/ok.bin', { 'x-amz-checksum-mode': 'ENABLED' });
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(data), 'bit-exact');
    assert.equal(got.headers['x-amz-checksum-crc32'], crc);
  });

  test('a bad trailer signature → 403 SignatureDoesNotMatch, nothing stored', async () => {
    const before = (await diskFiles()).shards;
    const data = pattern(SIZE, 14);
    const r = await signedTrailerPut('strailer/badsig.bin', data, crc32Base64(data), true);
    assertS3Error(r, 403, 'SignatureDoesNotMatch');
    await assertNothingStored('strailer/badsig.bin', before);
  });

  test('a correctly signed but wrong trailer checksum → 400 BadDigest, nothing stored', async () => {
    const before = (await diskFiles()).shards;
    const data = pattern(SIZE, 15);
    const r = await signedTrailerPut('strailer/baddigest.bin', data, crc32Base64(Buffer.from('nope')));
    assertS3Error(r, 400, 'BadDigest');
    await assertNothingStored('strailer/baddigest.bin', before);
  });
});

describe('credential and request-time errors', () => {
  const small = Buffer.from('should never be stored');

  test('wrong region in the credential scope → 400 AuthorizationHeaderMalformed', async () => {
    const before = (await diskFiles()).shards; // taken before the refused request
    const r = await send('PUT', 'auth/region.txt', { body: small, signer: { ...signer, region: 'eu-west-1' } });
    const xml = assertS3Error(r, 400, 'AuthorizationHeaderMalformed');
    assert.equal(xmlField(xml, 'Region'), s.region, 'S3 names the expected region');
    await assertNothingStored('auth/region.txt', before);
  });

  test('unknown access key → 403 InvalidAccessKeyId', async () => {
    const before = (await diskFiles()).shards; // taken before the refused request
    const r = await send('PUT', 'auth/akid.txt', { body: small, signer: { ...signer, accessKeyId: 'AKIANOSUCHKEY0000000' } });
    const xml = assertS3Error(r, 403, 'InvalidAccessKeyId');
    assert.equal(xmlField(xml, 'AWSAccessKeyId'), 'AKIANOSUCHKEY0000000');
    await assertNothingStored('auth/akid.txt', before);
  });

  test('wrong secret → 403 SignatureDoesNotMatch with the StringToSign', async () => {
    const before = (await diskFiles()).shards; // taken before the refused request
    const wrong = { ...signer, secret: signer.secret.slice(0, -1) + 'X' };
    const pathname = `/${BUCKET}/auth/secret.txt`;
    const headers = { 'content-length': String(small.length) };
    const signed = signHeaders(wrong, 'PUT', host, pathname, {}, headers, sha256(small));
    const r = await rawRequest(s.port, 'PUT', pathname, signed.headers, small);
    const xml = assertS3Error(r, 403, 'SignatureDoesNotMatch');
    // The server computed the same string to sign (so the canonical request agrees), only
    // the key differs.
    assert.equal(unescapeXml(xmlField(xml, 'StringToSign') ?? ''), signed.stringToSign);
    assert.equal(xmlField(xml, 'SignatureProvided'), signed.signature);
    assert.equal(xmlField(xml, 'AWSAccessKeyId'), signer.accessKeyId);
    await assertNothingStored('auth/secret.txt', before);
  });

  test('a large body refused on its headers (wrong secret) still gets its XML reply', async () => {
    const before = (await diskFiles()).shards; // taken before the refused request
    const big = pattern(8 * 1024 * 1024, 99);
    const r = await send('PUT', 'auth/big.bin', { body: big, signer: { ...signer, secret: 'not-the-secret' } });
    assertS3Error(r, 403, 'SignatureDoesNotMatch');
    await assertNothingStored('auth/big.bin', before);
  });

  test('a signed header changed after signing → 403 SignatureDoesNotMatch', async () => {
    const before = (await diskFiles()).shards; // taken before the refused request
    const pathname = `/${BUCKET}/auth/changed.txt`;
    const signed = signHeaders(signer, 'PUT', host, pathname, {}, { 'content-length': String(small.length), 'x-amz-meta-a': '1' }, sha256(small));
    const r = await rawRequest(s.port, 'PUT', pathname, { ...signed.headers, 'x-amz-meta-a': '2' }, small);
    assertS3Error(r, 403, 'SignatureDoesNotMatch');
    await assertNothingStored('auth/changed.txt', before);
  });

  test('clock skew of 20 minutes → 403 RequestTimeTooSkewed (both directions)', async () => {
    const before = (await diskFiles()).shards; // taken before the refused request
    for (const delta of [20 * 60 * 1000, -20 * 60 * 1000]) {
      const r = await send('PUT', 'auth/skew.txt', { body: small, signer: { ...signer, time: Date.now() + delta } });
      const xml = assertS3Error(r, 403, 'RequestTimeTooSkewed');
      assert.ok(xmlField(xml, 'ServerTime'), 'S3 tells the client its time');
    }
    await assertNothingStored('auth/skew.txt', before);
  });

  test('a skew of 10 minutes is still accepted', async () => {
    const r = await send('HEAD', undefined, { signer: { ...signer, time: Date.now() - 10 * 60 * 1000 } });
    assert.equal(r.status, 200);
  });

  test('no authentication at all → 403 AccessDenied', async () => {
    const before = (await diskFiles()).shards; // taken before the refused request
    const r = await rawRequest(s.port, 'PUT', `/${BUCKET}/auth/anon.txt`, { 'content-length': String(small.length) }, small);
    assertS3Error(r, 403, 'AccessDenied');
    const g = await rawRequest(s.port, 'GET', `/${BUCKET}/plain/ok.bin`, {});
    assertS3Error(g, 403, 'AccessDenied');
    const l = await rawRequest(s.port, 'GET', '/', {});
    assertS3Error(l, 403, 'AccessDenied');
    await assertNothingStored('auth/anon.txt', before);
  });

  test('a SigV2 Authorization header ("AWS AKID:sig") → a clean S3 XML error', async () => {
    const before = (await diskFiles()).shards; // taken before the refused request
    const date = new Date().toUTCString();
    const v2sig = createHmac('sha1', signer.secret).update(`PUT\n\ntext/plain\n${date}\n/${BUCKET}/auth/v2.txt`).digest('base64');
    const r = await rawRequest(s.port, 'PUT', `/${BUCKET}/auth/v2.txt`, {
      authorization: `AWS ${signer.accessKeyId}:${v2sig}`,
      date,
      'content-type': 'text/plain',
      'content-length': String(small.length),
    }, small);
    assertS3Error(r, 'any4xx', /^(InvalidRequest|AccessDenied|InvalidArgument|NotImplemented)$/);
    assert.match(r.body.toString(), /AWS4-HMAC-SHA256/, 'tells the client which mechanism to use');
    // SigV2 query authentication too.
    const q = await rawRequest(s.port, 'GET', `/${BUCKET}/plain/ok.bin?AWSAccessKeyId=${signer.accessKeyId}&Expires=${Math.floor(Date.now() / 1000) + 60}&Signature=abc%3D`, {});
    assertS3Error(q, 'any4xx', /^(InvalidRequest|AccessDenied|InvalidArgument|NotImplemented)$/);
    await assertNothingStored('auth/v2.txt', before);
  });

  test('presigned URL with X-Amz-Expires=604801 → 400 AuthorizationQueryParametersError', async () => {
    const ok = await rawRequest(s.port, 'GET', presignPath('GET', 'plain/ok.bin', { expires: 604800 }), {});
    assert.equal(ok.status, 200, `a week is allowed: ${ok.body.toString()}`);
    const r = await rawRequest(s.port, 'GET', presignPath('GET', 'plain/ok.bin', { expires: 604801 }), {});
    assertS3Error(r, 400, 'AuthorizationQueryParametersError');
  });

  test('presigned URL: expired → 403 AccessDenied; wrong region → 400; extra query parameter → 403', async () => {
    const expired = await rawRequest(s.port, 'GET', presignPath('GET', 'plain/ok.bin', { expires: 60, time: Date.now() - 120_000 }), {});
    const xml = assertS3Error(expired, 403, 'AccessDenied');
    assert.match(xmlField(xml, 'Message') ?? '', /expired/i);
    const region = await rawRequest(s.port, 'GET', presignPath('GET', 'plain/ok.bin', { region: 'eu-west-1' }), {});
    assertS3Error(region, 400, 'AuthorizationQueryParametersError');
    const extra = await rawRequest(s.port, 'GET', presignPath('GET', 'plain/ok.bin') + '&response-content-type=text%2Fhtml', {});
    assertS3Error(extra, 403, 'SignatureDoesNotMatch');
  });

  test('presigned PUT stores the body; with a wrong secret nothing is stored', async () => {
    const before = (await diskFiles()).shards; // taken before the refused request
    const data = Buffer.from('presigned upload');
    const put = await rawRequest(s.port, 'PUT', presignPath('PUT', 'presigned/put.txt'), { 'content-length': String(data.length) }, data);
    assert.equal(put.status, 200, put.body.toString());
    assert.equal((await getObject('presigned/put.txt')).body.toString(), 'presigned upload');
    const bad = await rawRequest(s.port, 'PUT', presignPath('PUT', 'presigned/bad.txt', { secret: 'wrong' }), { 'content-length': String(data.length) }, data);
    assertS3Error(bad, 403, 'SignatureDoesNotMatch');
    await assertNothingStored('presigned/bad.txt', before);
  });

  test('UNSIGNED-PAYLOAD with header auth is accepted', async () => {
    const data = pattern(1000, 42);
    const r = await send('PUT', 'auth/unsigned-payload.bin', { body: data, payloadHash: 'UNSIGNED-PAYLOAD' });
    assert.equal(r.status, 200, r.body.toString());
    assert.ok((await getObject('auth/unsigned-payload.bin')).body.equals(data));
  });

  test('missing x-amz-content-sha256 → 400 InvalidRequest', async () => {
    const before = (await diskFiles()).shards; // taken before the refused request
    const pathname = `/${BUCKET}/auth/no-sha.txt`;
    // Sign without x-amz-content-sha256 at all (a SigV4 client for another service would).
    const amzDate = amzDateOf(Date.now());
    const scope = `${amzDate.slice(0, 8)}/${signer.region}/s3/aws4_request`;
    const canonical = ['PUT', pathname, '', `host:${host}\nx-amz-date:${amzDate}\n`, 'host;x-amz-date', sha256(small)].join('\n');
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
    const sig = createHmac('sha256', signingKeyOf(signer.secret, amzDate.slice(0, 8), signer.region)).update(toSign).digest('hex');
    const r = await rawRequest(s.port, 'PUT', pathname, {
      'x-amz-date': amzDate,
      'content-length': String(small.length),
      authorization: `AWS4-HMAC-SHA256 Credential=${signer.accessKeyId}/${scope}, SignedHeaders=host;x-amz-date, Signature=${sig}`,
    }, small);
    assertS3Error(r, 400, 'InvalidRequest');
    await assertNothingStored('auth/no-sha.txt', before);
  });

  test('an x-amz-* header that is not signed → 403 AccessDenied', async () => {
    const before = (await diskFiles()).shards; // taken before the refused request
    const pathname = `/${BUCKET}/auth/unsigned-header.txt`;
    const signed = signHeaders(signer, 'PUT', host, pathname, {}, { 'content-length': String(small.length) }, sha256(small));
    const r = await rawRequest(s.port, 'PUT', pathname, { ...signed.headers, 'x-amz-meta-sneaky': 'yes' }, small);
    const xml = assertS3Error(r, 403, 'AccessDenied');
    assert.match(xmlField(xml, 'Message') ?? '', /not signed/);
    await assertNothingStored('auth/unsigned-header.txt', before);
  });

  test('HEAD errors carry no body but keep the status and x-amz-request-id', async () => {
    const r = await send('HEAD', 'does/not/exist');
    assert.equal(r.status, 404);
    assert.equal(r.body.length, 0);
    assert.match(String(r.headers['x-amz-request-id']), /^[0-9A-Za-z]+$/);
    const anon = await rawRequest(s.port, 'HEAD', `/${BUCKET}/plain/ok.bin`, {});
    assert.equal(anon.status, 403);
    assert.ok(anon.headers['x-amz-request-id']);
  });

  test('after all of the above the server still serves requests', async () => {
    const data = Buffer.from('still alive');
    assert.equal((await send('PUT', 'alive.txt', { body: data })).status, 200);
    const got = await getObject('alive.txt');
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), 'still alive');
  });
});
