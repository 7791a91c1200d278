// Parsers for the XML bodies clients send. Every failure is an S3Error with the code S3 uses,
// so handlers can let them propagate.
//
// The caller reads the body with a size limit (MAX_XML_BODY); the parsers check it again so a
// caller that forgets cannot feed them an unbounded document.

import xml2js from 'xml2js';
import { S3Error } from '../errors.js';
import { decodeStrict } from './validate.js';
import type { ChecksumAlgorithm, CorsRule, PublicAccessBlock } from '../meta/types.js';

/**
 * The largest XML request body accepted. DeleteObjects is the largest legitimate one: up to
 * 1000 keys of up to 1024 bytes each, plus version ids and markup, which stays under 2 MiB.
 */
export const MAX_XML_BODY = 2 * 1024 * 1024;

/** DeleteObjects accepts at most this many objects, like S3. */
export const MAX_DELETE_OBJECTS = 1000;

export type XmlBody = string | Uint8Array;

// ---------------------------------------------------------------------------------------------
// A small typed view over what xml2js returns

// Keys that cannot be XML element names (names cannot start with '@'), so an element named
// "_" or "$" — both legal XML names — cannot collide with text or attributes.
const TEXT = '@@text';
const ATTRS = '@@attrs';

/**
 * An element as xml2js gives it with our options: a string when it had no attributes and no
 * child elements and its text was empty or only whitespace (xml2js keeps that whitespace only
 * in this form, which matters for a key like " "), otherwise an object with the text under TEXT
 * and each child name mapped to the array of its occurrences.
 */
export type XNode = string | { [name: string]: unknown };

export function malformed(): S3Error {
  return new S3Error('MalformedXML');
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function toText(body: XmlBody): string {
  const size = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.byteLength;
  if (size > MAX_XML_BODY) throw new S3Error('MaxMessageLengthExceeded', 'Your request was too big.');
  if (typeof body === 'string') return body;
  try {
    return decoder.decode(body);
  } catch {
    throw malformed(); // not UTF-8
  }
}

/**
 * Parses a document and returns its root element, after checking the root's name (namespace
 * prefixes are ignored; S3 does not require the namespace either). Returns undefined for an
 * empty (or whitespace-only) body so each operation can decide what an empty body means.
 */
export function parseRoot(body: XmlBody, rootName: string): XNode | undefined {
  const text = toText(body);
  if (text.trim() === '') return undefined;
  // sax does not expand entities declared in a DTD (and never fetches external ones), but no S3
  // request carries a DTD, so refusing them outright removes the question entirely.
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw malformed();
  // Characters outside XML 1.0's Char production (raw control characters such as \x01) make a
  // document not well-formed; sax lets them through, S3 answers MalformedXML.
  if (/[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/.test(text)) throw malformed();
  // The same characters written as references (&#0;, &#x1F;) are not well-formed either.
  if (text.includes('&#') && hasBadCharReference(text)) throw malformed();

  const parser = new xml2js.Parser({
    strict: true,
    async: false,
    explicitRoot: true,
    explicitArray: true,
    explicitCharkey: true,
    charkey: TEXT,
    attrkey: ATTRS,
    trim: false,
    normalize: false,
    normalizeTags: false,
    emptyTag: '',
    tagNameProcessors: [xml2js.processors.stripPrefix],
  });
  // Listen to the events ourselves instead of parseString's callback: xml2js reports the
  // result when the root element closes and would then ignore a second root element (or
  // misroute an error found after it). Counting 'end' events catches the second root.
  let result: unknown;
  let ends = 0;
  let failed = false;
  parser.on('end', (r: unknown) => {
    ends++;
    if (ends === 1) result = r;
  });
  parser.on('error', () => {
    failed = true;
  });
  try {
    parser.parseString(text);
  } catch {
    failed = true;
  }
  if (failed || ends !== 1 || result === null || typeof result !== 'object') throw malformed();
  const names = Object.keys(result);
  if (names.length !== 1 || names[0] !== rootName) throw malformed();
  return (result as Record<string, XNode>)[rootName];
}

/** A numeric character reference to a code point outside XML 1.0's Char production. */
function hasBadCharReference(text: string): boolean {
  for (const m of text.matchAll(/&#(x[0-9a-fA-F]+|[0-9]+);/g)) {
    const ref = m[1]!;
    const digits = ref[0] === 'x' ? ref.slice(1) : ref;
    if (digits.replace(/^0+/, '').length > 8) return true;
    const c = ref[0] === 'x' ? parseInt(digits, 16) : parseInt(digits, 10);
    const ok = c === 0x9 || c === 0xa || c === 0xd || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
    if (!ok) return true;
  }
  return false;
}

export function children(node: XNode, name: string): XNode[] {
  if (typeof node === 'string' || !Object.hasOwn(node, name)) return [];
  const v = node[name];
  return Array.isArray(v) ? (v as XNode[]) : [];
}

/** Text of an element that must hold only text. */
export function leafText(node: XNode): string {
  if (typeof node === 'string') return node;
  for (const k of Object.keys(node)) {
    if (k !== TEXT && k !== ATTRS) throw malformed(); // child elements where text belongs
  }
  const t = node[TEXT];
  return typeof t === 'string' ? t : '';
}

/** The text of the single child `name`, undefined when absent; more than one is malformed. */
export function optionalText(node: XNode, name: string): string | undefined {
  const c = children(node, name);
  if (c.length === 0) return undefined;
  if (c.length > 1) throw malformed();
  return leafText(c[0]!);
}

export function requiredText(node: XNode, name: string): string {
  const t = optionalText(node, name);
  if (t === undefined) throw malformed();
  return t;
}

export function single(node: XNode, name: string): XNode | undefined {
  const c = children(node, name);
  if (c.length > 1) throw malformed();
  return c[0];
}

// ---------------------------------------------------------------------------------------------
// CreateBucket

export interface CreateBucketConfiguration {
  /** As sent (trimmed); may be '' when the element was empty. Absent when not sent. */
  locationConstraint?: string;
}

/** CreateBucket's optional body. An empty body is allowed and means "no configuration". */
export async function parseCreateBucketConfiguration(body: XmlBody): Promise<CreateBucketConfiguration> {
  const root = parseRoot(body, 'CreateBucketConfiguration');
  if (root === undefined) return {};
  const lc = optionalText(root, 'LocationConstraint');
  return lc === undefined ? {} : { locationConstraint: lc.trim() };
}

// ---------------------------------------------------------------------------------------------
// DeleteObjects

export interface DeleteRequest {
  quiet: boolean;
  /** Keys exactly as sent (never trimmed); versionId as sent when present. */
  objects: { key: string; versionId?: string }[];
}

export async function parseDelete(body: XmlBody): Promise<DeleteRequest> {
  const root = parseRoot(body, 'Delete');
  if (root === undefined) throw malformed();
  const quietText = optionalText(root, 'Quiet');
  let quiet = false;
  if (quietText !== undefined) {
    const q = quietText.trim().toLowerCase();
    if (q === 'true') quiet = true;
    else if (q !== 'false') throw malformed(); // xs:boolean also allows 1/0, S3 does not
  }
  const nodes = children(root, 'Object');
  // S3 answers MalformedXML both for an empty list and for more than 1000 entries.
  if (nodes.length === 0 || nodes.length > MAX_DELETE_OBJECTS) throw malformed();
  const objects = nodes.map((n) => {
    const key = requiredText(n, 'Key');
    if (key === '') throw malformed(); // the schema's ObjectKey has a minimum length of 1
    const versionId = optionalText(n, 'VersionId');
    return versionId === undefined ? { key } : { key, versionId };
  });
  return { quiet, objects };
}

// ---------------------------------------------------------------------------------------------
// CompleteMultipartUpload

const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];

export interface CompletePart {
  partNumber: number;
  /** Without the surrounding quotes. */
  etag: string;
  /** Checksums the client listed for the part (base64, as sent). */
  checksums?: Partial<Record<ChecksumAlgorithm, string>>;
}

/**
 * The part list. Only the shape is checked here: part numbers out of range, wrong ETags,
 * and parts out of order are the handler's to answer (InvalidPart / InvalidPartOrder), as S3
 * does after reading the list.
 */
export async function parseCompleteMultipartUpload(body: XmlBody): Promise<{ parts: CompletePart[] }> {
  const root = parseRoot(body, 'CompleteMultipartUpload');
  if (root === undefined) throw malformed();
  const nodes = children(root, 'Part');
  if (nodes.length === 0) throw malformed();
  const parts = nodes.map((n): CompletePart => {
    const numText = requiredText(n, 'PartNumber').trim();
    if (!/^\d{1,9}$/.test(numText)) throw malformed(); // 9 digits keeps it a safe integer
    const partNumber = Number(numText);
    const etag = stripQuotes(requiredText(n, 'ETag').trim());
    const part: CompletePart = { partNumber, etag };
    for (const alg of CHECKSUM_ALGORITHMS) {
      const v = optionalText(n, `Checksum${alg}`);
      if (v !== undefined) (part.checksums ??= {})[alg] = v.trim();
    }
    return part;
  });
  return { parts };
}

function stripQuotes(etag: string): string {
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}

// ---------------------------------------------------------------------------------------------
// Tagging

export type TagTarget = 'object' | 'bucket';

const MAX_TAGS: Record<TagTarget, number> = { object: 10, bucket: 50 };
const MAX_TAG_KEY = 128;
const MAX_TAG_VALUE = 256;

function invalidTag(message: string): S3Error {
  return new S3Error('InvalidTag', message);
}

/** Lengths are in Unicode characters, not UTF-16 units or bytes. */
export function charLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** The rules S3 applies to a tag set, with its messages. */
function tooManyTags(target: TagTarget): S3Error {
  return invalidTag(target === 'object' ? 'Object tags cannot be greater than 10' : 'Bucket tag count cannot be greater than 50');
}

function validateTags(pairs: [string, string][], target: TagTarget): Record<string, string> {
  if (pairs.length > MAX_TAGS[target]) throw tooManyTags(target);
  const tags: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of pairs) {
    if (k === '') throw invalidTag('The TagKey you have provided is invalid');
    // Control characters (a NUL above all) cannot be returned in GetObjectTagging's XML.
    if (/[\x00-\x08\x0b\x0c\x0e-\x1f]/.test(k)) throw invalidTag('The TagKey you have provided is invalid');
    if (/[\x00-\x08\x0b\x0c\x0e-\x1f]/.test(v)) throw invalidTag('The TagValue you have provided is invalid');
    if (charLength(k) > MAX_TAG_KEY) throw invalidTag('The TagKey you have provided is too long, max 128');
    if (charLength(v) > MAX_TAG_VALUE) throw invalidTag('The TagValue you have provided is too long, max 256');
    // The aws: prefix is reserved for tags AWS sets itself.
    if (k.toLowerCase().startsWith('aws:')) throw invalidTag('Your TagKey cannot be prefixed with aws:');
    if (Object.hasOwn(tags, k)) throw invalidTag('Cannot provide multiple Tags with the same key');
    tags[k] = v;
  }
  // A plain object for callers (JSON, spreading); the null prototype only guarded the checks above.
  return { ...tags };
}

/** PutObjectTagging / PutBucketTagging body. An empty TagSet is valid (no tags). */
export async function parseTagging(body: XmlBody, target: TagTarget = 'object'): Promise<Record<string, string>> {
  const root = parseRoot(body, 'Tagging');
  if (root === undefined) throw malformed();
  const set = single(root, 'TagSet');
  if (set === undefined) throw malformed();
  const tagNodes = children(set, 'Tag');
  // Count before looking at every tag, so an oversized set costs nothing more.
  if (tagNodes.length > MAX_TAGS[target]) throw tooManyTags(target);
  // Keys and values are taken exactly as sent: tag keys and values may hold spaces.
  const pairs = tagNodes.map((n): [string, string] => [requiredText(n, 'Key'), requiredText(n, 'Value')]);
  return validateTags(pairs, target);
}

/**
 * The x-amz-tagging header (PutObject, CreateMultipartUpload, CopyObject with REPLACE): a
 * URL query string, "k1=v1&k2=v2". '+' means space, as in any query string. A key without
 * '=' gets an empty value.
 */
export function parseTaggingHeader(header: string, target: TagTarget = 'object'): Record<string, string> {
  if (header === '') return {};
  // URLSearchParams would turn bytes that are not UTF-8 into U+FFFD: a different tag than sent.
  for (const part of header.split('&')) {
    if (decodeStrict(part, true) === undefined) throw invalidTag('The TagKey you have provided is invalid');
  }
  const pairs = [...new URLSearchParams(header)];
  return validateTags(pairs, target);
}

// ---------------------------------------------------------------------------------------------
// PutBucketVersioning

export interface VersioningConfiguration {
  status?: 'Enabled' | 'Suspended';
  /** Only ever 'Disabled': enabling MFA delete is refused (see below). */
  mfaDelete?: 'Disabled';
}

export async function parseVersioningConfiguration(body: XmlBody): Promise<VersioningConfiguration> {
  const root = parseRoot(body, 'VersioningConfiguration');
  if (root === undefined) throw malformed();
  const out: VersioningConfiguration = {};
  const status = optionalText(root, 'Status')?.trim();
  if (status !== undefined) {
    if (status !== 'Enabled' && status !== 'Suspended') throw malformed();
    out.status = status;
  }
  const mfa = optionalText(root, 'MfaDelete')?.trim();
  if (mfa !== undefined) {
    // S3 supports MFA delete only with the root account's hardware MFA device, proved through
    // the x-amz-mfa header. Tessera has no MFA devices, so the feature cannot be honoured;
    // NotImplemented (501) says that plainly instead of blaming the request (4xx).
    if (mfa === 'Enabled') throw new S3Error('NotImplemented', 'MFA delete is not supported.');
    if (mfa !== 'Disabled') throw malformed();
    out.mfaDelete = 'Disabled';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Access control: PublicAccessBlock, ACLs

export async function parsePublicAccessBlock(body: XmlBody): Promise<PublicAccessBlock> {
  const root = parseRoot(body, 'PublicAccessBlockConfiguration');
  if (root === undefined) throw malformed();
  const flag = (name: string): boolean => {
    const t = optionalText(root, name)?.trim();
    if (t === undefined) return false;
    if (t !== 'true' && t !== 'false') throw malformed();
    return t === 'true';
  };
  return {
    blockPublicAcls: flag('BlockPublicAcls'),
    ignorePublicAcls: flag('IgnorePublicAcls'),
    blockPublicPolicy: flag('BlockPublicPolicy'),
    restrictPublicBuckets: flag('RestrictPublicBuckets'),
  };
}

/** One grant of an AccessControlPolicy body: who (a canonical user id or a group URI) and what. */
export interface AclGrant {
  grantee: { type: 'CanonicalUser'; id: string } | { type: 'Group'; uri: string } | { type: 'other'; what: string };
  permission: string;
}

export async function parseAccessControlPolicy(body: XmlBody): Promise<{ ownerId?: string; grants: AclGrant[] }> {
  const root = parseRoot(body, 'AccessControlPolicy');
  if (root === undefined) throw malformed();
  const ownerNode = single(root, 'Owner');
  const ownerId = ownerNode !== undefined ? optionalText(ownerNode, 'ID')?.trim() : undefined;
  const list = single(root, 'AccessControlList');
  const grants: AclGrant[] = [];
  for (const g of list !== undefined ? children(list, 'Grant') : []) {
    const permission = requiredText(g, 'Permission').trim();
    const who = single(g, 'Grantee');
    if (who === undefined) throw malformed();
    const attrs = typeof who === 'string' ? {} : ((who[ATTRS] ?? {}) as Record<string, string>);
    const type = Object.entries(attrs).find(([k]) => k === 'xsi:type' || k.endsWith(':type'))?.[1];
    const id = optionalText(who, 'ID')?.trim();
    const uri = optionalText(who, 'URI')?.trim();
    const email = optionalText(who, 'EmailAddress')?.trim();
    if (id !== undefined && (type === undefined || type === 'CanonicalUser')) grants.push({ grantee: { type: 'CanonicalUser', id }, permission });
    else if (uri !== undefined && (type === undefined || type === 'Group')) grants.push({ grantee: { type: 'Group', uri }, permission });
    else grants.push({ grantee: { type: 'other', what: email !== undefined ? `email ${email}` : String(type) }, permission });
  }
  return { ownerId, grants };
}

// ---------------------------------------------------------------------------------------------
// PutBucketCors

/** S3 accepts at most this many CORSRule elements. */
export const MAX_CORS_RULES = 100;
/** The methods a CORSRule may allow, as S3 spells them (upper case only). */
const CORS_METHODS: ReadonlySet<string> = new Set(['GET', 'PUT', 'POST', 'DELETE', 'HEAD']);
const INT32_MAX = 2 ** 31 - 1;

function invalidCors(message: string): S3Error {
  return new S3Error('InvalidRequest', message);
}

/** Texts of every `name` child, trimmed: a value with surrounding whitespace could never match a header. */
function allTexts(node: XNode, name: string): string[] {
  return children(node, name).map((c) => leafText(c).trim());
}

/** The CORS rules of a PutBucketCors body, validated with S3's errors and messages. */
export async function parseCorsConfiguration(body: XmlBody): Promise<CorsRule[]> {
  const root = parseRoot(body, 'CORSConfiguration');
  if (root === undefined) throw malformed();
  const nodes = children(root, 'CORSRule');
  // The schema's bounds; S3 answers an empty configuration with MalformedXML.
  if (nodes.length === 0 || nodes.length > MAX_CORS_RULES) throw malformed();
  return nodes.map(parseCorsRule);
}

function parseCorsRule(node: XNode): CorsRule {
  const rule: CorsRule = {
    allowedOrigins: allTexts(node, 'AllowedOrigin'),
    allowedMethods: allTexts(node, 'AllowedMethod'),
    allowedHeaders: allTexts(node, 'AllowedHeader'),
    exposeHeaders: allTexts(node, 'ExposeHeader'),
  };
  // Each rule must name at least one origin and one method (the schema's minOccurs).
  if (rule.allowedOrigins.length === 0 || rule.allowedMethods.length === 0) throw malformed();
  const id = optionalText(node, 'ID');
  if (id !== undefined) {
    if (charLength(id) > 255) throw new S3Error('InvalidArgument', 'ID length should not exceed allowed limit of 255', { ArgumentName: 'ID', ArgumentValue: id });
    rule.id = id;
  }
  const maxAge = optionalText(node, 'MaxAgeSeconds')?.trim();
  if (maxAge !== undefined) rule.maxAgeSeconds = parseXsInt(maxAge);
  validateCorsRule(rule);
  return rule;
}

/** An xs:int, as the schema types MaxAgeSeconds; anything else does not validate. */
function parseXsInt(text: string): number {
  if (!/^[+-]?\d{1,10}$/.test(text)) throw malformed();
  const n = Number(text);
  if (n > INT32_MAX || n < -INT32_MAX - 1) throw malformed();
  return n;
}

function validateCorsRule(rule: CorsRule): void {
  for (const m of rule.allowedMethods) {
    if (!CORS_METHODS.has(m)) throw invalidCors(`Found unsupported HTTP method in CORS config. Unsupported method is ${m}`);
  }
  for (const o of rule.allowedOrigins) {
    if (wildcards(o) > 1) throw invalidCors(`AllowedOrigin "${o}" can not have more than one wildcard.`);
  }
  for (const h of rule.allowedHeaders) {
    if (wildcards(h) > 1) throw invalidCors(`AllowedHeader "${h}" can not have more than one wildcard.`);
  }
  for (const h of rule.exposeHeaders) {
    if (h.includes('*')) throw invalidCors(`ExposeHeader "${h}" contains wildcard. We currently do not support wildcard for ExposeHeader.`);
  }
}

function wildcards(s: string): number {
  return s.split('*').length - 1;
}

// ---------------------------------------------------------------------------------------------
// PutBucketNotificationConfiguration

/** One destination configuration as sent; ARNs and overlaps are checked by s3/notification.ts. */
export interface RequestedNotificationRule {
  kind: 'Queue' | 'Topic' | 'CloudFunction';
  id?: string;
  arn: string;
  events: string[];
  prefix?: string;
  suffix?: string;
}

const NOTIFICATION_KINDS = ['Queue', 'Topic', 'CloudFunction'] as const;

/**
 * The rules of a NotificationConfiguration ([] for an empty one, which removes the
 * configuration). Filter rule names are case-insensitive (prefix, Prefix), as S3 takes them.
 */
export async function parseNotificationConfiguration(body: XmlBody): Promise<RequestedNotificationRule[]> {
  const root = parseRoot(body, 'NotificationConfiguration');
  if (root === undefined) return [];
  if (children(root, 'EventBridgeConfiguration').length > 0) {
    throw new S3Error('NotImplemented', 'EventBridgeConfiguration is not supported by this server; use a QueueConfiguration with a configured target.');
  }
  const rules: RequestedNotificationRule[] = [];
  for (const kind of NOTIFICATION_KINDS) {
    for (const node of children(root, `${kind}Configuration`)) {
      const arn = requiredText(node, kind).trim();
      const events = allTexts(node, 'Event');
      if (events.length === 0) throw malformed();
      const rule: RequestedNotificationRule = { kind, arn, events };
      const id = optionalText(node, 'Id');
      if (id !== undefined && id !== '') rule.id = id;
      const filter = single(node, 'Filter');
      const s3Key = filter === undefined ? undefined : single(filter, 'S3Key');
      for (const f of s3Key === undefined ? [] : children(s3Key, 'FilterRule')) {
        const name = requiredText(f, 'Name').trim();
        const value = optionalText(f, 'Value') ?? '';
        const which = name.toLowerCase();
        if (which !== 'prefix' && which !== 'suffix') {
          throw new S3Error('InvalidArgument', 'filter rule name must be either prefix or suffix', { ArgumentName: 'FilterRule.Name', ArgumentValue: name });
        }
        if (rule[which] !== undefined) throw new S3Error('InvalidArgument', `Cannot specify more than one ${which} rule in a filter.`, { ArgumentName: 'FilterRule.Name', ArgumentValue: name });
        if (charLength(value) > 1024) throw new S3Error('InvalidArgument', 'The filter value is longer than 1024 characters.', { ArgumentName: 'FilterRule.Value', ArgumentValue: value });
        rule[which] = value;
      }
      rules.push(rule);
    }
  }
  return rules;
}

// ---------------------------------------------------------------------------------------------
// PutBucketEncryption

/** A default encryption rule as asked; 'kms' (aws:kms, aws:kms:dsse) is for the handler to refuse. */
export type RequestedBucketEncryption = { algorithm: 'AES256'; bucketKeyEnabled?: boolean } | { algorithm: 'kms'; name: string };

/** The one Rule of a ServerSideEncryptionConfiguration (S3 accepts exactly one). */
export async function parseBucketEncryption(body: XmlBody): Promise<RequestedBucketEncryption> {
  const root = parseRoot(body, 'ServerSideEncryptionConfiguration');
  if (root === undefined) throw malformed();
  const rules = children(root, 'Rule');
  if (rules.length !== 1) throw malformed();
  const rule = rules[0]!;
  const apply = single(rule, 'ApplyServerSideEncryptionByDefault');
  if (apply === undefined) throw malformed();
  const algorithm = requiredText(apply, 'SSEAlgorithm').trim();
  const kmsKey = optionalText(apply, 'KMSMasterKeyID');
  const bucketKey = optionalText(rule, 'BucketKeyEnabled')?.trim();
  if (bucketKey !== undefined && bucketKey !== 'true' && bucketKey !== 'false') throw malformed();
  if (algorithm === 'aws:kms' || algorithm === 'aws:kms:dsse') return { algorithm: 'kms', name: algorithm };
  if (algorithm !== 'AES256') throw malformed();
  if (kmsKey !== undefined) {
    throw new S3Error('InvalidArgument', 'a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse', { ArgumentName: 'ApplyServerSideEncryptionByDefault' });
  }
  return bucketKey !== undefined ? { algorithm: 'AES256', bucketKeyEnabled: bucketKey === 'true' } : { algorithm: 'AES256' };
}
