// Canned ACLs: x-amz-acl on CreateBucket, PutObject, CopyObject, CreateMultipartUpload,
// PutBucketAcl and PutObjectAcl, and GetBucketAcl / GetObjectAcl. Tessera honours the canned
// ACLs (private, public-read, public-read-write, authenticated-read, and for objects
// bucket-owner-read / bucket-owner-full-control, which equal private here because an object's
// owner is its bucket's owner). Grants to individual accounts or e-mail addresses cannot be
// honoured, so they are refused (501), never stored and ignored.

import { canonicalIdOf } from '../auth/identities.js';
import { isPublicAcl } from '../auth/access.js';
import { S3Error } from '../errors.js';
import type { BucketRecord, CannedAcl } from '../meta/types.js';
import { type S3Ctx, type S3Deps, bucketOf, keyOf, q, readSmallBody, sendXml } from './context.js';
import { header } from './headers.js';
import { ALL_USERS, AUTHENTICATED_USERS, MAX_XML_BODY, aclXml, parseAccessControlPolicy, type Owner } from './xml.js';

const BUCKET_ACLS: CannedAcl[] = ['private', 'public-read', 'public-read-write', 'authenticated-read'];
const OBJECT_ACLS: CannedAcl[] = [...BUCKET_ACLS, 'bucket-owner-read', 'bucket-owner-full-control'];
const GRANT_HEADERS = ['x-amz-grant-read', 'x-amz-grant-write', 'x-amz-grant-read-acp', 'x-amz-grant-write-acp', 'x-amz-grant-full-control'];

/** The x-amz-acl of a request (undefined when absent); grants it cannot honour are refused. */
export function cannedAclHeader(ctx: S3Ctx, target: 'bucket' | 'object'): CannedAcl | undefined {
  for (const h of GRANT_HEADERS) {
    if (header(ctx, h) !== undefined) {
      throw new S3Error('NotImplemented', `Explicit grants (${h}) are not supported by this server; use a canned ACL (x-amz-acl) or a bucket policy.`, { Header: h });
    }
  }
  const v = header(ctx, 'x-amz-acl')?.trim();
  return v === undefined ? undefined : parseCannedAcl(v, target);
}

/** A canned ACL name (x-amz-acl, or the acl field of a POST form). */
export function parseCannedAcl(v: string, target: 'bucket' | 'object'): CannedAcl {
  const allowed = target === 'bucket' ? BUCKET_ACLS : OBJECT_ACLS;
  if ((allowed as string[]).includes(v)) return v as CannedAcl;
  if (v === 'aws-exec-read' || v === 'log-delivery-write' || v === 'bucket-owner-read' || v === 'bucket-owner-full-control') {
    throw new S3Error('NotImplemented', `The canned ACL ${v} is not supported by this server for a ${target}.`, { Header: 'x-amz-acl' });
  }
  throw new S3Error('InvalidArgument', `${v} is not a canned ACL.`, { ArgumentName: 'x-amz-acl', ArgumentValue: v });
}

/** Refuses a public ACL on a bucket whose PublicAccessBlock has BlockPublicAcls. */
export function checkAclAllowed(bucket: BucketRecord, acl: CannedAcl | undefined): void {
  if (acl !== undefined && isPublicAcl(acl) && bucket.publicAccessBlock?.blockPublicAcls) throw new S3Error('AccessDenied');
}

/**
 * The ACL an object write asks for, checked against its bucket's PublicAccessBlock and, as in
 * S3, against s3:PutObjectAcl: s3:PutObject alone does not let a writer publish an object.
 */
export async function objectAclFor(deps: S3Deps, ctx: S3Ctx, bucket: string): Promise<CannedAcl | undefined> {
  const acl = cannedAclHeader(ctx, 'object');
  if (acl !== undefined) {
    checkAclAllowed(await deps.store.getBucket(bucket), acl);
    await deps.authorize(ctx, 's3:PutObjectAcl', bucket, ctx.state.target.key);
  }
  return acl;
}

/** Tags on a write need s3:PutObjectTagging besides s3:PutObject, as in S3. */
export async function authorizeTags(deps: S3Deps, ctx: S3Ctx, bucket: string, key: string, tags: Record<string, string> | undefined): Promise<void> {
  if (tags !== undefined) await deps.authorize(ctx, 's3:PutObjectTagging', bucket, key);
}

export function ownerOf(deps: S3Deps, b: BucketRecord): Owner {
  return b.owner === undefined ? deps.owner : { id: canonicalIdOf(b.owner), displayName: b.owner };
}

export async function getBucketAcl(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const b = await deps.store.getBucket(bucketOf(ctx));
  sendXml(ctx, aclXml(ownerOf(deps, b), b.acl));
}

export async function putBucketAcl(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const name = bucketOf(ctx);
  const b = await deps.store.getBucket(name);
  const acl = await requestedAcl(deps, ctx, 'bucket', ownerOf(deps, b));
  checkAclAllowed(b, acl);
  await deps.store.updateBucket(name, { acl: acl === 'private' ? undefined : acl });
  ctx.status = 200;
  ctx.body = '';
}

export async function getObjectAcl(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const bucket = bucketOf(ctx);
  const b = await deps.store.getBucket(bucket);
  const v = await deps.store.resolve(bucket, keyOf(ctx), { versionId: q(ctx, 'versionId') });
  if (v.isDeleteMarker) throw new S3Error('MethodNotAllowed', undefined, { Method: 'GET', ResourceType: 'DeleteMarker' }, { 'x-amz-delete-marker': 'true', Allow: 'DELETE' });
  if (b.versioning !== 'Unversioned') ctx.set('x-amz-version-id', v.versionId);
  sendXml(ctx, aclXml(ownerOf(deps, b), v.acl));
}

export async function putObjectAcl(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const bucket = bucketOf(ctx);
  const b = await deps.store.getBucket(bucket);
  const acl = await requestedAcl(deps, ctx, 'object', ownerOf(deps, b));
  checkAclAllowed(b, acl);
  const v = await deps.store.setObjectAcl(bucket, keyOf(ctx), q(ctx, 'versionId'), acl);
  if (b.versioning !== 'Unversioned') ctx.set('x-amz-version-id', v.versionId);
  ctx.status = 200;
  ctx.body = '';
}

/** The ACL a Put*Acl request sets: x-amz-acl, or an AccessControlPolicy body equal to a canned ACL. */
async function requestedAcl(deps: S3Deps, ctx: S3Ctx, target: 'bucket' | 'object', owner: Owner): Promise<CannedAcl> {
  const canned = cannedAclHeader(ctx, target);
  const body = await readSmallBody(deps, ctx, MAX_XML_BODY);
  if (canned !== undefined && body.length > 0) {
    throw new S3Error('UnexpectedContent', 'This request does not support content');
  }
  if (canned !== undefined) return canned;
  if (body.length === 0) throw new S3Error('MissingSecurityHeader', 'Your request was missing a required header', { MissingHeaderName: 'x-amz-acl' });
  const { ownerId, grants } = await parseAccessControlPolicy(body);
  if (ownerId !== undefined && ownerId !== owner.id) throw new S3Error('AccessDenied');
  // Match the grants against the canned ACLs' shapes; anything else cannot be honoured.
  const rest = new Set<string>();
  let ownerFull = false;
  for (const g of grants) {
    if (g.grantee.type === 'CanonicalUser' && g.grantee.id === owner.id && g.permission === 'FULL_CONTROL') ownerFull = true;
    else if (g.grantee.type === 'Group' && (g.grantee.uri === ALL_USERS || g.grantee.uri === AUTHENTICATED_USERS)) rest.add(`${g.grantee.uri === ALL_USERS ? 'all' : 'auth'}:${g.permission}`);
    else throw new S3Error('NotImplemented', 'Only ACLs equal to a canned ACL (owner FULL_CONTROL plus AllUsers READ/WRITE or AuthenticatedUsers READ) are supported by this server.');
  }
  const shape = [...rest].sort().join(',');
  const byShape: Record<string, CannedAcl> = { '': 'private', 'all:READ': 'public-read', 'all:READ,all:WRITE': 'public-read-write', 'auth:READ': 'authenticated-read' };
  const acl = byShape[shape];
  if (!ownerFull || acl === undefined) {
    throw new S3Error('NotImplemented', 'Only ACLs equal to a canned ACL (owner FULL_CONTROL plus AllUsers READ/WRITE or AuthenticatedUsers READ) are supported by this server.');
  }
  return acl;
}
