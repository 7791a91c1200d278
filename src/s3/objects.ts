// Object operations: PutObject, GetObject, HeadObject, DeleteObject, CopyObject, and object
// tagging.

import { authorizeTags, objectAclFor } from './acl.js';
import { S3Error } from '../errors.js';
import type { ObjectVersion } from '../meta/types.js';
import type { ObjectStore } from '../object/store.js';
import { evaluateConditions } from './conditions.js';
import { type S3Ctx, type S3Deps, bucketOf, keyOf, q, readSmallBody, sendXml } from './context.js';
import { setExpirationHeader } from './lifecycle.js';
import { header, setObjectHeaders, storedHeaders, userMetadata } from './headers.js';
import { contentMd5, declaredChecksum, refuseUnsupported, storageClass, taggingHeader } from './object-input.js';
import { parseRange } from './range.js';
import { MAX_XML_BODY, parseTagging, taggingXml } from './xml.js';
import { checksumHeaderName } from '../util/checksums.js';
import { copyObject } from './copy.js';
import { readCustomerKey, setSseHeaders, writeSse } from './sse-headers.js';

const MAX_PUT_SIZE = 5 * 1024 ** 3;

async function isVersioned(store: ObjectStore, bucket: string): Promise<boolean> {
  return (await store.getBucket(bucket)).versioning !== 'Unversioned';
}

export async function putObject(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  if (header(ctx, 'x-amz-copy-source') !== undefined) return copyObject(deps, ctx);
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  refuseUnsupported(ctx);
  const md5 = contentMd5(ctx);
  const sum = declaredChecksum(ctx);
  const headers = storedHeaders(ctx);
  const userMeta = userMetadata(ctx);
  const tags = taggingHeader(ctx);
  const sc = storageClass(ctx);
  const acl = await objectAclFor(deps, ctx, bucket);
  await authorizeTags(deps, ctx, bucket, key, tags);
  const encryption = await writeSse(ctx, deps, bucket);

  const body = deps.openBody(ctx);
  if (body.size === undefined && header(ctx, 'transfer-encoding') === undefined) throw new S3Error('MissingContentLength');
  if (body.size !== undefined && body.size > MAX_PUT_SIZE) throw new S3Error('EntityTooLarge', undefined, { ProposedSize: String(body.size), MaxSizeAllowed: String(MAX_PUT_SIZE) });

  const v = await deps.store.putObject(bucket, key, body.stream, {
    expectedSize: body.size,
    headers,
    userMeta,
    contentMd5: md5,
    checksumAlgorithm: sum.algorithm,
    expectedChecksum: sum.value,
    trailerChecksum: sum.inTrailer ? body.trailerValue : undefined,
    checksumVerifiedUpstream: body.checksumVerified,
    tags,
    storageClass: sc,
    acl,
    encryption,
    ifNoneMatch: header(ctx, 'if-none-match'),
    ifMatch: header(ctx, 'if-match'),
  });
  ctx.set('ETag', `"${v.etag}"`);
  setSseHeaders(ctx, v.sse, encryption?.mode === 'C' ? encryption : undefined);
  await setExpirationHeader(deps, ctx, v);
  if (await isVersioned(deps.store, bucket)) ctx.set('x-amz-version-id', v.versionId);
  if (v.checksum) {
    ctx.set(checksumHeaderName(v.checksum.algorithm), v.checksum.value);
    ctx.set('x-amz-checksum-type', v.checksum.type);
  }
  ctx.status = 200;
  ctx.body = '';
}

/** The version a GET/HEAD/tagging request names; a delete marker by id is 405 as in S3. */
export async function addressed(deps: S3Deps, ctx: S3Ctx, method: string): Promise<ObjectVersion> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const versionId = q(ctx, 'versionId');
  const v = await deps.store.resolve(bucket, key, { versionId });
  if (v.isDeleteMarker) {
    throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: 'DeleteMarker' }, {
      'x-amz-delete-marker': 'true',
      'x-amz-version-id': v.versionId,
      Allow: 'DELETE',
      'Last-Modified': new Date(v.lastModified).toUTCString(),
    });
  }
  return v;
}

const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'Content-Type',
  'response-content-language': 'Content-Language',
  'response-expires': 'Expires',
  'response-cache-control': 'Cache-Control',
  'response-content-disposition': 'Content-Disposition',
  'response-content-encoding': 'Content-Encoding',
};

export async function getOrHeadObject(deps: S3Deps, ctx: S3Ctx, isHead: boolean): Promise<void> {
  // As S3: an unsigned request may not choose the reply's headers (a public text file served
  // as text/html would be a page anyone could plant on this origin).
  if (ctx.state.principal?.kind === 'anonymous' && !isHead && Object.keys(RESPONSE_OVERRIDES).some((p) => q(ctx, p) !== undefined)) {
    throw new S3Error('InvalidRequest', 'Request specific response headers cannot be used for anonymous GET requests.');
  }
  const customerKey = readCustomerKey(ctx);
  const v = await addressed(deps, ctx, isHead ? 'HEAD' : 'GET');
  // An encrypted object is described (HEAD included) only to a request with the right key.
  deps.store.sse.dataKeyForRead(v.sse, customerKey?.key);
  const bucket = bucketOf(ctx);
  const versioned = await isVersioned(deps.store, bucket);
  const checksumMode = (header(ctx, 'x-amz-checksum-mode') ?? '').toUpperCase() === 'ENABLED';

  // Which bytes: a part (partNumber) or a Range, not both.
  const partParam = q(ctx, 'partNumber');
  let start = 0;
  let end = v.size - 1;
  let partial = false;
  let partsCount: number | undefined;
  if (partParam !== undefined) {
    if (header(ctx, 'range') !== undefined) throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
    const n = Number(partParam);
    if (!/^\d+$/.test(partParam) || n < 1 || n > 10000) throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: partParam });
    if (v.data?.kind === 'parts') {
      const parts = v.data.parts;
      partsCount = parts.length;
      if (n > parts.length) throw new S3Error('InvalidPartNumber', 'The requested partnumber is not satisfiable', { PartNumberRequested: partParam, ActualPartCount: String(parts.length) });
      start = parts.slice(0, n - 1).reduce((a, p) => a + p.size, 0);
      end = start + parts[n - 1].size - 1;
      partial = true;
    } else if (n !== 1) {
      throw new S3Error('InvalidPartNumber', 'The requested partnumber is not satisfiable', { PartNumberRequested: partParam, ActualPartCount: '1' });
    } else if (v.size > 0) {
      // Part 1 of a single-part object is all of it, answered as a range (206 + Content-Range) as S3 does.
      partial = true;
    }
  }

  // Conditions come first (412/304 win over a bad Range), then the range itself.
  let rangeError: unknown;
  if (partParam === undefined) {
    try {
      const r = parseRange(header(ctx, 'range'), v.size);
      if (r) {
        start = r.start;
        end = r.end;
        partial = true;
      }
    } catch (e) {
      rangeError = e;
    }
  }
  // A checksum describes the whole object: S3 returns it only when the whole object is sent.
  setObjectHeaders(ctx, v, { versioned, checksumMode: checksumMode && !partial, partsCount });
  // S3 describes the current version's expiry; a request for a given version gets none.
  if (q(ctx, 'versionId') === undefined) await setExpirationHeader(deps, ctx, v);
  setSseHeaders(ctx, v.sse, customerKey);
  evaluateConditions(v, {
    ifMatch: header(ctx, 'if-match'),
    ifNoneMatch: header(ctx, 'if-none-match'),
    ifModifiedSince: header(ctx, 'if-modified-since'),
    ifUnmodifiedSince: header(ctx, 'if-unmodified-since'),
  });
  if (rangeError) throw rangeError;
  if (!isHead) {
    for (const [param, name] of Object.entries(RESPONSE_OVERRIDES)) {
      const val = q(ctx, param);
      if (val === undefined) continue;
      // A header carries ISO-8859-1 only (and no control characters); S3 refuses anything else.
      if (/[^\t\x20-\x7e\x80-\xff]/.test(val)) {
        throw new S3Error('InvalidArgument', 'Header value cannot be represented using ISO-8859-1.', { ArgumentName: param, ArgumentValue: val });
      }
      ctx.set(name, val);
    }
  }
  const length = Math.max(0, end - start + 1);
  ctx.status = partial ? 206 : 200;
  if (partial) ctx.set('Content-Range', `bytes ${start}-${end}/${v.size}`);
  if (isHead || length === 0) {
    ctx.set('Content-Length', String(length));
    if (!isHead) ctx.body = Buffer.alloc(0);
    return;
  }
  // A small object lives in one metadata record: send it as one buffer, not as a stream.
  const inline = await deps.store.inlineData(v);
  // Shards: the first stripe is read before the status is committed (see openDataReady).
  ctx.body = inline ? inline.subarray(start, end + 1) : await deps.store.openDataReady(v, start, end, customerKey?.key);
  ctx.length = length;
}

export async function deleteObject(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const r = await deps.store.deleteObject(bucket, key, { versionId: q(ctx, 'versionId') });
  if (r.deleteMarker) ctx.set('x-amz-delete-marker', 'true');
  if (r.versionId !== undefined) ctx.set('x-amz-version-id', r.versionId);
  ctx.status = 204;
}

export async function getObjectTagging(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const v = await addressed(deps, ctx, 'GET');
  if (await isVersioned(deps.store, bucketOf(ctx))) ctx.set('x-amz-version-id', v.versionId);
  sendXml(ctx, taggingXml(v.tags ?? {}));
}

export async function putObjectTagging(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  await deps.store.getBucket(bucket);
  const tags = await parseTagging(await readSmallBody(deps, ctx, MAX_XML_BODY), 'object');
  const v = await deps.store.setObjectTags(bucket, key, q(ctx, 'versionId'), tags);
  if (await isVersioned(deps.store, bucket)) ctx.set('x-amz-version-id', v.versionId);
  ctx.status = 200;
  ctx.body = '';
}

export async function deleteObjectTagging(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const bucket = bucketOf(ctx);
  const v = await deps.store.setObjectTags(bucket, keyOf(ctx), q(ctx, 'versionId'), undefined);
  if (await isVersioned(deps.store, bucket)) ctx.set('x-amz-version-id', v.versionId);
  ctx.status = 204;
}
