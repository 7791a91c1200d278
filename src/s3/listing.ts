// ListObjects (V1), ListObjectsV2 and ListObjectVersions. Each page is one range scan in the
// metadata store starting at the marker; nothing scans the bucket from the start.

import { S3Error } from '../errors.js';
import type { ObjectVersion } from '../meta/types.js';
import { isWellFormedVersionId } from '../object/ids.js';
import { type S3Ctx, type S3Deps, bucketOf, has, parseIntParam, q, sendXml } from './context.js';
import { listObjectsV1Xml, listObjectsV2Xml, listVersionsXml, type VersionEntry } from './xml.js';

function encodingType(ctx: S3Ctx): 'url' | undefined {
  const e = q(ctx, 'encoding-type');
  if (e === undefined || e === '') return undefined;
  if (e.toLowerCase() !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type', ArgumentValue: e });
  return 'url';
}

function maxKeys(ctx: S3Ctx, name = 'max-keys'): number {
  return parseIntParam(name, q(ctx, name), 1000, 0, 1000);
}

/** Continuation tokens are opaque to clients; ours carry the last key returned. */
function encodeToken(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeToken(token: string): string {
  const incorrect = () => new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
  const s = Buffer.from(token, 'base64url');
  if (token === '' || s.toString('base64url') !== token) throw incorrect();
  // Only a key can be in a token we issued: well-formed UTF-8 without NUL.
  let key: string;
  try {
    key = utf8.decode(s);
  } catch {
    throw incorrect();
  }
  if (key.includes('\0')) throw incorrect();
  return key;
}

export async function listObjectsV1(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const bucket = bucketOf(ctx);
  const enc = encodingType(ctx);
  const mk = maxKeys(ctx);
  await deps.store.getBucket(bucket);
  const prefix = q(ctx, 'prefix') ?? '';
  const delimiter = q(ctx, 'delimiter') || undefined;
  const marker = q(ctx, 'marker') ?? '';
  const r = await deps.store.listObjects(bucket, { prefix, delimiter, startAfter: marker || undefined, maxKeys: mk });
  sendXml(ctx, listObjectsV1Xml({
    name: bucket,
    prefix,
    delimiter,
    maxKeys: mk,
    marker,
    nextMarker: r.isTruncated && delimiter !== undefined ? r.lastReturned : undefined,
    isTruncated: r.isTruncated,
    encodingType: enc,
    contents: r.objects,
    commonPrefixes: r.commonPrefixes,
    owner: deps.owner,
  }));
}

export async function listObjectsV2(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const bucket = bucketOf(ctx);
  const enc = encodingType(ctx);
  const mk = maxKeys(ctx);
  await deps.store.getBucket(bucket);
  const prefix = q(ctx, 'prefix') ?? '';
  const delimiter = q(ctx, 'delimiter') || undefined;
  const token = q(ctx, 'continuation-token');
  const startAfter = q(ctx, 'start-after');
  // An empty token (which some suites send on the first page) lists from the start, as S3 does,
  // and is echoed as sent.
  const after = token ? decodeToken(token) : startAfter || undefined;
  const r = await deps.store.listObjects(bucket, { prefix, delimiter, startAfter: after, maxKeys: mk });
  sendXml(ctx, listObjectsV2Xml({
    name: bucket,
    prefix,
    delimiter,
    maxKeys: mk,
    continuationToken: token,
    nextContinuationToken: r.isTruncated && r.lastReturned !== undefined ? encodeToken(r.lastReturned) : undefined,
    startAfter,
    isTruncated: r.isTruncated,
    encodingType: enc,
    contents: r.objects,
    commonPrefixes: r.commonPrefixes,
    fetchOwner: q(ctx, 'fetch-owner') === 'true',
    owner: deps.owner,
  }));
}

export async function listObjectVersions(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const bucket = bucketOf(ctx);
  const enc = encodingType(ctx);
  const mk = maxKeys(ctx);
  await deps.store.getBucket(bucket);
  const prefix = q(ctx, 'prefix') ?? '';
  const delimiter = q(ctx, 'delimiter') || undefined;
  const keyMarker = q(ctx, 'key-marker') || undefined;
  const versionIdMarker = q(ctx, 'version-id-marker') || undefined;
  if (versionIdMarker !== undefined && keyMarker === undefined) {
    throw new S3Error('InvalidArgument', 'A version-id marker cannot be specified without a key marker.', { ArgumentName: 'version-id-marker', ArgumentValue: versionIdMarker });
  }
  // As for ?versionId: a marker that cannot be a version id is refused, not silently ignored.
  if (versionIdMarker !== undefined && !isWellFormedVersionId(versionIdMarker)) {
    throw new S3Error('InvalidArgument', 'Invalid version id specified', { ArgumentName: 'version-id-marker', ArgumentValue: versionIdMarker });
  }
  const r = await deps.store.listVersions(bucket, { prefix, delimiter, keyMarker, versionIdMarker, maxKeys: mk });
  // The newest version of each key is the latest; a page that starts inside a key's versions
  // needs to ask which one that is.
  const entries: VersionEntry[] = [];
  let prevKey: string | undefined;
  for (const v of r.versions as ObjectVersion[]) {
    let isLatest = v.key !== prevKey;
    if (isLatest && entries.length === 0 && versionIdMarker !== undefined && v.key === keyMarker) {
      const latest = await deps.store.meta.getLatestVersion(bucket, v.key);
      isLatest = latest?.sortKey === v.sortKey;
    }
    entries.push({ version: v, isLatest });
    prevKey = v.key;
  }
  sendXml(ctx, listVersionsXml({
    name: bucket,
    prefix,
    delimiter,
    maxKeys: mk,
    keyMarker: q(ctx, 'key-marker') ?? '',
    versionIdMarker: q(ctx, 'version-id-marker') ?? '',
    nextKeyMarker: r.isTruncated ? r.nextKeyMarker : undefined,
    nextVersionIdMarker: r.isTruncated ? r.nextVersionIdMarker : undefined,
    isTruncated: r.isTruncated,
    encodingType: enc,
    versions: entries,
    commonPrefixes: r.commonPrefixes,
    owner: deps.owner,
  }));
}

export { has };
