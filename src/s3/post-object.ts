// POST Object: an upload from an HTML form (multipart/form-data) to a bucket. The request is
// not signed; the form is, by its policy fields (auth/post-policy.ts). The fields before the
// file are read first (http/form-data.ts), then the file streams into the store and is only
// committed if it ends inside the policy's size range; fields after the file are ignored.

import { checkAclAllowed, parseCannedAcl } from './acl.js';
import { Readable } from 'node:stream';
import { checkPostPolicy, decodePostPolicy, missingField, sizeRange, verifyPostSignature, type FormFields } from '../auth/post-policy.js';
import { uriEncode } from '../auth/sigv4.js';
import { S3Error } from '../errors.js';
import { FormReader, formBoundary, type FormFile } from './form-data.js';
import type { BucketRecord, ObjectVersion } from '../meta/types.js';
import type { PutObjectOptions } from '../object/store.js';
import { checksumHeaderName } from '../util/checksums.js';
import { type S3Ctx, type S3Deps, bucketOf, sendXml } from './context.js';
import { header, storedHeadersFrom, userMetadataFrom } from './headers.js';
import { validateKey } from './names.js';
import { type CustomerKey, setSseHeaders, writeSseFrom } from './sse-headers.js';
import { contentMd5From, declaredChecksumFrom, refuseUnsupportedFrom, storageClassFrom } from './object-input.js';
import { XML_DECLARATION, escapeXml, parseTagging, quoteEtag } from './xml.js';

const MAX_POST_SIZE = 5 * 1024 ** 3;
/**
 * What is left of a request after the reply is decided (fields after the file, or the rest of
 * a refused file) is read and dropped up to this many bytes, so the client gets to read the
 * reply on a connection that stays usable; past it the connection is closed instead.
 */
const DISCARD_LIMIT = 4 * 1024 * 1024;

export async function postObject(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const bucket = bucketOf(ctx);
  const boundary = formBoundary(header(ctx, 'content-type'));
  if (boundary === undefined) {
    throw new S3Error('PreconditionFailed', undefined, { Condition: 'Bucket POST must be of the enclosure-type multipart/form-data' });
  }
  // Whatever signed the request itself (its body hash is not checked here), the form's own
  // policy decides who is uploading; without one it is nobody.
  ctx.state.principal = { kind: 'anonymous' };
  await deps.store.getBucket(bucket);
  const form = new FormReader(deps.rawBody(ctx) as AsyncIterable<Buffer>, boundary);
  let stored: Stored;
  try {
    stored = await receive(deps, ctx, bucket, form);
  } catch (e) {
    // The error reply is sent either way; draining first lets a browser read it.
    await form.discardRest(DISCARD_LIMIT).catch(() => false);
    throw e;
  }
  if (!(await form.discardRest(DISCARD_LIMIT).catch(() => false))) ctx.set('Connection', 'close');
  await reply(deps, ctx, bucket, stored);
}

interface Stored {
  key: string;
  fields: FormFields;
  version: ObjectVersion;
  /** The form's SSE-C key: the reply names its MD5, as S3's does. */
  customer?: CustomerKey;
}

/** Reads the form up to the file, checks who may upload what, and stores the file. */
async function receive(deps: S3Deps, ctx: S3Ctx, bucket: string, form: FormReader): Promise<Stored> {
  const head = await form.readHead();
  const fields = fieldMap(head.fields);
  const key = objectKey(fields, head.file);
  const file = head.file!;
  const range = await authenticate(deps, ctx, bucket, key, fields);
  const opts = await putOptions(ctx, deps, fields, await deps.store.getBucket(bucket));
  const body = Readable.from(sizeLimited(file.body, range), { objectMode: false });
  const version = await deps.store.putObject(bucket, key, body, opts);
  return { key, fields, version, customer: opts.encryption?.mode === 'C' ? opts.encryption : undefined };
}

/** Fields by lower-case name. A name given twice is refused: the policy and the upload must see the same value. */
function fieldMap(pairs: Array<[string, string]>): Map<string, string> {
  const fields = new Map<string, string>();
  for (const [name, value] of pairs) {
    if (fields.has(name)) throw new S3Error('InvalidArgument', `Bucket POST must not repeat the field '${name}'.`, { ArgumentName: name, ArgumentValue: value });
    fields.set(name, value);
  }
  return fields;
}

/** The key field, with ${filename} replaced by the name of the uploaded file. */
function objectKey(fields: FormFields, file: FormFile | undefined): string {
  const template = fields.get('key');
  if (template === undefined) throw missingField('key');
  if (file === undefined) {
    throw new S3Error('InvalidArgument', 'POST requires exactly one file upload per request.', { ArgumentName: 'file', ArgumentValue: '0' });
  }
  const key = template.split('${filename}').join(file.filename ?? '');
  if (key === '') throw new S3Error('InvalidArgument', 'User key must have a length greater than 0.', { ArgumentName: 'key', ArgumentValue: '' });
  validateKey(key);
  return key;
}

/**
 * Without a policy the upload is anonymous; with one, its signature names the principal and
 * its conditions must hold. Either way the principal must be allowed s3:PutObject on the key.
 * Returns the size range the file must fall in.
 */
async function authenticate(deps: S3Deps, ctx: S3Ctx, bucket: string, key: string, fields: FormFields): Promise<{ min: number; max: number }> {
  if (fields.has('x-amz-security-token')) throw new S3Error('InvalidToken', 'The provided token is malformed or otherwise invalid.');
  let range: { min: number; max: number } | undefined;
  if (fields.has('policy')) {
    const signed = verifyPostSignature(fields, deps.credentials, deps.region);
    const policy = decodePostPolicy(signed.policyText);
    checkPostPolicy(policy, fields, bucket, deps.store.now());
    ctx.state.principal = deps.principalOf(signed.accessKeyId);
    range = sizeRange(policy);
  } else if (fields.has('x-amz-signature') || fields.has('x-amz-credential')) {
    // A signature over nothing: the form meant to be signed but lost its policy.
    throw missingField('policy');
  }
  // The form's acl field is the s3:x-amz-acl of the upload, and s3:authType is POST.
  const extra = { cannedAcl: fields.get('acl'), authType: 'POST' as const };
  await deps.authorize(ctx, 's3:PutObject', bucket, key, undefined, extra);
  if (fields.has('acl')) await deps.authorize(ctx, 's3:PutObjectAcl', bucket, key, undefined, extra);
  if (fields.has('tagging')) await deps.authorize(ctx, 's3:PutObjectTagging', bucket, key, undefined, extra);
  return { min: range?.min ?? 0, max: Math.min(range?.max ?? MAX_POST_SIZE, MAX_POST_SIZE) };
}

/** The fields that PutObject takes as headers, read with the same rules. */
async function putOptions(ctx: S3Ctx, deps: S3Deps, fields: FormFields, b: BucketRecord): Promise<PutObjectOptions> {
  // A form cannot send a trailer; a field of that name means nothing.
  const get = (name: string) => (name === 'x-amz-trailer' ? undefined : fields.get(name));
  refuseUnsupportedFrom(get);
  // The form's x-amz-server-side-encryption(-customer-*) fields, or the bucket's default.
  const encryption = writeSseFrom(ctx, deps, b, get);
  const aclField = fields.get('acl');
  const acl = aclField === undefined ? undefined : parseCannedAcl(aclField.trim(), 'object');
  checkAclAllowed(b, acl);
  const sum = declaredChecksumFrom(get);
  const tagging = fields.get('tagging');
  const tags = tagging === undefined ? undefined : await parseTagging(tagging, 'object');
  return {
    headers: storedHeadersFrom(get),
    userMeta: userMetadataFrom(fields),
    contentMd5: contentMd5From(get),
    checksumAlgorithm: sum.algorithm,
    expectedChecksum: sum.value,
    tags: tags && Object.keys(tags).length > 0 ? tags : undefined,
    storageClass: storageClassFrom(get),
    acl,
    encryption,
  };
}

/**
 * The file's bytes, refused as soon as they pass the allowed size and at the end if they fall
 * short of it. The error reaches the store as a stream error, so nothing is committed.
 */
async function* sizeLimited(body: AsyncIterable<Buffer>, range: { min: number; max: number }): AsyncGenerator<Buffer> {
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > range.max) throw new S3Error('EntityTooLarge', undefined, { MaxSizeAllowed: String(range.max) });
    yield chunk;
  }
  if (size < range.min) throw new S3Error('EntityTooSmall', undefined, { ProposedSize: String(size), MinSizeAllowed: String(range.min) });
}

// ---------------------------------------------------------------------------------------------
// Reply

/**
 * success_action_redirect (or redirect): 303 to it with bucket, key and etag added to its
 * query; otherwise success_action_status 200, 201 (a PostResponse document) or 204 (the
 * default, also for any other value).
 */
async function reply(deps: S3Deps, ctx: S3Ctx, bucket: string, { key, fields, version: v, customer }: Stored): Promise<void> {
  const etag = quoteEtag(v.etag);
  const location = objectUrl(ctx, bucket, key);
  ctx.set('ETag', etag);
  ctx.set('Location', location);
  if ((await deps.store.getBucket(bucket)).versioning !== 'Unversioned') ctx.set('x-amz-version-id', v.versionId);
  if (v.checksum) {
    ctx.set(checksumHeaderName(v.checksum.algorithm), v.checksum.value);
    ctx.set('x-amz-checksum-type', v.checksum.type);
  }
  setSseHeaders(ctx, v.sse, customer);
  const redirect = redirectUrl(fields.get('success_action_redirect') ?? fields.get('redirect'));
  if (redirect !== undefined) {
    ctx.set('Location', withQuery(redirect, { bucket, key, etag }));
    ctx.status = 303;
    ctx.body = '';
    return;
  }
  const status = fields.get('success_action_status');
  if (status === '201') {
    sendXml(ctx, postResponseXml(location, bucket, key, etag), 201);
    return;
  }
  ctx.status = status === '200' ? 200 : 204;
  ctx.body = status === '200' ? '' : null;
}

/** Where the object can be read, in the style (path or virtual host) the request used. */
function objectUrl(ctx: S3Ctx, bucket: string, key: string): string {
  const host = ctx.req.headers.host ?? 'localhost';
  const path = uriEncode(key, false);
  return ctx.state.target.virtualHost ? `${ctx.protocol}://${host}/${path}` : `${ctx.protocol}://${host}/${uriEncode(bucket, false)}/${path}`;
}

/** An absolute http(s) URL; anything else is ignored, as S3 ignores a redirect it cannot use. */
function redirectUrl(v: string | undefined): string | undefined {
  if (!v) return undefined;
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Adds parameters to a URL's query, before any fragment, percent-encoded. */
function withQuery(url: string, params: Record<string, string>): string {
  const hash = url.indexOf('#');
  const base = hash < 0 ? url : url.slice(0, hash);
  const fragment = hash < 0 ? '' : url.slice(hash);
  const query = Object.entries(params).map(([k, v]) => `${k}=${uriEncode(v, true)}`).join('&');
  const sep = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${sep}${query}${fragment}`;
}

function postResponseXml(location: string, bucket: string, key: string, etag: string): string {
  const el = (name: string, value: string) => `<${name}>${escapeXml(value)}</${name}>`;
  return `${XML_DECLARATION}<PostResponse>${el('Location', location)}${el('Bucket', bucket)}${el('Key', key)}${el('ETag', etag)}</PostResponse>`;
}
