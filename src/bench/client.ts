// A deliberately small S3 client for load generation: SigV4 header signing over node:http with
// a keep-alive agent, nothing else. The AWS SDK would spend more CPU per request than the
// server under test on small objects (and this machine may only have a couple of cores for
// both), so the client does the least it can: PUT bodies are signed as UNSIGNED-PAYLOAD (no
// client-side SHA-256 of the data), bodies are written from one shared buffer, and response
// bodies are counted and dropped, never kept.

import http from 'node:http';
import { performance } from 'node:perf_hooks';
import {
  ALGORITHM,
  EMPTY_SHA256,
  canonicalRequest,
  credentialScope,
  formatAmzDate,
  sha256Hex,
  signatureHex,
  signingKey,
  stringToSign,
  uriEncode,
} from '../auth/sigv4.js';

export interface ClientOptions {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
  /** Sockets kept open to the endpoint; the bench uses one per concurrent worker. */
  maxSockets: number;
}

/** A request body: `size` bytes taken, in order and repeatedly, from `pattern`. */
export interface BodySource {
  pattern: Buffer;
  size: number;
}

export interface RequestSpec {
  method: 'GET' | 'PUT' | 'HEAD' | 'DELETE';
  bucket: string;
  key?: string;
  /** Raw query string (already encoded), without '?'. */
  query?: string;
  body?: BodySource | Buffer;
  /** Keep up to this many bytes of the response body (for XML replies); the rest is counted only. */
  keepBody?: number;
  signal?: AbortSignal;
  /** A path outside any bucket (the admin API), already encoded; replaces bucket and key. */
  rawPath?: string;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Response body bytes received. */
  bytesIn: number;
  /** Request body bytes sent. */
  bytesOut: number;
  /** The first `keepBody` bytes of the response (always kept, up to 4 KiB, for error replies). */
  body: Buffer;
  /** Milliseconds from sending the request to the last byte of the response. */
  latencyMs: number;
}

const ERROR_BODY_KEEP = 4096;

export class S3BenchClient {
  readonly agent: http.Agent;
  private readonly url: URL;
  private readonly host: string;
  private readonly pathBase: string;

  constructor(private readonly o: ClientOptions) {
    this.url = new URL(o.endpoint);
    if (this.url.protocol !== 'http:') throw new Error(`only http:// endpoints are supported, got ${o.endpoint}`);
    this.host = this.url.host;
    // An endpoint may carry a path prefix (behind a proxy); keep it without a trailing slash.
    this.pathBase = this.url.pathname.replace(/\/+$/, '');
    this.agent = new http.Agent({ keepAlive: true, maxSockets: o.maxSockets, maxFreeSockets: o.maxSockets });
  }

  /** Path-style resource path, encoded the way SigV4 wants it (S3 keeps '/' in keys literal). */
  path(bucket: string, key?: string): string {
    return `${this.pathBase}/${uriEncode(bucket, true)}${key === undefined ? '' : '/' + uriEncode(key, false)}`;
  }

  /** SigV4 headers for one request; the payload hash is UNSIGNED-PAYLOAD for streamed bodies. */
  sign(method: string, rawPath: string, rawQuery: string, payloadHash: string, now = Date.now()): Record<string, string> {
    const amzDate = formatAmzDate(now);
    const date = amzDate.slice(0, 8);
    const headers: Record<string, string> = {
      host: this.host,
      'x-amz-content-sha256': payloadHash,
      'x-amz-date': amzDate,
    };
    const signed = ['host', 'x-amz-content-sha256', 'x-amz-date'];
    const scope = credentialScope(date, this.o.region, 's3');
    const creq = canonicalRequest({ method, rawPath, rawQuery, headers, signedHeaders: signed, payloadHash });
    const sig = signatureHex(signingKey(this.o.secretKey, date, this.o.region, 's3'), stringToSign(amzDate, scope, creq));
    headers.authorization = `${ALGORITHM} Credential=${this.o.accessKey}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${sig}`;
    return headers;
  }

  request(spec: RequestSpec): Promise<Reply> {
    const rawPath = spec.rawPath !== undefined ? this.pathBase + spec.rawPath : this.path(spec.bucket, spec.key);
    const rawQuery = spec.query ?? '';
    const body = spec.body;
    let payloadHash: string;
    let size = 0;
    if (body === undefined) {
      payloadHash = EMPTY_SHA256;
    } else if (Buffer.isBuffer(body)) {
      // Small control bodies (CreateBucketConfiguration) are hashed: they are not measured.
      payloadHash = sha256Hex(body);
      size = body.length;
    } else {
      payloadHash = 'UNSIGNED-PAYLOAD';
      size = body.size;
    }
    const headers = this.sign(spec.method, rawPath, rawQuery, payloadHash);
    if (body !== undefined || spec.method === 'PUT') headers['content-length'] = String(size);
    const keep = Math.max(spec.keepBody ?? 0, ERROR_BODY_KEEP);

    return new Promise<Reply>((resolve, reject) => {
      const started = performance.now();
      const req = http.request({
        agent: this.agent,
        host: this.url.hostname,
        port: this.url.port,
        method: spec.method,
        path: rawQuery === '' ? rawPath : `${rawPath}?${rawQuery}`,
        headers,
        signal: spec.signal,
      });
      req.on('error', reject);
      req.on('response', (res) => {
        const kept: Buffer[] = [];
        let keptBytes = 0;
        let bytesIn = 0;
        res.on('data', (c: Buffer) => {
          bytesIn += c.length;
          if (keptBytes < keep) {
            const part = c.length <= keep - keptBytes ? c : c.subarray(0, keep - keptBytes);
            kept.push(part);
            keptBytes += part.length;
          }
        });
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            bytesIn,
            bytesOut: size,
            body: kept.length === 1 ? kept[0]! : Buffer.concat(kept),
            latencyMs: performance.now() - started,
          }),
        );
      });
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else writeBody(req, body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Streams `size` bytes cut from `pattern` with backpressure: a 64 MiB body costs no
 * allocation, and no more than the socket's buffer is queued at a time.
 */
function writeBody(req: http.ClientRequest, src: BodySource): void {
  const { pattern, size } = src;
  if (size <= pattern.length) {
    req.end(pattern.subarray(0, size));
    return;
  }
  let sent = 0;
  const pump = (): void => {
    while (sent < size) {
      const n = Math.min(pattern.length, size - sent);
      sent += n;
      if (!req.write(n === pattern.length ? pattern : pattern.subarray(0, n))) {
        req.once('drain', pump);
        return;
      }
    }
    req.end();
  };
  pump();
}

/** "NoSuchBucket" from an S3 XML error body, or a short excerpt when it is not one. */
export function describeFailure(r: Reply): string {
  const text = r.body.toString('utf8');
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const msg = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  if (code) return `HTTP ${r.status} ${code}${msg ? `: ${msg}` : ''}`;
  return `HTTP ${r.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
}
