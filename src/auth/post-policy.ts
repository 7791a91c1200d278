// The POST policy of a browser-based upload (AWS Signature Version 4): who signed the form
// (x-amz-credential, x-amz-signature over the base64 policy text), the policy document itself
// (expiration and conditions), and the check of the form's fields against it. Errors are the
// ones S3 sends: AccessDenied "Invalid according to Policy: …" for a form the policy does not
// allow, InvalidPolicyDocument "Invalid Policy: …" for a policy that cannot be read.

import { S3Error } from '../errors.js';
import { ALGORITHM, SCOPE_TERMINATOR, hmac, parseAmzDate, signaturesEqual, signingKey } from './sigv4.js';
import type { Credentials } from './verify.js';

/** eq / starts-with on a form field (lower-case name, no '$'), or the file's size range. */
export type PolicyCondition =
  | { kind: 'match'; op: 'eq' | 'starts-with'; field: string; value: string; text: string }
  | { kind: 'length'; min: number; max: number };

export interface PostPolicy {
  expiration: number;
  conditions: PolicyCondition[];
}

/** Form fields as the reader gives them: lower-case names. */
export type FormFields = ReadonlyMap<string, string>;

function invalidPolicy(detail: string): S3Error {
  return new S3Error('InvalidPolicyDocument', `Invalid Policy: ${detail}`);
}

function denied(detail: string): S3Error {
  return new S3Error('AccessDenied', `Invalid according to Policy: ${detail}`);
}

/** S3's answer to a form without a field it needs (they must come before the file). */
export function missingField(name: string): S3Error {
  return new S3Error('InvalidArgument', `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`, {
    ArgumentName: name,
    ArgumentValue: '',
  });
}

// ---------------------------------------------------------------------------------------------
// Signature

export interface SignedForm {
  accessKeyId: string;
  /** The policy text exactly as the form carried it (what was signed). */
  policyText: string;
}

/** The SigV4 signature of a POST policy: hex HMAC-SHA256 of the base64 text with the signing key. */
export function postPolicySignature(secret: string, date: string, region: string, policyText: string): string {
  return hmac(signingKey(secret, date, region, 's3'), policyText).toString('hex');
}

/**
 * Checks the x-amz-* fields of a form that carries a policy and the signature over it.
 * Throws InvalidAccessKeyId for an unknown key, SignatureDoesNotMatch for a wrong signature.
 */
export function verifyPostSignature(fields: FormFields, creds: Credentials, region: string): SignedForm {
  const policyText = fields.get('policy')!;
  if (fields.has('x-amz-security-token')) throw new S3Error('InvalidToken', 'The provided token is malformed or otherwise invalid.');
  if (!fields.has('x-amz-algorithm') && (fields.has('awsaccesskeyid') || fields.has('signature'))) {
    throw new S3Error('InvalidRequest', `The authorization mechanism you have provided is not supported. Please use ${ALGORITHM}.`);
  }
  const algorithm = required(fields, 'x-amz-algorithm');
  if (algorithm !== ALGORITHM) throw new S3Error('InvalidRequest', `The authorization mechanism you have provided is not supported. Please use ${ALGORITHM}.`);
  const credential = required(fields, 'x-amz-credential');
  const amzDate = required(fields, 'x-amz-date');
  const signature = required(fields, 'x-amz-signature');
  if (parseAmzDate(amzDate) === undefined) {
    throw new S3Error('InvalidArgument', 'X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"', { ArgumentName: 'x-amz-date', ArgumentValue: amzDate });
  }
  const scope = parseScope(credential, region);
  const secret = creds.lookup(scope.accessKeyId);
  if (secret === undefined) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: scope.accessKeyId });
  const expected = postPolicySignature(secret, scope.date, region, policyText);
  if (!signaturesEqual(signature.trim().toLowerCase(), expected)) {
    throw new S3Error('SignatureDoesNotMatch', undefined, { AWSAccessKeyId: scope.accessKeyId, StringToSign: policyText, SignatureProvided: signature });
  }
  return { accessKeyId: scope.accessKeyId, policyText };
}

function required(fields: FormFields, name: string): string {
  const v = fields.get(name);
  if (v === undefined) throw missingField(name);
  return v;
}

/** "AKID/YYYYMMDD/region/s3/aws4_request" for this server's region. */
function parseScope(credential: string, region: string): { accessKeyId: string; date: string } {
  const bad = (detail: string) =>
    new S3Error('InvalidArgument', `Error parsing the X-Amz-Credential parameter; ${detail}`, { ArgumentName: 'x-amz-credential', ArgumentValue: credential });
  const parts = credential.split('/');
  if (parts.length < 5 || parts.slice(0, -4).join('/') === '') {
    throw bad('the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  }
  const [date, credRegion, service, terminator] = parts.slice(-4);
  if (!/^\d{8}$/.test(date)) throw bad(`incorrect date format "${date}". This date in the credential must be in the format "yyyyMMdd".`);
  if (credRegion !== region) throw bad(`the region '${credRegion}' is wrong; expecting '${region}'`);
  if (service !== 's3') throw bad(`incorrect service "${service}". This endpoint belongs to "s3".`);
  if (terminator !== SCOPE_TERMINATOR) throw bad(`incorrect terminal "${terminator}". This endpoint uses "${SCOPE_TERMINATOR}".`);
  return { accessKeyId: parts.slice(0, -4).join('/'), date };
}

// ---------------------------------------------------------------------------------------------
// The policy document

/** Base64 of a JSON document with "expiration" and "conditions". */
export function decodePostPolicy(policyText: string): PostPolicy {
  const compact = policyText.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) throw invalidPolicy('Invalid Simple-Base64 value.');
  let doc: unknown;
  try {
    doc = JSON.parse(dropTrailingCommas(Buffer.from(compact, 'base64').toString('utf8')));
  } catch {
    throw invalidPolicy('Invalid JSON.');
  }
  if (!isRecord(doc)) throw invalidPolicy('Invalid JSON.');
  if (doc.expiration === undefined) throw invalidPolicy('Policy missing expiration.');
  if (doc.conditions === undefined) throw invalidPolicy('Policy missing conditions.');
  const expiration = parseExpiration(doc.expiration);
  if (!Array.isArray(doc.conditions)) throw invalidPolicy("Invalid 'conditions' value: must be an array.");
  return { expiration, conditions: doc.conditions.map(parseCondition) };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * S3 reads a policy with a comma before a closing bracket (its own documentation's example
 * has one); JSON.parse does not. Drops such commas, leaving strings alone.
 */
function dropTrailingCommas(json: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (inString) {
      if (c === '\\') {
        out += c + (json[i + 1] ?? '');
        i++;
        continue;
      }
      if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === ',' && /^\s*[\]}]/.test(json.slice(i + 1, i + 64))) {
      continue;
    }
    out += c;
  }
  return out;
}

/** ISO 8601 in UTC, as the SDKs write it: 2013-08-01T12:00:00.000Z (milliseconds optional). */
function parseExpiration(v: unknown): number {
  const bad = () => invalidPolicy(`Invalid 'expiration' value: '${typeof v === 'string' ? v : JSON.stringify(v)}'`);
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/.test(v)) throw bad();
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw bad();
  return ms;
}

function parseCondition(c: unknown): PolicyCondition {
  if (isRecord(c)) return parseSimpleCondition(c);
  if (!Array.isArray(c) || c.length !== 3 || typeof c[0] !== 'string') throw invalidCondition(c);
  const op = c[0].toLowerCase();
  if (op === 'content-length-range') return { kind: 'length', min: sizeBound(c[1], c), max: sizeBound(c[2], c) };
  if ((op !== 'eq' && op !== 'starts-with') || typeof c[1] !== 'string' || !c[1].startsWith('$') || typeof c[2] !== 'string') {
    throw invalidCondition(c);
  }
  return match(op, c[1].slice(1), c[2]);
}

/** {"bucket": "johnsmith"} is ["eq", "$bucket", "johnsmith"]. */
function parseSimpleCondition(c: Record<string, unknown>): PolicyCondition {
  const keys = Object.keys(c);
  if (keys.length !== 1) throw invalidPolicy('Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.');
  const value = c[keys[0]];
  if (typeof value !== 'string') throw invalidPolicy(`Invalid Simple-Condition: the value of '${keys[0]}' must be a string.`);
  return match('eq', keys[0], value);
}

function match(op: 'eq' | 'starts-with', field: string, value: string): PolicyCondition {
  // Printed as S3 prints a failed condition: the array form, elements separated by ", ".
  const text = `[${[op, `$${field}`, value].map((s) => JSON.stringify(s)).join(', ')}]`;
  return { kind: 'match', op, field: field.toLowerCase(), value, text };
}

/** A bound of content-length-range: a non-negative integer (some signers write it as a string). */
function sizeBound(v: unknown, c: unknown): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw invalidCondition(c);
  return n;
}

function invalidCondition(c: unknown): S3Error {
  return invalidPolicy(`Invalid Condition: ${JSON.stringify(c)}`);
}

// ---------------------------------------------------------------------------------------------
// Checking a form against its policy

/** Fields a policy need not name (S3: the signature and what it signs, the file, x-ignore-*). */
function exempt(name: string): boolean {
  return name === 'policy' || name === 'x-amz-signature' || name === 'file' || name.startsWith('x-ignore-');
}

/**
 * Expiration first, then every eq / starts-with condition (the bucket is the request's; any
 * other field must be in the form), then that every field the form sent is named by one.
 */
export function checkPostPolicy(p: PostPolicy, fields: FormFields, bucket: string, now: number): void {
  if (now > p.expiration) throw denied('Policy expired.');
  const named = new Set<string>();
  for (const c of p.conditions) {
    if (c.kind !== 'match') continue;
    named.add(c.field);
    const actual = c.field === 'bucket' ? bucket : fields.get(c.field);
    if (actual === undefined || !matches(c, actual)) throw denied(`Policy Condition failed: ${c.text}`);
  }
  const extra = [...fields.keys()].filter((name) => !exempt(name) && !named.has(name));
  if (extra.length > 0) throw denied(`Extra input fields: ${extra.join(', ')}`);
}

function matches(c: Extract<PolicyCondition, { kind: 'match' }>, actual: string): boolean {
  if (c.op === 'eq') return actual === c.value;
  // A Content-Type holding a comma-separated list passes only if every entry starts with the prefix.
  if (c.field === 'content-type') return actual.split(',').every((v) => v.trim().startsWith(c.value));
  return actual.startsWith(c.value);
}

/** The size range every content-length-range condition allows (their intersection). */
export function sizeRange(p: PostPolicy): { min: number; max: number } | undefined {
  let range: { min: number; max: number } | undefined;
  for (const c of p.conditions) {
    if (c.kind !== 'length') continue;
    range = range ? { min: Math.max(range.min, c.min), max: Math.min(range.max, c.max) } : { min: c.min, max: c.max };
  }
  return range;
}
