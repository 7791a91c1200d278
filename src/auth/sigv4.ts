// AWS Signature Version 4 building blocks, exactly as S3 computes them: canonical request,
// string to sign, signing key, and the chunk/trailer strings of streaming uploads.
// Pure functions only; policy (which errors, which clock) lives in verify.ts and payload.ts.

import crypto, { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const SCOPE_TERMINATOR = 'aws4_request';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

// One-shot hashing (crypto.hash, Node ≥ 20.12) is about twice as fast as a Hash object for
// the short strings SigV4 hashes on every request.
const oneShotHash = (crypto as { hash?: (alg: string, data: string | Buffer, enc: 'hex') => string }).hash;

export function sha256Hex(data: string | Buffer): string {
  if (oneShotHash) return oneShotHash('sha256', data, 'hex');
  return createHash('sha256').update(data).digest('hex');
}

export function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

// ---------------------------------------------------------------------------------------------
// URI encoding

const HEX = '0123456789ABCDEF';

function isUnreserved(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) ||
    b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e; // - . _ ~
}

/** RFC 3986 percent-encoding of bytes, uppercase hex, as SigV4 UriEncode() defines it. */
export function uriEncodeBytes(bytes: Uint8Array, encodeSlash: boolean): string {
  let out = '';
  for (const b of bytes) {
    if (isUnreserved(b) || (b === 0x2f && !encodeSlash)) out += String.fromCharCode(b);
    else out += '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

export function uriEncode(s: string, encodeSlash: boolean): string {
  return uriEncodeBytes(Buffer.from(s, 'utf8'), encodeSlash);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Percent-decodes to raw bytes. Lenient on purpose: a '%' that does not start a valid escape
 * stays a literal '%', and decoded bytes need not be UTF-8. Decoding to bytes (not to a JS
 * string) makes decode-then-encode an exact round trip for whatever the client sent.
 */
export function percentDecodeBytes(s: string, plusIsSpace: boolean): Buffer {
  const src = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === 0x25 && i + 2 < src.length) {
      const hi = hexValue(src[i + 1]);
      const lo = hexValue(src[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out[n++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
    }
    out[n++] = plusIsSpace && c === 0x2b ? 0x20 : c;
  }
  return out.subarray(0, n);
}

/**
 * Canonical URI for S3: the path as sent, segment by segment decoded and re-encoded once.
 * S3 does not normalise paths ('.', '..' and '//' are part of the key), and an encoded
 * slash (%2F) inside a segment stays encoded. Re-encoding after decoding is what makes
 * '/test$file.text' and '/test%24file.text' both canonicalise to '/test%24file.text'.
 */
export function canonicalUri(rawPath: string): string {
  if (rawPath === '') return '/';
  // Unreserved characters and '/' only: decoding and re-encoding would give it back unchanged.
  if (isCanonicalPlain(rawPath, true)) return rawPath;
  return rawPath
    .split('/')
    .map((segment) => uriEncodeBytes(percentDecodeBytes(segment, false), true))
    .join('/');
}

/**
 * True when `s` is already in canonical (UriEncode) form: unreserved characters, '/' where
 * allowed, and %XX escapes (upper-case hex) of bytes that UriEncode would escape too.
 */
function isCanonicalPlain(s: string, slashAllowed: boolean): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80 && isUnreserved(c)) continue;
    if (c === 0x2f && slashAllowed) continue;
    if (c === 0x25 && i + 2 < s.length) {
      const hi = s.charCodeAt(i + 1);
      const lo = s.charCodeAt(i + 2);
      const upperHex = (x: number) => (x >= 0x30 && x <= 0x39) || (x >= 0x41 && x <= 0x46);
      if (upperHex(hi) && upperHex(lo)) {
        const b = (hexValue(hi) << 4) | hexValue(lo);
        // An escaped unreserved byte would come back unescaped (an escaped '/' stays %2F:
        // path segments and query parts are encoded with encodeSlash).
        if (!isUnreserved(b)) {
          i += 2;
          continue;
        }
      }
    }
    return false;
  }
  return true;
}

/** Splits a raw query string into decoded [name, value] pairs, in order. '+' means space. */
export function parseQuery(rawQuery: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  if (rawQuery === '') return pairs;
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    pairs.push([percentDecodeBytes(name, true).toString('utf8'), percentDecodeBytes(value, true).toString('utf8')]);
  }
  return pairs;
}

/**
 * Canonical query string: every parameter decoded and re-encoded, sorted by encoded name
 * then encoded value; a parameter without '=' gets an empty value. `omit` drops a parameter
 * by its decoded name (X-Amz-Signature for presigned URLs).
 */
export function canonicalQueryString(rawQuery: string, omit?: string): string {
  const encoded: Array<[string, string]> = [];
  if (rawQuery !== '') {
    for (const part of rawQuery.split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const rawName = eq < 0 ? part : part.slice(0, eq);
      const rawValue = eq < 0 ? '' : part.slice(eq + 1);
      const plainName = isCanonicalPlain(rawName, false);
      const nameBytes = plainName && omit === undefined ? undefined : percentDecodeBytes(rawName, true);
      if (omit !== undefined && nameBytes!.toString('utf8') === omit) continue;
      encoded.push([
        plainName ? rawName : uriEncodeBytes(nameBytes!, true),
        isCanonicalPlain(rawValue, false) ? rawValue : uriEncodeBytes(percentDecodeBytes(rawValue, true), true),
      ]);
    }
  }
  // Encoded strings are ASCII, so UTF-16 comparison is byte order.
  encoded.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return encoded.map(([k, v]) => `${k}=${v}`).join('&');
}

// ---------------------------------------------------------------------------------------------
// Headers

export type HeaderMap = Record<string, string | string[] | undefined>;

/** Trimmed value with inner runs of whitespace collapsed; repeated headers joined by ','. */
export function canonicalHeaderValue(value: string | string[] | undefined): string {
  if (typeof value === 'string') return canonicalOne(value);
  const values = value === undefined ? [] : value;
  return values.map(canonicalOne).join(',');
}

/** Whitespace that collapsing would change: a run of two, or any whitespace but ' '. */
const COLLAPSIBLE = /\s\s|[^\S ]/;

function canonicalOne(v: string): string {
  const t = v.trim();
  return COLLAPSIBLE.test(t) ? t.replace(/\s+/g, ' ') : t;
}

/** "name:value\n" for each signed header, in the order given (SignedHeaders is sorted). */
export function canonicalHeaders(headers: HeaderMap, signedHeaders: readonly string[]): string {
  return signedHeaders.map((name) => `${name}:${canonicalHeaderValue(headers[name])}\n`).join('');
}

// ---------------------------------------------------------------------------------------------
// Canonical request, string to sign, signature

export interface CanonicalRequestParts {
  method: string;
  rawPath: string;
  rawQuery: string;
  headers: HeaderMap;
  signedHeaders: readonly string[];
  payloadHash: string;
  /** Query parameter left out of the canonical query (X-Amz-Signature when presigned). */
  omitQueryParam?: string;
}

export function canonicalRequest(p: CanonicalRequestParts): string {
  return [
    p.method.toUpperCase(),
    canonicalUri(p.rawPath),
    canonicalQueryString(p.rawQuery, p.omitQueryParam),
    canonicalHeaders(p.headers, p.signedHeaders),
    p.signedHeaders.join(';'),
    p.payloadHash,
  ].join('\n');
}

/** "20130524/us-east-1/s3/aws4_request" */
export function credentialScope(date: string, region: string, service: string): string {
  return `${date}/${region}/${service}/${SCOPE_TERMINATOR}`;
}

export function stringToSign(amzDate: string, scope: string, canonicalRequestText: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequestText)}`;
}

/** String to sign for one aws-chunked chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD). */
export function chunkStringToSign(amzDate: string, scope: string, previousSignature: string, chunkSha256Hex: string): string {
  return `${ALGORITHM}-PAYLOAD\n${amzDate}\n${scope}\n${previousSignature}\n${EMPTY_SHA256}\n${chunkSha256Hex}`;
}

/** String to sign for the trailer of a signed aws-chunked body; `canonicalTrailer` is "name:value\n"… */
export function trailerStringToSign(amzDate: string, scope: string, previousSignature: string, canonicalTrailer: string): string {
  return `${ALGORITHM}-TRAILER\n${amzDate}\n${scope}\n${previousSignature}\n${sha256Hex(canonicalTrailer)}`;
}

// Deriving a signing key costs four HMACs; every request of a client within a day shares
// one, so keep a small cache. It is keyed by the secret itself so a rotated secret never
// reuses a stale key; it is bounded so it cannot grow without limit.
const SIGNING_KEY_CACHE_MAX = 1024;
const signingKeyCache = new Map<string, Buffer>();

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const cacheKey = `${date}\0${region}\0${service}\0${secret}`;
  const cached = signingKeyCache.get(cacheKey);
  if (cached) return cached;
  const kDate = hmac(`AWS4${secret}`, date);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  const key = hmac(kService, SCOPE_TERMINATOR);
  if (signingKeyCache.size >= SIGNING_KEY_CACHE_MAX) signingKeyCache.clear();
  signingKeyCache.set(cacheKey, key);
  return key;
}

export function signatureHex(key: Buffer, stringToSignText: string): string {
  return hmac(key, stringToSignText).toString('hex');
}

/** Constant-time comparison of a provided signature with the computed one. */
export function signaturesEqual(provided: string, computed: string): boolean {
  const a = Buffer.from(provided, 'utf8');
  const b = Buffer.from(computed, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

// ---------------------------------------------------------------------------------------------
// Dates

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** '20130524T000000Z' → ms since epoch, or undefined if not a valid ISO 8601 basic timestamp. */
export function parseAmzDate(s: string): number | undefined {
  // Requests arriving in the same second carry the same timestamp.
  if (s === lastAmzDate) return lastAmzMs;
  const ms = parseAmzDateUncached(s);
  lastAmzDate = s;
  lastAmzMs = ms;
  return ms;
}

let lastAmzDate: string | undefined;
let lastAmzMs: number | undefined;

function parseAmzDateUncached(s: string): number | undefined {
  const m = AMZ_DATE.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number);
  const ms = Date.UTC(y, mo - 1, d, h, mi, se);
  const check = new Date(ms);
  // Reject rollovers such as 20130231 that Date.UTC would silently accept.
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) return undefined;
  return ms;
}

/** ms since epoch → '20130524T000000Z' */
export function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** ms since epoch → '2013-05-24T00:00:00Z', the form S3 puts in error bodies. */
export function formatIsoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** An HTTP Date header (RFC 7231 IMF-fixdate, or the obsolete forms Date.parse knows). */
export function parseHttpDate(s: string): number | undefined {
  if (!/GMT$|UTC$|[+-]\d{4}$/.test(s.trim())) return undefined;
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? undefined : ms;
}
