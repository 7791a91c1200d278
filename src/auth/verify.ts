// Verifies the SigV4 signature of a request's headers (Authorization header or presigned
// query) and decides how its body must be verified. Every refusal is an S3Error with the
// code and message S3 itself sends, so SDKs react the way they do against AWS (e.g. clock
// skew correction on RequestTimeTooSkewed).

import { S3Error } from '../errors.js';
import {
  ALGORITHM,
  SCOPE_TERMINATOR,
  canonicalRequest,
  credentialScope,
  formatAmzDate,
  formatIsoSeconds,
  parseAmzDate,
  parseHttpDate,
  parseQuery,
  signatureHex,
  signaturesEqual,
  signingKey,
  stringToSign,
  type HeaderMap,
} from './sigv4.js';

export interface Credentials {
  /** The secret access key of an access key id, or undefined when the key is unknown. */
  lookup(accessKeyId: string): string | undefined;
}

export interface AuthRequest {
  method: string;
  /** The path exactly as in the request line, before '?', still percent-encoded. */
  rawPath: string;
  /** The query exactly as in the request line, after '?', without the '?'. */
  rawQuery: string;
  /** Lower-case header names, as node gives them. */
  headers: HeaderMap;
}

/** How the request body must be verified; chosen by x-amz-content-sha256. */
export type PayloadMode =
  | { kind: 'sha256'; hex: string }
  | { kind: 'unsigned' }
  | {
      kind: 'streaming-signed';
      seedSignature: string;
      signingKey: Buffer;
      scope: string;
      amzDate: string;
      trailer: boolean;
    }
  | { kind: 'streaming-unsigned-trailer' };

export interface AuthResult {
  accessKeyId: string;
  payload: PayloadMode;
  /** x-amz-decoded-content-length, when the client sent it (aws-chunked bodies). */
  decodedContentLength?: number;
  /** True for a presigned URL (query authentication). */
  presigned: boolean;
  /** True for a request that carries no signature at all (public access; policies decide). */
  anonymous?: true;
}

/** What an unsigned request is: nobody, and a body nobody vouches for. */
export const ANONYMOUS: AuthResult = Object.freeze({ accessKeyId: '', payload: { kind: 'unsigned' }, presigned: false, anonymous: true }) as AuthResult;

export interface VerifyOptions {
  region: string;
  now: () => number;
  service?: 's3';
  /** Accept a credential scope of any region (the admin API: its CLI cannot know the region). */
  anyRegion?: boolean;
}

export const MAX_SKEW_MS = 15 * 60 * 1000;
export const MAX_PRESIGNED_EXPIRES_S = 604800;

const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';

const MAY_HOLD_AUTH_PARAM = /X-Amz-|AWSAccessKeyId|Signature/;

export function verifyRequest(req: AuthRequest, creds: Credentials, opts: VerifyOptions): AuthResult {
  const authorization = headerValue(req.headers, 'authorization');
  const query = new Map<string, string>();
  // Only the auth parameters matter here; a query that cannot hold one (no escapes, none of
  // their names) need not be decoded.
  if (req.rawQuery.includes('%') || MAY_HOLD_AUTH_PARAM.test(req.rawQuery)) {
    for (const [name, value] of parseQuery(req.rawQuery)) if (!query.has(name)) query.set(name, value);
  }

  const hasV4Query = query.has('X-Amz-Algorithm') || query.has('X-Amz-Credential') || query.has('X-Amz-Signature');
  const hasV2Query = query.has('AWSAccessKeyId') || (query.has('Signature') && query.has('Expires'));

  if (authorization !== undefined && (hasV4Query || hasV2Query)) {
    throw new S3Error(
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      { ArgumentName: 'Authorization', ArgumentValue: authorization },
    );
  }
  if (authorization !== undefined) return verifyHeaderAuth(req, authorization, creds, opts);
  if (hasV4Query) return verifyPresigned(req, query, creds, opts);
  if (hasV2Query) throw unsupportedMechanism();
  return ANONYMOUS;
}

// ---------------------------------------------------------------------------------------------
// Authorization header

interface ParsedCredential {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  terminator: string;
}

function verifyHeaderAuth(req: AuthRequest, authorization: string, creds: Credentials, opts: VerifyOptions): AuthResult {
  const parsed = parseAuthorizationHeader(authorization);
  const malformed = (detail: string, fields?: Record<string, string>): S3Error =>
    new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${detail}`, fields);

  const contentSha256 = headerValue(req.headers, 'x-amz-content-sha256');
  if (contentSha256 === undefined) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  const payloadHash = contentSha256.trim();
  const payloadKind = classifyPayloadHash(payloadHash);
  if (payloadKind === undefined) throw invalidContentSha256(payloadHash);
  const decodedLength = decodedContentLength(req.headers);

  const { amzDate, requestTime, rawDate } = requestDate(req.headers);
  const cred = parseCredential(parsed.credential, malformed);
  checkScope(cred, amzDate, opts, malformed);

  const secret = lookupSecret(creds, cred.accessKeyId);

  const now = opts.now();
  if (Math.abs(now - requestTime) > MAX_SKEW_MS) {
    throw new S3Error('RequestTimeTooSkewed', undefined, {
      RequestTime: rawDate,
      ServerTime: formatIsoSeconds(now),
      MaxAllowedSkewMilliseconds: String(MAX_SKEW_MS),
    });
  }

  rejectSecurityToken(req.headers, undefined);
  checkAllRequiredHeadersSigned(req.headers, parsed.signedHeaders, false);

  const scope = credentialScope(cred.date, cred.region, cred.service);
  const key = signingKey(secret, cred.date, cred.region, cred.service);
  const canonical = canonicalRequest({
    method: req.method,
    rawPath: req.rawPath,
    rawQuery: req.rawQuery,
    headers: req.headers,
    signedHeaders: parsed.signedHeaders,
    payloadHash,
  });
  const toSign = stringToSign(amzDate, scope, canonical);
  const expected = signatureHex(key, toSign);
  if (!signaturesEqual(parsed.signature, expected)) {
    throw signatureMismatch(cred.accessKeyId, toSign, parsed.signature, canonical);
  }

  return {
    accessKeyId: cred.accessKeyId,
    payload: payloadMode(payloadKind, payloadHash, { seedSignature: expected, signingKey: key, scope, amzDate }),
    decodedContentLength: decodedLength,
    presigned: false,
  };
}

interface ParsedAuthorization {
  credential: string;
  signedHeaders: string[];
  signature: string;
}

function parseAuthorizationHeader(value: string): ParsedAuthorization {
  const trimmed = value.trim();
  if (/^AWS\s/.test(trimmed)) throw unsupportedMechanism();
  if (trimmed.startsWith('AWS4-ECDSA-P256-SHA256')) throw unsupportedMechanism();
  if (!(trimmed.startsWith(ALGORITHM) && /^\s/.test(trimmed.slice(ALGORITHM.length)))) {
    throw new S3Error('InvalidArgument', 'Unsupported Authorization Type', {
      ArgumentName: 'Authorization',
      ArgumentValue: value,
    });
  }
  const components = new Map<string, string>();
  for (const part of trimmed.slice(ALGORITHM.length).split(',')) {
    const item = part.trim();
    const eq = item.indexOf('=');
    if (eq <= 0) {
      throw new S3Error(
        'AuthorizationHeaderMalformed',
        `The authorization header is malformed; the authorization component "${item}" is malformed.`,
      );
    }
    components.set(item.slice(0, eq).trim(), item.slice(eq + 1).trim());
  }
  const credential = components.get('Credential');
  const signedHeaders = components.get('SignedHeaders');
  const signature = components.get('Signature');
  if (!credential || !signedHeaders || !signature) {
    throw new S3Error(
      'AuthorizationHeaderMalformed',
      'The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.',
    );
  }
  return { credential, signedHeaders: parseSignedHeaders(signedHeaders), signature };
}

/** The request timestamp: x-amz-date wins over Date, as in SigV4. */
function requestDate(headers: HeaderMap): { amzDate: string; requestTime: number; rawDate: string } {
  const invalid = (): S3Error => new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  const xAmzDate = headerValue(headers, 'x-amz-date');
  if (xAmzDate !== undefined) {
    const ms = parseAmzDate(xAmzDate.trim());
    if (ms === undefined) throw invalid();
    return { amzDate: xAmzDate.trim(), requestTime: ms, rawDate: xAmzDate };
  }
  const date = headerValue(headers, 'date');
  if (date === undefined) throw invalid();
  const ms = parseHttpDate(date);
  if (ms === undefined) throw invalid();
  // The string to sign always carries the ISO 8601 basic form of the request time.
  return { amzDate: formatAmzDate(ms), requestTime: ms, rawDate: date };
}

// ---------------------------------------------------------------------------------------------
// Presigned query

function verifyPresigned(req: AuthRequest, query: Map<string, string>, creds: Credentials, opts: VerifyOptions): AuthResult {
  const queryError = (message: string, fields?: Record<string, string>): S3Error =>
    new S3Error('AuthorizationQueryParametersError', message, fields);

  const algorithm = query.get('X-Amz-Algorithm');
  const credential = query.get('X-Amz-Credential');
  const signature = query.get('X-Amz-Signature');
  const amzDate = query.get('X-Amz-Date');
  const signedHeadersParam = query.get('X-Amz-SignedHeaders');
  const expiresParam = query.get('X-Amz-Expires');
  if (algorithm === undefined || credential === undefined || signature === undefined || amzDate === undefined ||
      signedHeadersParam === undefined || expiresParam === undefined) {
    throw queryError(
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  if (algorithm !== ALGORITHM) throw queryError(`X-Amz-Algorithm only supports "${ALGORITHM}"`);

  const requestTime = parseAmzDate(amzDate);
  if (requestTime === undefined) throw queryError('X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');

  if (!/^-?\d+$/.test(expiresParam)) throw queryError('X-Amz-Expires should be a number');
  const expires = Number(expiresParam);
  // A negative expiry is a URL that expired before it was made: 403 "Request has expired" below,
  // as S3 answers (never a 400).
  if (expires > MAX_PRESIGNED_EXPIRES_S) {
    throw queryError(`X-Amz-Expires must be less than a week (in seconds) that is; ${MAX_PRESIGNED_EXPIRES_S}`);
  }

  const malformed = (detail: string, fields?: Record<string, string>): S3Error =>
    queryError(`Error parsing the X-Amz-Credential parameter; ${detail}`, fields);
  const cred = parseCredential(credential, malformed);
  checkScope(cred, amzDate, opts, malformed);
  const signedHeaders = parseSignedHeaders(signedHeadersParam, queryError);

  const secret = lookupSecret(creds, cred.accessKeyId);

  const now = opts.now();
  if (requestTime - now > MAX_SKEW_MS) throw new S3Error('AccessDenied', 'Request is not valid yet');
  const expiresAt = requestTime + expires * 1000;
  if (now > expiresAt) {
    throw new S3Error('AccessDenied', 'Request has expired', {
      'X-Amz-Expires': expiresParam,
      Expires: formatIsoSeconds(expiresAt),
      ServerTime: formatIsoSeconds(now),
    });
  }

  rejectSecurityToken(req.headers, query);
  checkAllRequiredHeadersSigned(req.headers, signedHeaders, true);

  // A presigned URL signs no body unless the client also sends (and signs over) a hash.
  const contentSha256 = headerValue(req.headers, 'x-amz-content-sha256');
  const payloadHash = contentSha256 === undefined ? UNSIGNED_PAYLOAD : contentSha256.trim();
  const payloadKind = classifyPayloadHash(payloadHash);
  if (payloadKind !== 'sha256' && payloadKind !== 'unsigned') throw invalidContentSha256(payloadHash);
  const decodedLength = decodedContentLength(req.headers);

  const scope = credentialScope(cred.date, cred.region, cred.service);
  const key = signingKey(secret, cred.date, cred.region, cred.service);
  const canonical = canonicalRequest({
    method: req.method,
    rawPath: req.rawPath,
    rawQuery: req.rawQuery,
    headers: req.headers,
    signedHeaders,
    payloadHash,
    omitQueryParam: 'X-Amz-Signature',
  });
  const toSign = stringToSign(amzDate, scope, canonical);
  const expected = signatureHex(key, toSign);
  if (!signaturesEqual(signature, expected)) throw signatureMismatch(cred.accessKeyId, toSign, signature, canonical);

  return {
    accessKeyId: cred.accessKeyId,
    payload: payloadKind === 'sha256' ? { kind: 'sha256', hex: payloadHash.toLowerCase() } : { kind: 'unsigned' },
    decodedContentLength: decodedLength,
    presigned: true,
  };
}

// ---------------------------------------------------------------------------------------------
// Shared checks

function parseCredential(value: string, malformed: (detail: string) => S3Error): ParsedCredential {
  const parts = value.split('/');
  // Access key ids never contain '/', but the scope is always the last four parts.
  if (parts.length < 5 || parts.slice(0, -4).join('/') === '') {
    throw malformed('the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  }
  const [date, region, service, terminator] = parts.slice(-4);
  return { accessKeyId: parts.slice(0, -4).join('/'), date, region, service, terminator };
}

function checkScope(
  cred: ParsedCredential,
  amzDate: string,
  opts: VerifyOptions,
  malformed: (detail: string, fields?: Record<string, string>) => S3Error,
): void {
  const service = opts.service ?? 's3';
  if (!/^\d{8}$/.test(cred.date) || cred.date !== amzDate.slice(0, 8)) {
    throw malformed(`Invalid credential date "${cred.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`);
  }
  if (cred.region !== opts.region && !opts.anyRegion) {
    throw malformed(`the region '${cred.region}' is wrong; expecting '${opts.region}'`, { Region: opts.region });
  }
  if (cred.service !== service) {
    throw malformed(`incorrect service "${cred.service}". This endpoint belongs to "${service}".`);
  }
  if (cred.terminator !== SCOPE_TERMINATOR) {
    throw malformed(`incorrect terminal "${cred.terminator}". This endpoint uses "${SCOPE_TERMINATOR}".`);
  }
}

function parseSignedHeaders(value: string, onError?: (message: string) => S3Error): string[] {
  const names = value.split(';').map((n) => n.trim().toLowerCase());
  if (names.some((n) => n === '')) {
    const message = `SignedHeaders "${value}" is malformed.`;
    throw onError ? onError(message) : new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${message}`);
  }
  return names;
}

function lookupSecret(creds: Credentials, accessKeyId: string): string {
  const secret = creds.lookup(accessKeyId);
  if (secret === undefined) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId });
  return secret;
}

/**
 * S3 requires the Host header and every x-amz-* header present to be signed; otherwise a
 * holder of a presigned URL (or a proxy) could add e.g. x-amz-acl or retarget a virtual-host
 * bucket. For presigned URLs x-amz-content-sha256 is exempt: it is the payload hash, which
 * the signature covers anyway.
 */
function checkAllRequiredHeadersSigned(headers: HeaderMap, signedHeaders: readonly string[], presigned: boolean): void {
  const signed = new Set(signedHeaders);
  const missing: string[] = [];
  for (const name of Object.keys(headers)) {
    if (headers[name] === undefined) continue;
    const lower = name.toLowerCase();
    const required = lower === 'host' || lower.startsWith('x-amz-');
    if (!required || signed.has(lower)) continue;
    if (presigned && lower === 'x-amz-content-sha256') continue;
    missing.push(lower);
  }
  if (missing.length > 0) {
    throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', {
      HeadersNotSigned: missing.sort().join(', '),
    });
  }
}

/** Temporary credentials (STS session tokens) are not supported: there is no token issuer. */
function rejectSecurityToken(headers: HeaderMap, query: Map<string, string> | undefined): void {
  if (headerValue(headers, 'x-amz-security-token') !== undefined || query?.has('X-Amz-Security-Token')) {
    throw new S3Error('InvalidToken', 'The provided token is malformed or otherwise invalid.');
  }
}

type PayloadKind = 'sha256' | 'unsigned' | 'streaming-signed' | 'streaming-signed-trailer' | 'streaming-unsigned-trailer';

function classifyPayloadHash(value: string): PayloadKind | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(value)) return 'sha256';
  switch (value) {
    case UNSIGNED_PAYLOAD: return 'unsigned';
    case STREAMING_SIGNED: return 'streaming-signed';
    case STREAMING_SIGNED_TRAILER: return 'streaming-signed-trailer';
    case STREAMING_UNSIGNED_TRAILER: return 'streaming-unsigned-trailer';
    default: return undefined;
  }
}

function payloadMode(
  kind: PayloadKind,
  payloadHash: string,
  ctx: { seedSignature: string; signingKey: Buffer; scope: string; amzDate: string },
): PayloadMode {
  switch (kind) {
    case 'sha256': return { kind: 'sha256', hex: payloadHash.toLowerCase() };
    case 'unsigned': return { kind: 'unsigned' };
    case 'streaming-signed': return { kind: 'streaming-signed', ...ctx, trailer: false };
    case 'streaming-signed-trailer': return { kind: 'streaming-signed', ...ctx, trailer: true };
    case 'streaming-unsigned-trailer': return { kind: 'streaming-unsigned-trailer' };
  }
}

function decodedContentLength(headers: HeaderMap): number | undefined {
  const value = headerValue(headers, 'x-amz-decoded-content-length');
  if (value === undefined) return undefined;
  const n = Number(value.trim());
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new S3Error('InvalidArgument', 'x-amz-decoded-content-length must be a non-negative integer', {
      ArgumentName: 'x-amz-decoded-content-length',
      ArgumentValue: value,
    });
  }
  return n;
}

function invalidContentSha256(value: string): S3Error {
  return new S3Error(
    'InvalidArgument',
    'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value.',
    { ArgumentName: 'x-amz-content-sha256', ArgumentValue: value },
  );
}

function unsupportedMechanism(): S3Error {
  return new S3Error(
    'InvalidRequest',
    'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
  );
}

/** Space-separated hex bytes, as S3 prints StringToSignBytes and CanonicalRequestBytes. */
export function spacedHexBytes(s: string): string {
  return Array.from(Buffer.from(s, 'utf8'), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

function signatureMismatch(accessKeyId: string, toSign: string, provided: string, canonical: string): S3Error {
  return new S3Error('SignatureDoesNotMatch', undefined, {
    AWSAccessKeyId: accessKeyId,
    StringToSign: toSign,
    SignatureProvided: provided,
    StringToSignBytes: spacedHexBytes(toSign),
    CanonicalRequest: canonical,
    CanonicalRequestBytes: spacedHexBytes(canonical),
  });
}

/** A single header value; node joins most repeated headers itself, arrays are joined here. */
export function headerValue(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : v;
}
