// Multipart upload operations: CreateMultipartUpload, UploadPart, UploadPartCopy,
// CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads.

import { authorizeTags, objectAclFor } from './acl.js';
import { makeBodyVerifier } from '../auth/payload.js';
import { S3Error } from '../errors.js';
import { CHECKSUM_ALGORITHMS, checksumHeaderName, parseChecksumAlgorithm } from '../util/checksums.js';
import type { ChecksumAlgorithm } from '../meta/types.js';
import { pipeline, type Readable } from 'node:stream';
import { MAX_PARTS } from '../object/multipart.js';
import { type S3Ctx, type S3Deps, bucketOf, keyOf, parseIntParam, q, refuseDeclaredOver, sendXml } from './context.js';
import { setAbortHeaders, setExpirationHeader } from './lifecycle.js';
import { resolveCopySource } from './copy.js';
import { copySourceCustomerKey, partSse, setSseHeaders, writeSse } from './sse-headers.js';
import { header, storedHeaders, userMetadata } from './headers.js';
import { contentMd5, declaredChecksum, refuseUnsupported, storageClass, taggingHeader } from './object-input.js';
import {
  MAX_XML_BODY,
  completeMultipartUploadXml,
  copyPartResultXml,
  initiateMultipartUploadXml,
  listMultipartUploadsXml,
  listPartsXml,
  parseCompleteMultipartUpload,
} from './xml.js';

const MAX_PART_SIZE = 5 * 1024 ** 3;

function uploadIdOf(ctx: S3Ctx): string {
  const id = q(ctx, 'uploadId');
  if (!id) throw new S3Error('NoSuchUpload', undefined, { UploadId: id ?? '' });
  return id;
}

function partNumberOf(ctx: S3Ctx): number {
  const v = q(ctx, 'partNumber') ?? '';
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > MAX_PARTS) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: v });
  }
  return n;
}

export async function createMultipartUpload(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  refuseUnsupported(ctx);
  const algHeader = header(ctx, 'x-amz-checksum-algorithm');
  const algorithm = algHeader !== undefined ? parseChecksumAlgorithm(algHeader) : undefined;
  if (algHeader !== undefined && !algorithm) throw new S3Error('InvalidRequest', 'Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]');
  const typeHeader = header(ctx, 'x-amz-checksum-type')?.toUpperCase();
  if (typeHeader !== undefined && typeHeader !== 'FULL_OBJECT' && typeHeader !== 'COMPOSITE') throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
  if (typeHeader && !algorithm) throw new S3Error('InvalidRequest', 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.');
  if (typeHeader === 'COMPOSITE' && algorithm === 'CRC64NVME') throw new S3Error('InvalidRequest', 'The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.');
  if (typeHeader === 'FULL_OBJECT' && (algorithm === 'SHA1' || algorithm === 'SHA256')) throw new S3Error('InvalidRequest', `The FULL_OBJECT checksum type cannot be used with the ${algorithm.toLowerCase()} checksum algorithm.`);
  const tags = taggingHeader(ctx);
  await authorizeTags(deps, ctx, bucket, key, tags);
  const encryption = await writeSse(ctx, deps, bucket);
  const u = await deps.store.multipart.create(bucket, key, {
    encryption,
    headers: storedHeaders(ctx),
    userMeta: userMetadata(ctx),
    checksumAlgorithm: algorithm,
    checksumType: typeHeader as 'FULL_OBJECT' | 'COMPOSITE' | undefined,
    tags,
    storageClass: storageClass(ctx),
    acl: await objectAclFor(deps, ctx, bucket),
  });
  if (u.checksumAlgorithm) {
    ctx.set('x-amz-checksum-algorithm', u.checksumAlgorithm);
    ctx.set('x-amz-checksum-type', u.checksumType!);
  }
  setSseHeaders(ctx, u.sse, encryption?.mode === 'C' ? encryption : undefined);
  await setAbortHeaders(deps, ctx, u);
  sendXml(ctx, initiateMultipartUploadXml(bucket, key, u.uploadId));
}

export async function uploadPart(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  if (header(ctx, 'x-amz-copy-source') !== undefined) return uploadPartCopy(deps, ctx);
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const uploadId = uploadIdOf(ctx);
  const partNumber = partNumberOf(ctx);
  const md5 = contentMd5(ctx);
  const sum = declaredChecksum(ctx);
  const encryption = partSse(ctx);
  const upload = await deps.store.multipart.get(bucket, key, uploadId);
  // Refused before the body is read: a part the upload's key would not match.
  deps.store.sse.dataKeyForPart(upload.sse, encryption);
  const body = deps.openBody(ctx);
  if (body.size === undefined && header(ctx, 'transfer-encoding') === undefined) throw new S3Error('MissingContentLength');
  if (body.size !== undefined && body.size > MAX_PART_SIZE) throw new S3Error('EntityTooLarge', undefined, { ProposedSize: String(body.size), MaxSizeAllowed: String(MAX_PART_SIZE) });
  const part = await deps.store.multipart.uploadPart(bucket, key, uploadId, partNumber, body.stream, {
    expectedSize: body.size,
    contentMd5: md5,
    checksumAlgorithm: sum.algorithm,
    expectedChecksum: sum.value,
    trailerChecksum: sum.inTrailer ? body.trailerValue : undefined,
    checksumVerifiedUpstream: body.checksumVerified,
    encryption,
  });
  ctx.set('ETag', `"${part.etag}"`);
  setSseHeaders(ctx, upload.sse, encryption?.mode === 'C' ? encryption : undefined);
  if (part.checksumAlgorithm && part.checksum) ctx.set(checksumHeaderName(part.checksumAlgorithm), part.checksum);
  ctx.status = 200;
  ctx.body = '';
}

export async function uploadPartCopy(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const uploadId = uploadIdOf(ctx);
  const partNumber = partNumberOf(ctx);
  const encryption = partSse(ctx);
  const upload = await deps.store.multipart.get(bucket, key, uploadId);
  deps.store.sse.dataKeyForPart(upload.sse, encryption);
  const { v } = await resolveCopySource(deps, ctx);
  const sourceKey = copySourceCustomerKey(ctx);
  deps.store.sse.dataKeyForRead(v.sse, sourceKey?.key);
  let start = 0;
  let end = v.size - 1;
  const rangeHeader = header(ctx, 'x-amz-copy-source-range');
  if (rangeHeader !== undefined) {
    const m = /^bytes=(\d+)-(\d+)$/.exec(rangeHeader.trim());
    if (!m) throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: rangeHeader });
    start = Number(m[1]);
    end = Number(m[2]);
    if (end < start || end >= v.size) {
      // Unlike a GET Range, AWS answers a copy-source range outside the source with 400.
      throw new S3Error('InvalidArgument', `Range specified is not valid for source object of size: ${v.size}`, { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: rangeHeader });
    }
  }
  if (end - start + 1 > MAX_PART_SIZE) throw new S3Error('InvalidRequest', 'The specified copy source is larger than the maximum allowable size for a copy source: 5368709120');
  const part = await deps.store.multipart.uploadPart(bucket, key, uploadId, partNumber, deps.store.openData(v, start, end, sourceKey?.key), {
    expectedSize: Math.max(0, end - start + 1),
    encryption,
  });
  setSseHeaders(ctx, upload.sse, encryption?.mode === 'C' ? encryption : undefined);
  const srcBucket = await deps.store.getBucket(v.bucket);
  if (srcBucket.versioning !== 'Unversioned') ctx.set('x-amz-copy-source-version-id', v.versionId);
  sendXml(ctx, copyPartResultXml(part.etag, part.lastModified, part.checksumAlgorithm && part.checksum ? { algorithm: part.checksumAlgorithm, value: part.checksum } : undefined));
}

export async function completeMultipartUpload(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const uploadId = uploadIdOf(ctx);
  await deps.store.getBucket(bucket);
  // Complete needs no key; one sent (SDKs may) is checked for form, and echoed as S3 does.
  const customer = partSse(ctx);
  refuseDeclaredOver(ctx, MAX_XML_BODY);
  // The x-amz-checksum-* header of Complete describes the whole object, not this XML body.
  const verifier = makeBodyVerifier(ctx.state.auth!, ctx.req.headers, { checksumHeaderDescribesBody: false });
  const stream: Readable = verifier ? (pipeline(deps.rawBody(ctx), verifier, () => undefined) as Readable) : deps.rawBody(ctx);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > MAX_XML_BODY) throw new S3Error('MaxMessageLengthExceeded', 'Your request was too big.');
    chunks.push(c);
  }
  const req = await parseCompleteMultipartUpload(Buffer.concat(chunks));
  // The whole object's checksum, if the client sent it (a COMPOSITE value ends in "-N").
  let declared: { algorithm: ChecksumAlgorithm; value: string } | undefined;
  for (const alg of CHECKSUM_ALGORITHMS) {
    const value = header(ctx, checksumHeaderName(alg));
    if (value !== undefined) declared = { algorithm: alg, value: value.trim() };
  }
  const v = await deps.store.multipart.complete(bucket, key, uploadId, req.parts, {
    ifNoneMatch: header(ctx, 'if-none-match'),
    ifMatch: header(ctx, 'if-match'),
  }, declared);
  const b = await deps.store.getBucket(bucket);
  if (b.versioning !== 'Unversioned') ctx.set('x-amz-version-id', v.versionId);
  setSseHeaders(ctx, v.sse, customer?.mode === 'C' ? customer : undefined);
  await setExpirationHeader(deps, ctx, v);
  const host = ctx.req.headers.host ?? 'localhost';
  const location = ctx.state.target.virtualHost ? `http://${host}/${encodeURI(key)}` : `http://${host}/${bucket}/${encodeURI(key)}`;
  sendXml(ctx, completeMultipartUploadXml(location, bucket, key, v.etag, v.checksum));
}

export async function abortMultipartUpload(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  await deps.store.multipart.abort(bucketOf(ctx), keyOf(ctx), uploadIdOf(ctx));
  ctx.status = 204;
}

export async function listParts(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const uploadId = uploadIdOf(ctx);
  const u = await deps.store.multipart.get(bucket, key, uploadId);
  const maxParts = parseIntParam('max-parts', q(ctx, 'max-parts'), 1000, 0, 1000);
  const marker = parseIntParam('part-number-marker', q(ctx, 'part-number-marker'), 0, 0);
  const page = await deps.store.meta.listParts(uploadId, marker, maxParts + 1);
  const parts = page.slice(0, maxParts);
  const isTruncated = page.length > maxParts;
  sendXml(ctx, listPartsXml({
    bucket,
    key,
    uploadId,
    owner: deps.owner,
    storageClass: u.storageClass,
    partNumberMarker: marker,
    nextPartNumberMarker: parts.length ? parts[parts.length - 1].partNumber : undefined,
    maxParts,
    isTruncated,
    checksumAlgorithm: u.checksumAlgorithm,
    checksumType: u.checksumType,
    parts,
  }));
}

export async function listMultipartUploads(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const bucket = bucketOf(ctx);
  await deps.store.getBucket(bucket);
  const enc = q(ctx, 'encoding-type');
  if (enc !== undefined && enc !== '' && enc.toLowerCase() !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type', ArgumentValue: enc });
  const maxUploads = parseIntParam('max-uploads', q(ctx, 'max-uploads'), 1000, 0, 1000);
  const prefix = q(ctx, 'prefix') ?? '';
  const delimiter = q(ctx, 'delimiter') || undefined;
  const keyMarker = q(ctx, 'key-marker') || undefined;
  const uploadIdMarker = keyMarker ? q(ctx, 'upload-id-marker') || undefined : undefined;
  const r = await deps.store.meta.listUploads(bucket, { prefix, delimiter, keyMarker, uploadIdMarker, maxUploads });
  sendXml(ctx, listMultipartUploadsXml({
    bucket,
    prefix,
    delimiter,
    maxUploads,
    keyMarker: q(ctx, 'key-marker') ?? '',
    uploadIdMarker: q(ctx, 'upload-id-marker') ?? '',
    nextKeyMarker: r.nextKeyMarker,
    nextUploadIdMarker: r.nextUploadIdMarker,
    isTruncated: r.isTruncated,
    encodingType: enc ? 'url' : undefined,
    uploads: r.uploads,
    commonPrefixes: r.commonPrefixes,
    owner: deps.owner,
  }));
}
