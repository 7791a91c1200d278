// Compatibility with the real client: requests built and signed by @aws-sdk/client-s3 (with
// its default settings, e.g. CRC32 trailers on streamed uploads) are captured before they
// reach the network and run through verifyRequest and makeBodyVerifier.

import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { AwsChunkedDecoder, makeBodyVerifier } from '../../src/auth/payload.js';
import { verifyRequest, type AuthRequest, type AuthResult } from '../../src/auth/verify.js';
import { checksumBase64 } from '../../src/util/checksums.js';
import { runThrough, s3ErrorOf } from './helpers.js';

interface CapturedRequest {
  method: string;
  path: string;
  query: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

const ACCESS_KEY = 'TESSERATESTKEY';
const SECRET = 'tessera/test+secret';
const creds = { lookup: (id: string) => (id === ACCESS_KEY ? SECRET : undefined) };

// The SDK's query escaping: encodeURIComponent plus the characters it leaves alone.
function escapeQuery(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function rawQueryOf(query: CapturedRequest['query']): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    if (v === null) parts.push(escapeQuery(k));
    else for (const one of Array.isArray(v) ? v : [v]) parts.push(`${escapeQuery(k)}=${escapeQuery(one)}`);
  }
  return parts.join('&');
}

async function bodyOf(body: unknown): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer | string>) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** Runs one SDK command and returns the request it would have sent, already signed. */
async function capture(send: (client: S3Client) => Promise<unknown>): Promise<{ req: AuthRequest; body: Buffer }> {
  let captured: CapturedRequest | undefined;
  let body: Buffer = Buffer.alloc(0);
  const requestHandler = {
    async handle(request: CapturedRequest) {
      captured = request;
      body = await bodyOf(request.body);
      return { response: { statusCode: 200, headers: {}, body: Readable.from([Buffer.from('<?xml version="1.0" encoding="UTF-8"?><Result></Result>')]) } };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs() { return {}; },
  };
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9000',
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET },
    requestHandler: requestHandler as never,
    maxAttempts: 1,
  });
  try {
    await send(client);
  } catch {
    // Replies are canned; parsing them may fail. Only the request matters here.
  }
  client.destroy();
  assert.ok(captured, 'the SDK sent a request');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(captured.headers)) headers[k.toLowerCase()] = v;
  return { req: { method: captured.method, rawPath: captured.path, rawQuery: rawQueryOf(captured.query), headers }, body };
}

const opts = { region: 'us-east-1', now: () => Date.now() };
const ODD_KEY = 'dir/a b+c/ü€$&=?;:@,!\'()*~.txt';

async function verifyAndDecode(req: AuthRequest, body: Buffer): Promise<{ auth: AuthResult; data: Buffer; verifier: ReturnType<typeof makeBodyVerifier> }> {
  const auth = verifyRequest(req, creds, opts);
  const verifier = makeBodyVerifier(auth, req.headers);
  const data = verifier ? await runThrough(verifier, [body]) : body;
  return { auth, data, verifier };
}

test('SDK PutObject with a stream: unsigned aws-chunked body with a CRC32 trailer', async () => {
  const content = Buffer.alloc(200_000, 'z');
  const { req, body } = await capture((c) =>
    c.send(new PutObjectCommand({ Bucket: 'bucket', Key: ODD_KEY, Body: Readable.from([content]), ContentLength: content.length })));
  const { auth, data, verifier } = await verifyAndDecode(req, body);
  assert.equal(auth.payload.kind, 'streaming-unsigned-trailer');
  assert.deepEqual(data, content);
  assert.ok(verifier instanceof AwsChunkedDecoder);
  assert.deepEqual(verifier.trailerChecksum, { algorithm: 'CRC32', value: checksumBase64('CRC32', content) });
});

for (const alg of ['CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
  test(`SDK PutObject with ChecksumAlgorithm ${alg}`, async () => {
    const content = Buffer.from(`checksummed with ${alg}`);
    const { req, body } = await capture((c) =>
      c.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'k', Body: Readable.from([content]), ContentLength: content.length, ChecksumAlgorithm: alg })));
    const { data, verifier } = await verifyAndDecode(req, body);
    assert.deepEqual(data, content);
    assert.ok(verifier instanceof AwsChunkedDecoder);
    assert.deepEqual(verifier.trailerChecksum, { algorithm: alg, value: checksumBase64(alg, content) });
  });
}

test('SDK PutObject with a Buffer body: signed payload hash plus a CRC32 header', async () => {
  const content = Buffer.from('a small buffer');
  const { req, body } = await capture((c) => c.send(new PutObjectCommand({ Bucket: 'bucket', Key: ODD_KEY, Body: content })));
  const { auth, data } = await verifyAndDecode(req, body);
  assert.equal(auth.payload.kind, 'sha256');
  assert.equal(req.headers['x-amz-checksum-crc32'], checksumBase64('CRC32', content));
  assert.deepEqual(data, content);
});

test('SDK UploadPart: a corrupted body is caught', async () => {
  const content = Buffer.alloc(70_000, 'p');
  const { req, body } = await capture((c) =>
    c.send(new UploadPartCommand({ Bucket: 'bucket', Key: 'k', UploadId: 'u+/=', PartNumber: 3, Body: Readable.from([content]), ContentLength: content.length })));
  verifyRequest(req, creds, opts);
  const flipped = Buffer.from(body);
  const at = flipped.indexOf('pppp');
  flipped[at] = 0x71;
  const verifier = makeBodyVerifier(verifyRequest(req, creds, opts), req.headers);
  assert.ok(verifier);
  assert.equal((await s3ErrorOf(runThrough(verifier, [flipped]))).code, 'BadDigest');
});

test('SDK GetObject with an odd key and a Range', async () => {
  const { req } = await capture((c) => c.send(new GetObjectCommand({ Bucket: 'bucket', Key: ODD_KEY, Range: 'bytes=0-9', VersionId: 'v1/+=' })));
  verifyRequest(req, creds, opts);
});

test('SDK ListObjectsV2 with prefix, delimiter and continuation token', async () => {
  const { req } = await capture((c) =>
    c.send(new ListObjectsV2Command({ Bucket: 'bucket', Prefix: 'a b+c/ü', Delimiter: '/', ContinuationToken: 'tok+/=', StartAfter: "it's", MaxKeys: 5 })));
  verifyRequest(req, creds, opts);
});

test('SDK DeleteObjects (XML body with a checksum header)', async () => {
  const { req, body } = await capture((c) =>
    c.send(new DeleteObjectsCommand({ Bucket: 'bucket', Delete: { Objects: [{ Key: ODD_KEY }, { Key: 'x' }] } })));
  const { data } = await verifyAndDecode(req, body);
  assert.match(data.toString(), /<Delete/);
});

test('SDK request with the wrong secret → SignatureDoesNotMatch', async () => {
  const { req } = await capture((c) => c.send(new GetObjectCommand({ Bucket: 'bucket', Key: 'k' })));
  assert.throws(() => verifyRequest(req, { lookup: () => 'other' }, opts), { code: 'SignatureDoesNotMatch' });
});
