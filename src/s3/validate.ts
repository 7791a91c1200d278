// The one place where every name a request carries is checked before anything reaches the
// object or metadata layer: the bucket (path or virtual host), the key, every query parameter
// (prefix, delimiter, markers, tokens, upload and version ids, part numbers), the copy source,
// and the declared body length. The metadata layer refuses a NUL or a lone surrogate in any
// key part with a plain Error (a 500 to the client); checking here, once, turns each of those
// into the S3 error a client can act on, and nothing is stored or changed.
//
// Codes follow S3 where it documents them: InvalidURI for a URI that is not valid UTF-8
// once percent-decoded, InvalidBucketName, KeyTooLongError, NoSuchUpload for an upload id
// that cannot name an upload, InvalidArgument "Invalid version id specified" for a malformed
// version id, EntityTooLarge beyond 5 TiB. Where S3 does not say (a NUL in a prefix or a
// marker), the closest documented one: InvalidArgument naming the parameter. A prefix or
// marker longer than any key is not an error (it matches nothing, as in S3); the header size
// limit bounds it.

import { S3Error } from '../errors.js';
import { isWellFormedUploadId, isWellFormedVersionId } from '../object/ids.js';
import { MAX_OBJECT_SIZE_TOTAL } from '../object/multipart.js';
import { percentDecodeBytes } from '../auth/sigv4.js';
import type { Target } from '../http/routing.js';
import { validateKey } from './names.js';

/** S3's largest object (5 TiB); a single PUT or part is further limited to 5 GiB by its handler. */
const MAX_OBJECT_SIZE = MAX_OBJECT_SIZE_TOTAL;

/** Continuation tokens are base64url of a key (at most 1024 bytes), so at most 1366 characters. */
const MAX_TOKEN_CHARS = 1400;


const utf8 = new TextDecoder('utf-8', { fatal: true });

function invalidUri(): S3Error {
  return new S3Error('InvalidURI', "Couldn't parse the specified URI.");
}

function invalidArgument(name: string, message: string, value?: string): S3Error {
  const fields: Record<string, string> = { ArgumentName: name };
  // A value with a NUL or other control character cannot be shown in XML 1.0: leave it out.
  if (value !== undefined && !/[\x00-\x08\x0b\x0c\x0e-\x1f]/.test(value) && value.length <= 1024) fields.ArgumentValue = value;
  return new S3Error('InvalidArgument', message, fields);
}

/** Decodes percent-escaped text as strict UTF-8 (undefined when it is not). '+' is a space in queries. */
export function decodeStrict(raw: string, plusIsSpace: boolean): string | undefined {
  // Plain ASCII without escapes decodes to itself (the usual case: no allocation).
  if (!/[%+\u0080-\uffff]/.test(raw)) return raw;
  try {
    return utf8.decode(percentDecodeBytes(raw, plusIsSpace));
  } catch {
    return undefined;
  }
}

/**
 * A bucket named in a request that does not create it. New buckets follow S3's current rules
 * (names.ts, on CreateBucket); here it is enough that the name could be some bucket at all:
 * S3's legacy rules (up to 255 letters, digits, '.', '-', '_'). Anything else — a NUL, a '/',
 * an empty name as in "GET //x" — is InvalidBucketName, never a lookup.
 */
export function validateBucketReference(name: string): void {
  if (!/^[A-Za-z0-9._-]{1,255}$/.test(name)) {
    const fields: Record<string, string> = {};
    if (!/[\x00-\x1f]/.test(name) && name.length <= 255) fields.BucketName = name;
    throw new S3Error('InvalidBucketName', 'The specified bucket is not valid.', fields);
  }
}

/** Every query parameter: strict UTF-8, no NUL; the ones that name things, their own rules. */
export function validateQuery(rawQuery: string, objectLevel: boolean): void {
  if (rawQuery === '') return;
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decodeStrict(eq < 0 ? part : part.slice(0, eq), true);
    const value = eq < 0 ? '' : decodeStrict(part.slice(eq + 1), true);
    if (name === undefined || value === undefined) throw invalidUri();
    validateParam(name, value, objectLevel);
  }
}

function validateParam(name: string, value: string, objectLevel: boolean): void {
  if (name.includes('\0')) throw invalidArgument(name.replace(/\0/g, ''), 'A query parameter name cannot contain a NUL character.');
  if (name === 'uploadId' && objectLevel) {
    // S3 answers an upload id that cannot exist the way it answers one that no longer does.
    if (!isWellFormedUploadId(value)) throw new S3Error('NoSuchUpload', undefined, safeField('UploadId', value));
    return;
  }
  if (name === 'versionId' && objectLevel) {
    if (value === '') throw invalidArgument('versionId', 'Version id cannot be the empty string', value);
    if (!isWellFormedVersionId(value)) throw invalidArgument('versionId', 'Invalid version id specified', value);
    return;
  }
  if (name === 'version-id-marker' && value !== '' && !isWellFormedVersionId(value)) {
    throw invalidArgument(name, 'Invalid version id specified', value);
  }
  if (value.includes('\0')) throw invalidArgument(name, `The ${name} parameter cannot contain a NUL character.`);
  if (name === 'upload-id-marker' && value !== '' && !isWellFormedUploadId(value)) {
    throw invalidArgument(name, 'Invalid upload id marker specified', value);
  }
  if (name === 'continuation-token' && value.length > MAX_TOKEN_CHARS) {
    throw invalidArgument(name, 'The continuation token provided is incorrect');
  }
}

function safeField(name: string, value: string): Record<string, string> {
  return /[\x00-\x1f]/.test(value) || value.length > 1024 ? {} : { [name]: value };
}

/** A declared body length beyond the largest object S3 stores is refused before any byte is read. */
export function validateDeclaredLength(headers: Record<string, string | string[] | undefined>): void {
  for (const h of ['content-length', 'x-amz-decoded-content-length']) {
    const v = headers[h];
    if (typeof v !== 'string' || !/^\d+$/.test(v)) continue;
    // Compare as text first: a number past 2^53 would lose its digits.
    if (v.length > 16 || Number(v) > MAX_OBJECT_SIZE) {
      throw new S3Error('EntityTooLarge', undefined, { ProposedSize: v, MaxSizeAllowed: String(MAX_OBJECT_SIZE) });
    }
  }
}

/** Everything in one call, from the edge of the app, after the signature check. */
export function validateTarget(t: Target, headers: Record<string, string | string[] | undefined>): void {
  if (t.bucket !== undefined) validateBucketReference(t.bucket);
  if (t.key !== undefined) validateKey(t.key);
  validateQuery(t.rawQuery, t.key !== undefined);
  validateDeclaredLength(headers);
  const copySource = headers['x-amz-copy-source'];
  if (typeof copySource === 'string' && t.key !== undefined) parseCopySource(copySource);
}

export interface CopySource {
  bucket: string;
  key: string;
  versionId?: string;
}

/**
 * x-amz-copy-source: "bucket/key" or "/bucket/key", URL-encoded, optional "?versionId=". The
 * header arrives as bytes (Node gives them as latin1): they must be UTF-8 once decoded, the
 * bucket a possible bucket name, the key a possible key, the version id one of ours.
 */
export function parseCopySource(raw: string): CopySource {
  const bad = (message: string) => invalidArgument('x-amz-copy-source', message, raw);
  // Raw bytes beyond ASCII (a client that did not URL-encode) are taken as the UTF-8 they should be.
  const text = /[\u0080-\u00ff]/.test(raw) ? decodeBytes(Buffer.from(raw, 'latin1')) : raw;
  if (text === undefined) throw bad('Invalid copy source encoding');
  let s = text.trim();
  let versionId: string | undefined;
  const qi = s.indexOf('?');
  if (qi >= 0) {
    const query = s.slice(qi + 1);
    s = s.slice(0, qi);
    for (const part of query.split('&')) {
      const eq = part.indexOf('=');
      const name = decodeStrict(eq < 0 ? part : part.slice(0, eq), true);
      const value = eq < 0 ? '' : decodeStrict(part.slice(eq + 1), true);
      if (name === undefined || value === undefined) throw bad('Invalid copy source encoding');
      if (name === 'versionId' && versionId === undefined) versionId = value;
    }
    if (versionId !== undefined && !isWellFormedVersionId(versionId)) throw invalidArgument('versionId', 'Invalid version id specified', versionId);
  }
  const decoded = decodeStrict(s, false);
  if (decoded === undefined) throw bad('Invalid copy source encoding');
  const path = decoded.startsWith('/') ? decoded.slice(1) : decoded;
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) throw bad('Copy Source must mention the source bucket and key: sourcebucket/sourcekey');
  const bucket = path.slice(0, slash);
  const key = path.slice(slash + 1);
  if (!/^[A-Za-z0-9._-]{1,255}$/.test(bucket)) throw bad('Invalid copy source bucket name');
  validateKey(key);
  return versionId === undefined ? { bucket, key } : { bucket, key, versionId };
}

function decodeBytes(b: Buffer): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}
