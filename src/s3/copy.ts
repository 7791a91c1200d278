// CopyObject: same or cross bucket, COPY/REPLACE metadata and tagging directives, copy-source
// conditions, copy onto itself with REPLACE (how users change metadata or restore a version).

import { authorizeTags, objectAclFor } from './acl.js';
import { S3Error } from '../errors.js';
import type { ObjectVersion } from '../meta/types.js';
import { evaluateConditions } from './conditions.js';
import { type S3Ctx, type S3Deps, bucketOf, keyOf, sendXml } from './context.js';
import { setExpirationHeader } from './lifecycle.js';
import { header, storedHeaders, userMetadata } from './headers.js';
import { declaredChecksum, refuseUnsupported, storageClass, taggingHeader } from './object-input.js';
import { copyObjectResultXml } from './xml.js';
import { parseCopySource, type CopySource } from './validate.js';
import { copySourceCustomerKey, setSseHeaders, writeSse } from './sse-headers.js';

/** Resolves the source version and checks the x-amz-copy-source-if-* conditions. */
export async function resolveCopySource(deps: S3Deps, ctx: S3Ctx): Promise<{ src: CopySource; v: ObjectVersion }> {
  const src = parseCopySource(header(ctx, 'x-amz-copy-source')!);
  // Reading the source needs its own permission, as for a GET of it.
  await deps.authorize(ctx, src.versionId !== undefined ? 's3:GetObjectVersion' : 's3:GetObject', src.bucket, src.key, src.versionId);
  let v: ObjectVersion;
  try {
    v = await deps.store.resolve(src.bucket, src.key, { versionId: src.versionId });
  } catch (e) {
    if (e instanceof S3Error && e.code === 'NoSuchKey') throw new S3Error('NoSuchKey', undefined, { Key: src.key });
    throw e;
  }
  if (v.isDeleteMarker) {
    // S3 answers a delete marker as copy source with 400 InvalidRequest.
    throw new S3Error('InvalidRequest', 'The source of a copy request may not specifically refer to a delete marker by version id.');
  }
  evaluateConditions(v, {
    ifMatch: header(ctx, 'x-amz-copy-source-if-match'),
    ifNoneMatch: header(ctx, 'x-amz-copy-source-if-none-match'),
    ifModifiedSince: header(ctx, 'x-amz-copy-source-if-modified-since'),
    ifUnmodifiedSince: header(ctx, 'x-amz-copy-source-if-unmodified-since'),
  }, true);
  return { src, v };
}

export async function copyObject(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  refuseUnsupported(ctx);
  const acl = await objectAclFor(deps, ctx, bucket);
  const metaDirective = (header(ctx, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  const tagDirective = (header(ctx, 'x-amz-tagging-directive') ?? 'COPY').toUpperCase();
  if (metaDirective !== 'COPY' && metaDirective !== 'REPLACE') throw new S3Error('InvalidArgument', 'Unknown metadata directive.', { ArgumentName: 'x-amz-metadata-directive', ArgumentValue: metaDirective });
  if (tagDirective !== 'COPY' && tagDirective !== 'REPLACE') throw new S3Error('InvalidArgument', 'Unknown tagging directive.', { ArgumentName: 'x-amz-tagging-directive', ArgumentValue: tagDirective });
  const { src, v } = await resolveCopySource(deps, ctx);

  const sc = storageClass(ctx);
  const sum = declaredChecksum(ctx);
  // The source is opened with its own key (if SSE-C); the copy is encrypted as this request
  // (or the destination bucket's default) says, never as the source was.
  const sourceKey = copySourceCustomerKey(ctx);
  deps.store.sse.dataKeyForRead(v.sse, sourceKey?.key);
  const encryption = await writeSse(ctx, deps, bucket);
  // Only encryption the request names makes a copy onto itself a change (a bucket default does not).
  const asksForEncryption = header(ctx, 'x-amz-server-side-encryption') !== undefined || header(ctx, 'x-amz-server-side-encryption-customer-algorithm') !== undefined;
  const sameObject = src.bucket === bucket && src.key === key && src.versionId === undefined;
  if (sameObject && metaDirective === 'COPY' && tagDirective === 'COPY' && sc === undefined && sum.algorithm === undefined && !asksForEncryption) {
    throw new S3Error('InvalidRequest', "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
  }
  const replace = metaDirective === 'REPLACE';
  const headers = replace ? storedHeaders(ctx) : v.headers;
  const userMeta = replace ? userMetadata(ctx) : v.userMeta;
  const tags = tagDirective === 'REPLACE' ? taggingHeader(ctx) : v.tags;
  if (tagDirective === 'REPLACE') await authorizeTags(deps, ctx, bucket, key, tags);
  // Keep the source's checksum algorithm unless the request names another.
  const algorithm = sum.algorithm ?? v.checksum?.algorithm;

  const out = await deps.store.putObject(bucket, key, deps.store.openData(v, 0, v.size - 1, sourceKey?.key), {
    expectedSize: v.size,
    headers,
    userMeta,
    checksumAlgorithm: algorithm,
    tags,
    storageClass: sc ?? v.storageClass,
    // S3 gives a copy the ACL of the request (private by default), never the source's.
    acl,
    encryption,
    ifNoneMatch: header(ctx, 'if-none-match'),
    ifMatch: header(ctx, 'if-match'),
  });
  const srcBucket = await deps.store.getBucket(src.bucket);
  if (srcBucket.versioning !== 'Unversioned') ctx.set('x-amz-copy-source-version-id', v.versionId);
  if ((await deps.store.getBucket(bucket)).versioning !== 'Unversioned') ctx.set('x-amz-version-id', out.versionId);
  setSseHeaders(ctx, out.sse, encryption?.mode === 'C' ? encryption : undefined);
  await setExpirationHeader(deps, ctx, out);
  sendXml(ctx, copyObjectResultXml(out.etag, out.lastModified, out.checksum));
}
