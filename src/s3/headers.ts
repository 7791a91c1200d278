// Request headers that are stored with an object, and the response headers that describe it.

import type Koa from 'koa';
import { S3Error } from '../errors.js';
import type { ObjectVersion } from '../meta/types.js';
import { checksumHeaderName } from '../util/checksums.js';

/** System headers S3 stores and returns as given (lower-case names). */
export const STORED_HEADERS = ['content-type', 'content-encoding', 'content-disposition', 'content-language', 'cache-control', 'expires', 'x-amz-website-redirect-location'] as const;

const USER_META_LIMIT = 2048;

export function header(ctx: Koa.Context, name: string): string | undefined {
  const v = ctx.req.headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : v;
}

export function storedHeaders(ctx: Koa.Context): Record<string, string> {
  return storedHeadersFrom((name) => header(ctx, name));
}

/** The same from any lookup by lower-case name (the fields of a POST form). */
export function storedHeadersFrom(get: (name: string) => string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    let v = get(name);
    if (v === undefined) continue;
    if (name === 'content-encoding') {
      v = withoutAwsChunked(v);
      if (!v) continue;
    }
    out[name] = replayable(name, v);
  }
  if (!out['content-type']) out['content-type'] = 'binary/octet-stream';
  return out;
}

/**
 * aws-chunked describes the transfer, not the object; S3 drops it and keeps the rest of the
 * value byte-for-byte ("deflate, gzip" stays "deflate, gzip", not "deflate,gzip").
 */
export function withoutAwsChunked(v: string): string {
  if (!/aws-chunked/i.test(v)) return v;
  const items = v.split(',');
  const kept = items.filter((s) => s.trim().toLowerCase() !== 'aws-chunked');
  // Join back with what separated the kept items; a leading space left by a removed first item goes.
  return kept.join(',').replace(/^\s+/, '').replace(/,\s*$/, '');
}

/** x-amz-meta-* headers (names lower-cased, prefix removed); at most 2 KiB in all, as S3. */
export function userMetadata(ctx: Koa.Context): Record<string, string> {
  return userMetadataFrom(Object.entries(ctx.req.headers));
}

/** The same from (lower-case name, value) pairs (the fields of a POST form). */
export function userMetadataFrom(entries: Iterable<[string, string | string[] | undefined]>): Record<string, string> {
  const out: Record<string, string> = {};
  let size = 0;
  for (const [name, value] of entries) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const v = Array.isArray(value) ? value.join(',') : value;
    const k = name.slice('x-amz-meta-'.length);
    // The name is sent back as a header name: a form field may hold what a header cannot.
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(k)) throw new S3Error('InvalidArgument', 'User-defined metadata names must be valid HTTP header names.', { ArgumentName: name.replace(/[\x00-\x1f]/g, '') });
    out[k] = replayable(name, v);
    size += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (size > USER_META_LIMIT) throw new S3Error('MetadataTooLarge', undefined, { Size: String(size), MaxSizeAllowed: String(USER_META_LIMIT) });
  return out;
}

/**
 * A stored value is sent back as a response header, which holds ISO-8859-1 without control
 * characters. A request header cannot carry anything else (Node's parser refuses it), but a
 * POST form field can: refuse it at upload rather than store an object every GET fails on.
 */
function replayable(name: string, value: string): string {
  if (/[^\t\x20-\x7e\x80-\xff]/.test(value)) {
    throw new S3Error('InvalidArgument', 'Header value cannot be represented using ISO-8859-1.', { ArgumentName: name });
  }
  return value;
}

export function httpDate(ms: number): string {
  // HTTP dates have second precision, and the same objects are described over and over:
  // remember recent conversions by second.
  const second = Math.floor(ms / 1000);
  const slot = second & (HTTP_DATE_CACHE - 1);
  if (httpDateSeconds[slot] === second) return httpDateStrings[slot]!;
  const s = new Date(ms).toUTCString();
  httpDateSeconds[slot] = second;
  httpDateStrings[slot] = s;
  return s;
}

const HTTP_DATE_CACHE = 64;
const httpDateSeconds = new Float64Array(HTTP_DATE_CACHE).fill(NaN);
const httpDateStrings: string[] = new Array<string>(HTTP_DATE_CACHE).fill('');

export interface DescribeOptions {
  /** The bucket has (or had) versioning: S3 then always names the version, 'null' included. */
  versioned: boolean;
  checksumMode: boolean;
  partsCount?: number;
}

/** Headers of GET/HEAD (and the parts of them PUT echoes). */
export function setObjectHeaders(ctx: Koa.Context, v: ObjectVersion, o: DescribeOptions): void {
  ctx.set('ETag', `"${v.etag}"`);
  ctx.set('Last-Modified', httpDate(v.lastModified));
  ctx.set('Accept-Ranges', 'bytes');
  for (const [name, value] of Object.entries(v.headers)) ctx.set(name, value);
  for (const [name, value] of Object.entries(v.userMeta)) ctx.set(`x-amz-meta-${name}`, value);
  if (o.versioned) ctx.set('x-amz-version-id', v.versionId);
  if (v.tags && Object.keys(v.tags).length > 0) ctx.set('x-amz-tagging-count', String(Object.keys(v.tags).length));
  if (v.storageClass && v.storageClass !== 'STANDARD') ctx.set('x-amz-storage-class', v.storageClass);
  if (o.checksumMode && v.checksum) {
    ctx.set(checksumHeaderName(v.checksum.algorithm), v.checksum.value);
    ctx.set('x-amz-checksum-type', v.checksum.type);
  }
  if (o.partsCount !== undefined) ctx.set('x-amz-mp-parts-count', String(o.partsCount));
}
