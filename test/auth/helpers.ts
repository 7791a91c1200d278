// Shared fixtures for the auth tests: the AWS documentation credentials and small stream
// helpers. The aws-chunked encoder here is the client side of the protocol, used to make
// bodies for the decoder; the AWS published vectors check the same signing functions
// independently.

import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { chunkStringToSign, sha256Hex, signatureHex, signingKey, trailerStringToSign } from '../../src/auth/sigv4.js';
import type { Credentials } from '../../src/auth/verify.js';
import { S3Error } from '../../src/errors.js';

export const EXAMPLE_ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';
export const EXAMPLE_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
export const EXAMPLE_DATE = '20130524T000000Z';
export const EXAMPLE_TIME = Date.UTC(2013, 4, 24, 0, 0, 0);
export const EXAMPLE_SCOPE = '20130524/us-east-1/s3/aws4_request';
export const EXAMPLE_KEY = signingKey(EXAMPLE_SECRET, '20130524', 'us-east-1', 's3');

export const exampleCreds: Credentials = {
  lookup: (id) => (id === EXAMPLE_ACCESS_KEY ? EXAMPLE_SECRET : undefined),
};

/** Writes `pieces` into `t` one write each and returns everything it output. */
export async function runThrough(t: Transform, pieces: Iterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  t.on('data', (b: Buffer) => out.push(b));
  await pipeline(Readable.from(pieces, { objectMode: false }), t);
  return Buffer.concat(out);
}

/** Splits a buffer into pieces of `size` bytes (size 1 = byte by byte). */
export function* slices(buf: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

/** Splits a buffer at pseudo-random points (deterministic per seed). */
export function* randomSlices(buf: Buffer, seed: number, maxPiece = 300): Generator<Buffer> {
  let state = seed >>> 0 || 1;
  let i = 0;
  while (i < buf.length) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const n = 1 + (state % maxPiece);
    yield buf.subarray(i, i + n);
    i += n;
  }
}

/** The S3Error a promise rejects with (fails the test if it resolves or throws something else). */
export async function s3ErrorOf(p: Promise<unknown>): Promise<S3Error> {
  try {
    await p;
  } catch (err) {
    if (err instanceof S3Error) return err;
    throw new Error(`expected an S3Error, got ${String(err)}`);
  }
  throw new Error('expected an S3Error, but it succeeded');
}

/** The S3Error a function throws. */
export function s3ErrorFrom(fn: () => unknown): S3Error {
  try {
    fn();
  } catch (err) {
    if (err instanceof S3Error) return err;
    throw new Error(`expected an S3Error, got ${String(err)}`);
  }
  throw new Error('expected an S3Error, but it succeeded');
}

export interface EncodeOptions {
  chunkSize: number;
  /** Sign every chunk (and the trailer) chained from this seed. */
  signed?: { seedSignature: string; key?: Buffer; scope?: string; amzDate?: string };
  /** Trailing headers, e.g. [['x-amz-checksum-crc32', 'AAAAAA==']]. */
  trailers?: Array<[string, string]>;
}

/** Encodes `data` as an aws-chunked body, the way SDKs do. */
export function encodeAwsChunked(data: Buffer, opts: EncodeOptions): Buffer {
  const key = opts.signed?.key ?? EXAMPLE_KEY;
  const scope = opts.signed?.scope ?? EXAMPLE_SCOPE;
  const amzDate = opts.signed?.amzDate ?? EXAMPLE_DATE;
  let previous = opts.signed?.seedSignature ?? '';
  const parts: Buffer[] = [];
  const chunk = (payload: Buffer): void => {
    let header = payload.length.toString(16);
    if (opts.signed) {
      previous = signatureHex(key, chunkStringToSign(amzDate, scope, previous, sha256Hex(payload)));
      header += `;chunk-signature=${previous}`;
    }
    parts.push(Buffer.from(`${header}\r\n`), payload);
    if (payload.length > 0) parts.push(Buffer.from('\r\n'));
  };
  for (let i = 0; i < data.length; i += opts.chunkSize) chunk(data.subarray(i, i + opts.chunkSize));
  chunk(Buffer.alloc(0));
  const trailers = opts.trailers ?? [];
  for (const [name, value] of trailers) parts.push(Buffer.from(`${name}:${value}\r\n`));
  if (opts.signed && opts.trailers) {
    const canonical = trailers.map(([n, v]) => `${n}:${v}\n`).join('');
    const sig = signatureHex(key, trailerStringToSign(amzDate, scope, previous, canonical));
    parts.push(Buffer.from(`x-amz-trailer-signature:${sig}\r\n`));
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}
