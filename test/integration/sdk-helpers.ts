// Small helpers shared by the sdk-*.test.ts integration tests (AWS SDK for JavaScript v3).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import aws4 from 'aws4';
import type { TestServer } from '../helpers/server.js';

let counter = 0;
/** A bucket name nobody else in this process uses. */
export function uniqueBucket(tag: string): string {
  counter++;
  return `sdk-${tag}-${process.pid}-${counter}-${randomBytes(3).toString('hex')}`.toLowerCase().slice(0, 63);
}

interface SdkError {
  name?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string; attempts?: number };
  $response?: { statusCode?: number; headers?: Record<string, string> };
}

/** Awaits an SDK call that must fail with the given S3 error code and HTTP status; returns the error. */
export async function expectS3Error(p: Promise<unknown>, code: string, status: number): Promise<SdkError> {
  let err: SdkError | undefined;
  try {
    await p;
  } catch (e) {
    err = e as SdkError;
  }
  assert.ok(err, `expected ${code} (${status}), but the call succeeded`);
  assert.equal(err.$metadata?.httpStatusCode, status, `status of ${err.name}: ${err.message}`);
  assert.equal(err.name, code, `error code (message: ${err.message})`);
  return err;
}

/**
 * For replies without a body (304, and every HEAD error except 404) the SDK cannot know the S3
 * code and names the error "Unknown" (also against AWS); only the status can be checked.
 */
export async function expectStatusError(p: Promise<unknown>, status: number): Promise<SdkError> {
  let err: SdkError | undefined;
  try {
    await p;
  } catch (e) {
    err = e as SdkError;
  }
  assert.ok(err, `expected HTTP ${status}, but the call succeeded`);
  assert.equal(err.$metadata?.httpStatusCode, status, `status of ${err.name}: ${err.message}`);
  return err;
}

export async function bodyBytes(body: unknown): Promise<Buffer> {
  const b = body as { transformToByteArray?: () => Promise<Uint8Array> } & AsyncIterable<Uint8Array>;
  if (b && typeof b.transformToByteArray === 'function') return Buffer.from(await b.transformToByteArray());
  const parts: Buffer[] = [];
  for await (const c of b) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

export async function bodyText(body: unknown): Promise<string> {
  return (await bodyBytes(body)).toString('utf8');
}

// Test data and digests live in one place for every test.
export { fillPattern, md5OfStream, md5b64, md5hex, patternBuffer, patternStream } from '../helpers/data.js';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Sends one raw HTTP request to the server (connect to 127.0.0.1:port, any Host header). */
export function rawRequest(s: TestServer, o: { method: string; path: string; headers?: Record<string, string>; body?: Buffer | string }): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: s.port, method: o.method, path: o.path, headers: o.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (o.body !== undefined) req.end(o.body);
    else req.end();
  });
}

/** Signs (SigV4, with aws4) and sends a raw request; `host` is the Host header to sign and send. */
export function signedRawRequest(s: TestServer, o: { method: string; host: string; path: string; headers?: Record<string, string>; body?: Buffer | string }): Promise<RawResponse> {
  const opts = {
    host: o.host,
    method: o.method,
    path: o.path,
    service: 's3',
    region: s.region,
    headers: { ...(o.headers ?? {}) } as Record<string, string | number>,
    body: o.body,
  };
  aws4.sign(opts, { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey });
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.headers)) headers[k] = String(v);
  headers.Host = o.host;
  return rawRequest(s, { method: o.method, path: o.path, headers, body: o.body });
}

/**
 * A signed PUT whose body (`size` bytes of `chunk`, repeated) goes out with Transfer-Encoding:
 * chunked, so the server learns the size only at the end. The server may answer and close
 * before the whole body went out (a refusal mid-body): write errors are ignored for that.
 */
export function signedChunkedPut(s: TestServer, p: string, chunk: Buffer, size = chunk.length): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const opts = { host: `127.0.0.1:${s.port}`, method: 'PUT', path: p, service: 's3', region: s.region, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'transfer-encoding': 'chunked' } as Record<string, string> };
  aws4.sign(opts, { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: s.port, method: 'PUT', path: p, headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', () => undefined);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const piece = chunk.subarray(0, Math.min(chunk.length, size - sent));
        sent += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

/** Checks the S3 XML error body and the request id header of a raw error response. */
export function assertXmlError(r: { status: number; headers: http.IncomingHttpHeaders | Headers; body: string }, code: string, status: number): void {
  assert.equal(r.status, status, `status (body: ${r.body})`);
  const rid = r.headers instanceof Headers ? r.headers.get('x-amz-request-id') : (r.headers['x-amz-request-id'] as string | undefined);
  assert.ok(rid && rid.length > 0, 'x-amz-request-id header');
  const ct = r.headers instanceof Headers ? r.headers.get('content-type') : (r.headers['content-type'] as string | undefined);
  assert.match(ct ?? '', /xml/, 'error content-type is XML');
  assert.match(r.body, /^<\?xml[^>]*\?>\s*<Error>/, 'XML declaration and <Error> root');
  assert.equal(xmlField(r.body, 'Code'), code, `Code in ${r.body}`);
  assert.ok((xmlField(r.body, 'Message') ?? '').length > 0, 'Message present');
  assert.equal(xmlField(r.body, 'RequestId'), rid, 'RequestId in the body equals x-amz-request-id');
}

export function xmlField(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return m ? m[1] : undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
