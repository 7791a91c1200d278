// GetObjectAttributes (GET /key?attributes): what HeadObject and ListParts would tell about one
// object version, in one XML reply, limited to the attributes the x-amz-object-attributes
// header names.

import { S3Error } from '../errors.js';
import { type S3Ctx, type S3Deps, bucketOf, sendXml } from './context.js';
import { header } from './headers.js';
import { addressed } from './objects.js';
import { readCustomerKey, setSseHeaders } from './sse-headers.js';
import { objectAttributesXml, type ObjectAttribute } from './xml.js';

const ATTRIBUTES: readonly ObjectAttribute[] = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'];

/** The x-amz-object-attributes list: required, known names only (S3 refuses an unknown one). */
function requestedAttributes(ctx: S3Ctx): Set<ObjectAttribute> {
  const raw = header(ctx, 'x-amz-object-attributes');
  const names = (raw ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) {
    throw new S3Error('InvalidRequest', 'The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty');
  }
  const out = new Set<ObjectAttribute>();
  for (const n of names) {
    if (!(ATTRIBUTES as readonly string[]).includes(n)) {
      throw new S3Error('InvalidArgument', 'Invalid attribute name specified.', { ArgumentName: 'x-amz-object-attributes', ArgumentValue: n });
    }
    out.add(n as ObjectAttribute);
  }
  return out;
}

/** x-amz-max-parts (default and most 1000) and x-amz-part-number-marker (default 0). */
function intHeader(ctx: S3Ctx, name: string, dflt: number, max: number): number {
  const v = header(ctx, name);
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n > Number.MAX_SAFE_INTEGER) {
    throw new S3Error('InvalidArgument', `${name} must be a non-negative integer`, { ArgumentName: name, ArgumentValue: v });
  }
  return Math.min(n, max);
}

export async function getObjectAttributes(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const wanted = requestedAttributes(ctx);
  const maxParts = intHeader(ctx, 'x-amz-max-parts', 1000, 1000);
  const marker = intHeader(ctx, 'x-amz-part-number-marker', 0, 10_000);
  const customerKey = readCustomerKey(ctx);
  const v = await addressed(deps, ctx, 'GET');
  // As for HEAD: an SSE-C object is described only to a request with its key.
  deps.store.sse.dataKeyForRead(v.sse, customerKey?.key);
  if ((await deps.store.getBucket(bucketOf(ctx))).versioning !== 'Unversioned') ctx.set('x-amz-version-id', v.versionId);
  ctx.set('Last-Modified', new Date(v.lastModified).toUTCString());
  setSseHeaders(ctx, v.sse, customerKey);
  sendXml(ctx, objectAttributesXml({
    etag: wanted.has('ETag') ? v.etag : undefined,
    checksum: wanted.has('Checksum') ? v.checksum : undefined,
    // Only an object made by multipart upload has parts to describe.
    parts: wanted.has('ObjectParts') && v.data?.kind === 'parts' ? { all: v.data.parts, marker, maxParts } : undefined,
    storageClass: wanted.has('StorageClass') ? (v.storageClass ?? 'STANDARD') : undefined,
    size: wanted.has('ObjectSize') ? v.size : undefined,
  }));
}
