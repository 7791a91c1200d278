// Builders for the XML bodies Tessera sends. Pure functions from records to strings.
//
// Why a hand-written serializer instead of a DOM builder: every response shape is fixed and
// small, string concatenation is several times faster than building a tree, and keeping the
// escaping in one function (escapeXml) makes it easy to get right once.
//
// Element names and order follow the Amazon S3 API reference and what S3 sends on the wire
// (where the two differ, the wire order, since that is what clients were tested against).
// Clients' parsers do not depend on element order, but tools that diff bodies do.

import type { S3Error } from '../errors.js';
import type {
  BucketEncryption,
  BucketRecord,
  CannedAcl,
  PublicAccessBlock,
  ChecksumAlgorithm,
  CorsRule,
  ListedObject,
  MultipartUpload,
  NotificationRule,
  ObjectVersion,
  PartLayout,
  StoredChecksum,
  UploadPart,
} from '../meta/types.js';

export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';
export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

export interface Owner {
  id: string;
  displayName: string;
}

/** A timestamp as ms since the epoch or a Date. */
export type Time = number | Date;

// ---------------------------------------------------------------------------------------------
// Escaping

// Anything in here needs a rewrite. \r is included because conforming XML parsers turn a literal
// CR into LF, so a key holding one would come back changed; as a character reference it survives.
// Control characters other than TAB/LF/CR are not allowed in XML 1.0 at all; S3 still sends them
// (as character references), which is why clients ask for encoding-type=url. We do the same:
// a lenient parser (the AWS SDK's, sax) decodes them, a strict one fails exactly as it would on S3.
// U+FFFE/U+FFFF are not XML characters either. Lone surrogates cannot be encoded in UTF-8 at all.
const NEEDS_ESCAPE =
  /[&<>"'\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const ESCAPE_ALL = new RegExp(NEEDS_ESCAPE.source, 'g');

function escapeChar(c: string): string {
  switch (c) {
    case '&': return '&amp;';
    case '<': return '&lt;';
    case '>': return '&gt;';
    case '"': return '&quot;';
    case "'": return '&apos;';
    default: {
      const code = c.charCodeAt(0);
      // A lone surrogate: Node would write U+FFFD for it anyway; say so explicitly.
      if (code >= 0xd800 && code <= 0xdfff) return '\uFFFD';
      return `&#x${code.toString(16).toUpperCase()};`;
    }
  }
}

/** Escapes text for use in element content or an attribute value. */
export function escapeXml(s: string): string {
  // Most keys need nothing; skip the replace (and its allocation) for them. A plain loop over
  // the code units decides that faster than NEEDS_ESCAPE (whose surrogate look-arounds are
  // slow); anything it flags goes through the exact rules.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 ? c !== 0x09 && c !== 0x0a : c >= 0xd800 ? c <= 0xdfff || c >= 0xfffe : SPECIAL[c] === 1) {
      return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPE_ALL, escapeChar) : s;
    }
  }
  return s;
}

/** & < > " ' among the code units 0x20..0xD7FF. */
const SPECIAL = new Uint8Array(0xd800);
for (const c of '&<>"\'') SPECIAL[c.charCodeAt(0)] = 1;

// ---------------------------------------------------------------------------------------------
// URL encoding for encoding-type=url

// S3 percent-encodes the UTF-8 bytes of everything but the RFC 3986 unreserved characters
// (A-Z a-z 0-9 - . _ ~) and '/', with upper-case hex; a space is %20, never '+' (the AWS docs:
// "test_file(3).png" appears as "test_file%283%29.png"; the ceph s3-tests that AWS passes expect
// "quux ab/" as "quux%20ab/" and "asdf+b" as "asdf%2Bb"). botocore decodes with unquote_plus,
// the SDKs with a percent-decode: both give back the key from this form.
const KEEP = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_~/') KEEP[c.charCodeAt(0)] = 1;
const HEX = '0123456789ABCDEF';

export function s3UrlEncode(s: string): string {
  let plain = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || !KEEP[c]) { plain = false; break; }
  }
  if (plain) return s;
  // Via UTF-8 bytes rather than encodeURIComponent, which throws on a lone surrogate.
  const bytes = Buffer.from(s, 'utf8');
  let out = '';
  for (const b of bytes) {
    if (b < 128 && KEEP[b]) out += String.fromCharCode(b);
    else out += '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

export function el(name: string, value: string | number | boolean): string {
  return `<${name}>${typeof value === 'string' ? escapeXml(value) : String(value)}</${name}>`;
}

export function optEl(name: string, value: string | number | boolean | undefined): string {
  return value === undefined ? '' : el(name, value);
}

export function doc(root: string, body: string): string {
  return `${XML_DECLARATION}<${root} xmlns="${S3_XMLNS}">${body}</${root}>`;
}

/**
 * ISO 8601 with milliseconds, truncated to whole seconds. S3 keeps second precision (its
 * listings always say .000Z), and the Last-Modified header has second precision, so truncating
 * keeps a listing and a HEAD of the same object in agreement.
 */
export function isoTime(t: Time): string {
  const ms = typeof t === 'number' ? t : t.getTime();
  const second = Math.floor(ms / 1000);
  // Objects listed together were often written in the same few seconds: remember the last
  // few conversions (a listing of 1000 keys otherwise formats 1000 dates).
  const slot = second & (ISO_CACHE_SIZE - 1);
  if (isoSeconds[slot] === second) return isoStrings[slot]!;
  const iso = new Date(second * 1000).toISOString();
  isoSeconds[slot] = second;
  isoStrings[slot] = iso;
  return iso;
}

const ISO_CACHE_SIZE = 64;
const isoSeconds = new Float64Array(ISO_CACHE_SIZE).fill(NaN);
const isoStrings: string[] = new Array<string>(ISO_CACHE_SIZE).fill('');

/** escapeXml(quoteEtag(etag)) without running the escape over the quotes it adds. */
function etagXml(etag: string): string {
  if (etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"')) return escapeXml(etag);
  return `&quot;${escapeXml(etag)}&quot;`;
}

/** ETags are stored without quotes; S3 sends them quoted (escaped as &quot; inside XML). */
export function quoteEtag(etag: string): string {
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag : `"${etag}"`;
}

function owner(tag: string, o: Owner): string {
  return `<${tag}>${el('ID', o.id)}${el('DisplayName', o.displayName)}</${tag}>`;
}

function checksumEl(algorithm: ChecksumAlgorithm, value: string): string {
  return el(`Checksum${algorithm}`, value);
}

type Encode = (s: string) => string;
const identity: Encode = (s) => s;
function encoderFor(encodingType: 'url' | undefined): Encode {
  return encodingType === 'url' ? s3UrlEncode : identity;
}

function commonPrefixes(prefixes: string[], enc: Encode): string {
  let out = '';
  for (const p of prefixes) out += `<CommonPrefixes>${el('Prefix', enc(p))}</CommonPrefixes>`;
  return out;
}

// S3 omits Delimiter when none (or an empty one) was sent.
function delimiterEl(delimiter: string | undefined, enc: Encode): string {
  return delimiter ? el('Delimiter', enc(delimiter)) : '';
}

// ---------------------------------------------------------------------------------------------
// Errors

const RESERVED_ERROR_FIELDS = new Set(['Code', 'Message', 'Resource', 'RequestId', 'HostId']);
const XML_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * <Error> body. S3 sends it without a namespace. Extra fields (BucketName, Key,
 * StringToSign, …) come between Message and Resource, in the order the error lists them.
 */
export function errorXml(err: S3Error, resource: string, requestId: string, hostId: string): string {
  let body = el('Code', err.code) + el('Message', err.message);
  for (const [name, value] of Object.entries(err.fields)) {
    // Guard the element name: fields come from code, but a bad name would break the document.
    if (RESERVED_ERROR_FIELDS.has(name) || !XML_NAME.test(name)) continue;
    body += el(name, value);
  }
  if (resource) body += el('Resource', resource);
  body += el('RequestId', requestId) + el('HostId', hostId);
  return `${XML_DECLARATION}<Error>${body}</Error>`;
}

// ---------------------------------------------------------------------------------------------
// Buckets

export interface ListBucketsOptions {
  /** Echoed when the request paginated (max-buckets); present when more buckets follow. */
  continuationToken?: string;
  prefix?: string;
}

export function listBucketsXml(buckets: BucketRecord[], o: Owner, opts: ListBucketsOptions = {}): string {
  let list = '';
  for (const b of buckets) {
    list += `<Bucket>${el('Name', b.name)}${el('CreationDate', isoTime(b.created))}${el('BucketRegion', b.region)}</Bucket>`;
  }
  return doc(
    'ListAllMyBucketsResult',
    owner('Owner', o) + `<Buckets>${list}</Buckets>` + optEl('ContinuationToken', opts.continuationToken) + optEl('Prefix', opts.prefix),
  );
}

/** GetBucketLocation: us-east-1 is the empty element, as S3 answers for buckets there. */
export function locationXml(region: string): string {
  if (!region || region === 'us-east-1') return `${XML_DECLARATION}<LocationConstraint xmlns="${S3_XMLNS}"/>`;
  return `${XML_DECLARATION}<LocationConstraint xmlns="${S3_XMLNS}">${escapeXml(region)}</LocationConstraint>`;
}

/** GetBucketVersioning. A bucket that was never versioned answers an empty configuration. */
export function versioningXml(status: 'Unversioned' | 'Enabled' | 'Suspended', mfaDelete?: 'Enabled' | 'Disabled'): string {
  const body = (status === 'Unversioned' ? '' : el('Status', status)) + optEl('MfaDelete', mfaDelete);
  if (!body) return `${XML_DECLARATION}<VersioningConfiguration xmlns="${S3_XMLNS}"/>`;
  return doc('VersioningConfiguration', body);
}

/** GetObjectTagging / GetBucketTagging. */
export function taggingXml(tags: Record<string, string>): string {
  let set = '';
  for (const [k, v] of Object.entries(tags)) set += `<Tag>${el('Key', k)}${el('Value', v)}</Tag>`;
  return doc('Tagging', `<TagSet>${set}</TagSet>`);
}

// ---------------------------------------------------------------------------------------------
// Listing objects

// One <Contents> per listed object, up to 1000 per page: built in one template, not from el().
function contentsEl(v: ListedObject, enc: Encode, ownerXml: string): string {
  const cs = v.checksum
    ? `<ChecksumAlgorithm>${escapeXml(v.checksum.algorithm)}</ChecksumAlgorithm><ChecksumType>${escapeXml(v.checksum.type)}</ChecksumType>`
    : '';
  return `<Contents><Key>${escapeXml(enc(v.key))}</Key><LastModified>${isoTime(v.lastModified)}</LastModified>` +
    `<ETag>${etagXml(v.etag)}</ETag>${cs}<Size>${v.size}</Size>${ownerXml}` +
    `<StorageClass>${v.storageClass === undefined ? 'STANDARD' : escapeXml(v.storageClass)}</StorageClass></Contents>`;
}

export interface ListObjectsV1Params {
  name: string;
  prefix?: string;
  delimiter?: string;
  maxKeys: number;
  /** Echoed; S3 always sends Marker (empty when none was given). */
  marker?: string;
  /** S3 sends it only when a delimiter was given and the list is truncated; the caller decides. */
  nextMarker?: string;
  isTruncated: boolean;
  encodingType?: 'url';
  contents: ListedObject[];
  commonPrefixes: string[];
  /** ListObjects (v1) always shows each object's owner. */
  owner: Owner;
}

export function listObjectsV1Xml(p: ListObjectsV1Params): string {
  const enc = encoderFor(p.encodingType);
  let body =
    el('Name', p.name) +
    // ListObjects (v1) echoes Prefix as sent even with encoding-type=url (S3 does; botocore,
    // which asks for url encoding on its own, decodes Marker and Delimiter but not this Prefix).
    el('Prefix', p.prefix ?? '') +
    el('Marker', enc(p.marker ?? '')) +
    (p.nextMarker !== undefined ? el('NextMarker', enc(p.nextMarker)) : '') +
    el('MaxKeys', p.maxKeys) +
    delimiterEl(p.delimiter, enc) +
    optEl('EncodingType', p.encodingType) +
    el('IsTruncated', p.isTruncated);
  const ownerXml = owner('Owner', p.owner);
  for (const v of p.contents) body += contentsEl(v, enc, ownerXml);
  body += commonPrefixes(p.commonPrefixes, enc);
  return doc('ListBucketResult', body);
}

export interface ListObjectsV2Params {
  name: string;
  prefix?: string;
  delimiter?: string;
  maxKeys: number;
  /** Echoed as sent (tokens are opaque, never URL-encoded). */
  continuationToken?: string;
  nextContinuationToken?: string;
  /** Echoed when sent. */
  startAfter?: string;
  /** Defaults to contents + common prefixes, which is what S3 counts. */
  keyCount?: number;
  isTruncated: boolean;
  encodingType?: 'url';
  contents: ListedObject[];
  commonPrefixes: string[];
  /** Owner is shown only when the request had fetch-owner=true. */
  fetchOwner?: boolean;
  owner?: Owner;
}

export function listObjectsV2Xml(p: ListObjectsV2Params): string {
  const enc = encoderFor(p.encodingType);
  const keyCount = p.keyCount ?? p.contents.length + p.commonPrefixes.length;
  let body =
    el('Name', p.name) +
    el('Prefix', enc(p.prefix ?? '')) +
    optEl('ContinuationToken', p.continuationToken) +
    optEl('NextContinuationToken', p.nextContinuationToken) +
    (p.startAfter !== undefined ? el('StartAfter', enc(p.startAfter)) : '') +
    el('KeyCount', keyCount) +
    el('MaxKeys', p.maxKeys) +
    delimiterEl(p.delimiter, enc) +
    optEl('EncodingType', p.encodingType) +
    el('IsTruncated', p.isTruncated);
  const ownerXml = p.fetchOwner && p.owner ? owner('Owner', p.owner) : '';
  for (const v of p.contents) body += contentsEl(v, enc, ownerXml);
  body += commonPrefixes(p.commonPrefixes, enc);
  return doc('ListBucketResult', body);
}

export interface VersionEntry {
  version: ObjectVersion;
  /** Whether this is the newest version of its key (the object layer knows; a page may start mid-key). */
  isLatest: boolean;
}

export interface ListVersionsParams {
  name: string;
  prefix?: string;
  delimiter?: string;
  maxKeys: number;
  /** Echoed; S3 always sends KeyMarker and VersionIdMarker (empty when none was given). */
  keyMarker?: string;
  versionIdMarker?: string;
  nextKeyMarker?: string;
  nextVersionIdMarker?: string;
  isTruncated: boolean;
  encodingType?: 'url';
  /** Versions and delete markers, in the order to list them. */
  versions: VersionEntry[];
  commonPrefixes: string[];
  owner: Owner;
}

export function listVersionsXml(p: ListVersionsParams): string {
  const enc = encoderFor(p.encodingType);
  let body =
    el('Name', p.name) +
    el('Prefix', enc(p.prefix ?? '')) +
    el('KeyMarker', enc(p.keyMarker ?? '')) +
    el('VersionIdMarker', p.versionIdMarker ?? '') +
    (p.nextKeyMarker !== undefined ? el('NextKeyMarker', enc(p.nextKeyMarker)) : '') +
    optEl('NextVersionIdMarker', p.nextVersionIdMarker) +
    el('MaxKeys', p.maxKeys) +
    delimiterEl(p.delimiter, enc) +
    optEl('EncodingType', p.encodingType) +
    el('IsTruncated', p.isTruncated);
  for (const { version: v, isLatest } of p.versions) {
    const head = el('Key', enc(v.key)) + el('VersionId', v.versionId) + el('IsLatest', isLatest) + el('LastModified', isoTime(v.lastModified));
    if (v.isDeleteMarker) {
      body += `<DeleteMarker>${head}${owner('Owner', p.owner)}</DeleteMarker>`;
    } else {
      let s = head + el('ETag', quoteEtag(v.etag));
      if (v.checksum) s += el('ChecksumAlgorithm', v.checksum.algorithm) + el('ChecksumType', v.checksum.type);
      s += el('Size', v.size) + el('StorageClass', v.storageClass ?? 'STANDARD') + owner('Owner', p.owner);
      body += `<Version>${s}</Version>`;
    }
  }
  body += commonPrefixes(p.commonPrefixes, enc);
  return doc('ListVersionsResult', body);
}

// ---------------------------------------------------------------------------------------------
// Copy, delete

function checksumEls(checksum: StoredChecksum | undefined, withType: boolean): string {
  if (!checksum) return '';
  return checksumEl(checksum.algorithm, checksum.value) + (withType ? el('ChecksumType', checksum.type) : '');
}

/** CopyObject. */
export function copyObjectResultXml(etag: string, lastModified: Time, checksum?: StoredChecksum): string {
  return doc('CopyObjectResult', el('LastModified', isoTime(lastModified)) + el('ETag', quoteEtag(etag)) + checksumEls(checksum, true));
}

/** UploadPartCopy. A part has a checksum value but no checksum type of its own. */
export function copyPartResultXml(etag: string, lastModified: Time, checksum?: { algorithm: ChecksumAlgorithm; value: string }): string {
  return doc(
    'CopyPartResult',
    el('LastModified', isoTime(lastModified)) + el('ETag', quoteEtag(etag)) + (checksum ? checksumEl(checksum.algorithm, checksum.value) : ''),
  );
}

export interface DeletedEntry {
  key: string;
  versionId?: string;
  deleteMarker?: boolean;
  deleteMarkerVersionId?: string;
}

export interface DeleteErrorEntry {
  key: string;
  versionId?: string;
  code: string;
  message: string;
}

/** DeleteObjects. In quiet mode S3 lists only the errors. */
export function deleteResultXml(deleted: DeletedEntry[], errors: DeleteErrorEntry[], quiet: boolean): string {
  let body = '';
  if (!quiet) {
    for (const d of deleted) {
      body += `<Deleted>${el('Key', d.key)}${optEl('VersionId', d.versionId)}${d.deleteMarker ? el('DeleteMarker', true) : ''}${optEl('DeleteMarkerVersionId', d.deleteMarkerVersionId)}</Deleted>`;
    }
  }
  for (const e of errors) {
    body += `<Error>${el('Key', e.key)}${optEl('VersionId', e.versionId)}${el('Code', e.code)}${el('Message', e.message)}</Error>`;
  }
  return doc('DeleteResult', body);
}

// ---------------------------------------------------------------------------------------------
// Multipart

export function initiateMultipartUploadXml(bucket: string, key: string, uploadId: string): string {
  return doc('InitiateMultipartUploadResult', el('Bucket', bucket) + el('Key', key) + el('UploadId', uploadId));
}

export function completeMultipartUploadXml(location: string, bucket: string, key: string, etag: string, checksum?: StoredChecksum): string {
  return doc(
    'CompleteMultipartUploadResult',
    el('Location', location) + el('Bucket', bucket) + el('Key', key) + el('ETag', quoteEtag(etag)) + checksumEls(checksum, true),
  );
}

export interface ListPartsParams {
  bucket: string;
  key: string;
  uploadId: string;
  /** Initiator and Owner (Tessera does not tell them apart). */
  owner: Owner;
  storageClass?: string;
  /** 0 when the request had none, as S3 echoes it. */
  partNumberMarker: number;
  /** The last part number on this page; S3 sends it whenever the page holds parts. */
  nextPartNumberMarker?: number;
  maxParts: number;
  isTruncated: boolean;
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: 'FULL_OBJECT' | 'COMPOSITE';
  parts: UploadPart[];
}

export function listPartsXml(p: ListPartsParams): string {
  let body =
    el('Bucket', p.bucket) +
    el('Key', p.key) +
    el('UploadId', p.uploadId) +
    owner('Initiator', p.owner) +
    owner('Owner', p.owner) +
    el('StorageClass', p.storageClass ?? 'STANDARD') +
    el('PartNumberMarker', p.partNumberMarker) +
    optEl('NextPartNumberMarker', p.nextPartNumberMarker) +
    el('MaxParts', p.maxParts) +
    el('IsTruncated', p.isTruncated) +
    optEl('ChecksumAlgorithm', p.checksumAlgorithm) +
    optEl('ChecksumType', p.checksumType);
  for (const part of p.parts) {
    body +=
      '<Part>' +
      el('PartNumber', part.partNumber) +
      el('LastModified', isoTime(part.lastModified)) +
      el('ETag', quoteEtag(part.etag)) +
      (p.checksumAlgorithm && part.checksum ? checksumEl(p.checksumAlgorithm, part.checksum) : '') +
      el('Size', part.size) +
      '</Part>';
  }
  return doc('ListPartsResult', body);
}

export interface ListMultipartUploadsParams {
  bucket: string;
  prefix?: string;
  delimiter?: string;
  maxUploads: number;
  /** Echoed; S3 always sends both markers and both next markers (empty when none). */
  keyMarker?: string;
  uploadIdMarker?: string;
  nextKeyMarker?: string;
  nextUploadIdMarker?: string;
  isTruncated: boolean;
  encodingType?: 'url';
  uploads: MultipartUpload[];
  commonPrefixes: string[];
  /** Initiator and Owner of every upload. */
  owner: Owner;
}

export function listMultipartUploadsXml(p: ListMultipartUploadsParams): string {
  const enc = encoderFor(p.encodingType);
  let body =
    el('Bucket', p.bucket) +
    el('KeyMarker', enc(p.keyMarker ?? '')) +
    el('UploadIdMarker', p.uploadIdMarker ?? '') +
    el('NextKeyMarker', enc(p.nextKeyMarker ?? '')) +
    el('NextUploadIdMarker', p.nextUploadIdMarker ?? '') +
    delimiterEl(p.delimiter, enc) +
    el('Prefix', enc(p.prefix ?? '')) +
    optEl('EncodingType', p.encodingType) +
    el('MaxUploads', p.maxUploads) +
    el('IsTruncated', p.isTruncated);
  for (const u of p.uploads) {
    body +=
      '<Upload>' +
      el('Key', enc(u.key)) +
      el('UploadId', u.uploadId) +
      owner('Initiator', p.owner) +
      owner('Owner', p.owner) +
      el('StorageClass', u.storageClass ?? 'STANDARD') +
      el('Initiated', isoTime(u.initiated)) +
      optEl('ChecksumAlgorithm', u.checksumAlgorithm) +
      optEl('ChecksumType', u.checksumAlgorithm ? u.checksumType : undefined) +
      '</Upload>';
  }
  body += commonPrefixes(p.commonPrefixes, enc);
  return doc('ListMultipartUploadsResult', body);
}

// ---------------------------------------------------------------------------------------------
// Access control: PublicAccessBlock, policy status, ACLs

export function publicAccessBlockXml(p: PublicAccessBlock): string {
  return doc(
    'PublicAccessBlockConfiguration',
    el('BlockPublicAcls', p.blockPublicAcls) + el('IgnorePublicAcls', p.ignorePublicAcls) +
      el('BlockPublicPolicy', p.blockPublicPolicy) + el('RestrictPublicBuckets', p.restrictPublicBuckets),
  );
}

export function policyStatusXml(isPublic: boolean): string {
  return doc('PolicyStatus', el('IsPublic', isPublic));
}

export const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
export const AUTHENTICATED_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';
const XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';

/** GetBucketAcl / GetObjectAcl for a canned ACL: the owner's FULL_CONTROL plus the ACL's group grants. */
export function aclXml(o: Owner, acl: CannedAcl | undefined): string {
  const grant = (grantee: string, permission: string) => `<Grant>${grantee}${el('Permission', permission)}</Grant>`;
  const group = (uri: string) => `<Grantee ${XSI} xsi:type="Group">${el('URI', uri)}</Grantee>`;
  let grants = grant(`<Grantee ${XSI} xsi:type="CanonicalUser">${el('ID', o.id)}${el('DisplayName', o.displayName)}</Grantee>`, 'FULL_CONTROL');
  if (acl === 'public-read' || acl === 'public-read-write') grants += grant(group(ALL_USERS), 'READ');
  if (acl === 'public-read-write') grants += grant(group(ALL_USERS), 'WRITE');
  if (acl === 'authenticated-read') grants += grant(group(AUTHENTICATED_USERS), 'READ');
  return doc('AccessControlPolicy', owner('Owner', o) + `<AccessControlList>${grants}</AccessControlList>`);
}

// ---------------------------------------------------------------------------------------------
// Bucket CORS

/** GetBucketCors: the rules as stored, only the members each rule has. */
export function corsXml(rules: CorsRule[]): string {
  let body = '';
  for (const r of rules) {
    let rule = optEl('ID', r.id);
    for (const h of r.allowedHeaders) rule += el('AllowedHeader', h);
    for (const m of r.allowedMethods) rule += el('AllowedMethod', m);
    for (const o of r.allowedOrigins) rule += el('AllowedOrigin', o);
    for (const h of r.exposeHeaders) rule += el('ExposeHeader', h);
    rule += optEl('MaxAgeSeconds', r.maxAgeSeconds);
    body += `<CORSRule>${rule}</CORSRule>`;
  }
  return doc('CORSConfiguration', body);
}

// ---------------------------------------------------------------------------------------------
// Bucket notification

/** GetBucketNotificationConfiguration: each rule under its kind's element; filter names as S3 writes them. */
export function notificationXml(rules: NotificationRule[]): string {
  let body = '';
  for (const kind of ['Topic', 'Queue', 'CloudFunction'] as const) {
    for (const r of rules.filter((x) => x.kind === kind)) {
      let filter = '';
      if (r.prefix !== undefined) filter += `<FilterRule>${el('Name', 'Prefix')}${el('Value', r.prefix)}</FilterRule>`;
      if (r.suffix !== undefined) filter += `<FilterRule>${el('Name', 'Suffix')}${el('Value', r.suffix)}</FilterRule>`;
      body += `<${kind}Configuration>${el('Id', r.id)}${el(kind, r.arn)}${r.events.map((e) => el('Event', e)).join('')}` +
        (filter ? `<Filter><S3Key>${filter}</S3Key></Filter>` : '') + `</${kind}Configuration>`;
    }
  }
  return doc('NotificationConfiguration', body);
}

// ---------------------------------------------------------------------------------------------
// Bucket default encryption

/** GetBucketEncryption. */
export function bucketEncryptionXml(e: BucketEncryption): string {
  const apply = `<ApplyServerSideEncryptionByDefault>${el('SSEAlgorithm', e.algorithm)}</ApplyServerSideEncryptionByDefault>`;
  return doc('ServerSideEncryptionConfiguration', `<Rule>${apply}${el('BucketKeyEnabled', e.bucketKeyEnabled === true)}</Rule>`);
}

// ---------------------------------------------------------------------------------------------
// GetObjectAttributes

export type ObjectAttribute = 'ETag' | 'Checksum' | 'ObjectParts' | 'StorageClass' | 'ObjectSize';

export interface ObjectAttributesParams {
  /** Unquoted, as S3 sends it here (unlike every other ETag element). */
  etag?: string;
  checksum?: StoredChecksum;
  /** The object's parts, and the page of them to show. */
  parts?: { all: PartLayout[]; marker: number; maxParts: number };
  storageClass?: string;
  size?: number;
}

/** Fields appear only when asked for; ObjectParts pages like ListParts. */
export function objectAttributesXml(p: ObjectAttributesParams): string {
  let body = p.etag !== undefined ? el('ETag', p.etag.replace(/^"|"$/g, '')) : '';
  // A COMPOSITE value comes without its "-N" part count here (S3 sends it so; HeadObject and
  // CompleteMultipartUpload keep the suffix).
  if (p.checksum) body += `<Checksum>${checksumEls({ ...p.checksum, value: p.checksum.value.replace(/-\d+$/, '') }, true)}</Checksum>`;
  if (p.parts) {
    const after = p.parts.all.filter((x) => x.partNumber > p.parts!.marker);
    const page = after.slice(0, p.parts.maxParts);
    let parts = '';
    for (const part of page) {
      parts += '<Part>' +
        (part.checksum && part.checksumAlgorithm ? checksumEl(part.checksumAlgorithm, part.checksum) : '') +
        el('PartNumber', part.partNumber) + el('Size', part.size) + '</Part>';
    }
    body += '<ObjectParts>' +
      el('IsTruncated', after.length > page.length) +
      el('MaxParts', p.parts.maxParts) +
      (page.length ? el('NextPartNumberMarker', page[page.length - 1]!.partNumber) : '') +
      el('PartNumberMarker', p.parts.marker) +
      parts +
      el('PartsCount', p.parts.all.length) +
      '</ObjectParts>';
  }
  body += optEl('StorageClass', p.storageClass) + optEl('ObjectSize', p.size);
  return doc('GetObjectAttributesResponse', body);
}
