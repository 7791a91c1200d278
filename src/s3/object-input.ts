// Reading what a write request declares: Content-MD5, checksums, tags, storage class,
// conditions. Each malformed value gets S3's error before any byte is stored. Each reader takes
// the request's headers, or (the ...From forms) any name → value lookup: the fields of a POST
// form carry the same values.

import { createHash } from 'node:crypto';
import { S3Error } from '../errors.js';
import type { ChecksumAlgorithm } from '../meta/types.js';
import { CHECKSUM_ALGORITHMS, checksumHeaderName, decodeChecksumValue, parseChecksumAlgorithm } from '../util/checksums.js';
import { header } from './headers.js';
import { type S3Ctx, type S3Deps, readSmallBody } from './context.js';
import { parseTaggingHeader } from './xml.js';

/** A header or form field by lower-case name. */
export type Lookup = (name: string) => string | undefined;

export function headerLookup(ctx: S3Ctx): Lookup {
  return (name) => header(ctx, name);
}

export function contentMd5(ctx: S3Ctx): string | undefined {
  return contentMd5From(headerLookup(ctx));
}

export function contentMd5From(get: Lookup): string | undefined {
  const v = get('content-md5');
  if (v === undefined) return undefined;
  const b = Buffer.from(v, 'base64');
  if (b.length !== 16 || b.toString('base64') !== v.trim()) throw new S3Error('InvalidDigest');
  return v.trim();
}

/**
 * The body of a bucket configuration that S3 requires to prove itself intact (PutBucketCors,
 * PutBucketEncryption): Content-MD5 or an x-amz-checksum-* value must come with it. The MD5
 * is checked here; a checksum (header or trailer) by the body verifier as the body is read.
 */
export async function readCheckedConfigBody(deps: Pick<S3Deps, 'openBody'>, ctx: S3Ctx, limit: number): Promise<Buffer> {
  const md5 = contentMd5(ctx);
  const sum = declaredChecksum(ctx);
  if (md5 === undefined && sum.value === undefined && !sum.inTrailer) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5');
  }
  const body = await readSmallBody(deps, ctx, limit);
  if (md5 !== undefined && createHash('md5').update(body).digest('base64') !== md5) throw new S3Error('BadDigest');
  return body;
}

export interface DeclaredChecksum {
  algorithm?: ChecksumAlgorithm;
  /** Value declared in a header (verified once the body is read). */
  value?: string;
  /** The value arrives in a trailer (x-amz-trailer). */
  inTrailer: boolean;
}

export function declaredChecksum(ctx: S3Ctx): DeclaredChecksum {
  return declaredChecksumFrom(headerLookup(ctx));
}

export function declaredChecksumFrom(get: Lookup): DeclaredChecksum {
  let algorithm: ChecksumAlgorithm | undefined;
  let value: string | undefined;
  for (const alg of CHECKSUM_ALGORITHMS) {
    const v = get(checksumHeaderName(alg));
    if (v === undefined) continue;
    if (algorithm) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
    if (!decodeChecksumValue(alg, v)) throw new S3Error('InvalidRequest', `Value for ${checksumHeaderName(alg)} header is invalid.`);
    algorithm = alg;
    value = v.trim();
  }
  const trailer = get('x-amz-trailer');
  let inTrailer = false;
  if (trailer !== undefined) {
    const name = trailer.trim().toLowerCase();
    const alg = CHECKSUM_ALGORITHMS.find((a) => checksumHeaderName(a) === name);
    if (!alg) throw new S3Error('InvalidRequest', 'The value specified in the x-amz-trailer header is not supported');
    if (algorithm && algorithm !== alg) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
    algorithm = alg;
    inTrailer = true;
  }
  const sdk = get('x-amz-sdk-checksum-algorithm') ?? get('x-amz-checksum-algorithm');
  if (sdk !== undefined) {
    const alg = parseChecksumAlgorithm(sdk);
    if (!alg) throw new S3Error('InvalidRequest', 'Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]');
    if (algorithm && algorithm !== alg) throw new S3Error('InvalidRequest', `Value for x-amz-sdk-checksum-algorithm header is invalid.`);
    algorithm ??= alg;
  }
  return { algorithm, value, inTrailer };
}

export function taggingHeader(ctx: S3Ctx): Record<string, string> | undefined {
  const v = header(ctx, 'x-amz-tagging');
  if (v === undefined) return undefined;
  const tags = parseTaggingHeader(v, 'object');
  return Object.keys(tags).length > 0 ? tags : undefined;
}

const STORAGE_CLASSES = new Set(['STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER', 'DEEP_ARCHIVE', 'OUTPOSTS', 'GLACIER_IR', 'SNOW', 'EXPRESS_ONEZONE']);

export function storageClass(ctx: S3Ctx): string | undefined {
  return storageClassFrom(headerLookup(ctx));
}

export function storageClassFrom(get: Lookup): string | undefined {
  const v = get('x-amz-storage-class');
  if (v === undefined) return undefined;
  if (!STORAGE_CLASSES.has(v)) throw new S3Error('InvalidStorageClass', 'The storage class you specified is not valid', { StorageClassRequested: v });
  return v === 'STANDARD' ? undefined : v;
}

/** Headers of features we do not have: refuse rather than silently ignore (S3 would honour them). */
export function refuseUnsupported(ctx: S3Ctx): void {
  refuseUnsupportedFrom(headerLookup(ctx));
}

export function refuseUnsupportedFrom(get: Lookup): void {
  // Encryption headers are read (and refused where not served) by sse-headers.ts.
  for (const h of ['x-amz-object-lock-mode', 'x-amz-object-lock-retain-until-date', 'x-amz-object-lock-legal-hold']) {
    if (get(h) !== undefined) throw new S3Error('NotImplemented', `The ${h} header is not supported by this server.`, { Header: h });
  }
}
