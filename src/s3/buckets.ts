// Service and bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket,
// GetBucketLocation, bucket versioning and bucket tagging.

import { S3Error } from '../errors.js';
import { type S3Ctx, type S3Deps, bucketOf, parseIntParam, q, readSmallBody, sendXml } from './context.js';
import { canonicalIdOf } from '../auth/identities.js';
import { cannedAclHeader } from './acl.js';
import { header } from './headers.js';
import { validateBucketName } from './names.js';
import { MAX_XML_BODY, listBucketsXml, locationXml, parseCreateBucketConfiguration, parseTagging, parseVersioningConfiguration, taggingXml, versioningXml } from './xml.js';

export async function listBuckets(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  let buckets = await deps.store.listBuckets();
  // A user sees the buckets they own and those their policies (or a bucket policy) let them list.
  const p = ctx.state.principal;
  if (p?.kind === 'user') {
    const visible = [];
    for (const b of buckets) {
      // A bucket deleted meanwhile is simply not shown.
      const may = b.owner === p.name || (await deps.allowed(ctx, 's3:ListBucket', b.name).catch((e: unknown) => {
        if (e instanceof S3Error && e.code === 'NoSuchBucket') return false;
        throw e;
      }));
      if (may) visible.push(b);
    }
    buckets = visible;
  }
  const prefix = q(ctx, 'prefix');
  if (prefix) buckets = buckets.filter((b) => b.name.startsWith(prefix));
  // Pagination (max-buckets, continuation-token). The token is opaque to clients; ours is the
  // last bucket name returned, base64url-encoded. Buckets come in name order.
  const token = q(ctx, 'continuation-token');
  if (token !== undefined) {
    const after = Buffer.from(token, 'base64url').toString('utf8');
    if (token === '' || Buffer.from(after, 'utf8').toString('base64url') !== token) {
      throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
    }
    buckets = buckets.filter((b) => b.name > after);
  }
  const max = parseIntParam('max-buckets', q(ctx, 'max-buckets'), 10000, 1, 10000);
  let next: string | undefined;
  if (buckets.length > max) {
    buckets = buckets.slice(0, max);
    next = Buffer.from(buckets[buckets.length - 1].name, 'utf8').toString('base64url');
  }
  const owner = p?.kind === 'user' ? { id: canonicalIdOf(p.name), displayName: p.name } : deps.owner;
  sendXml(ctx, listBucketsXml(buckets, owner, { prefix, continuationToken: next }));
}

export async function createBucket(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const name = bucketOf(ctx);
  validateBucketName(name);
  const body = await readSmallBody(deps, ctx, MAX_XML_BODY);
  const conf = body.length > 0 ? await parseCreateBucketConfiguration(body) : {};
  const acl = cannedAclHeader(ctx, 'bucket');
  // Object Ownership: Tessera's objects always belong to the bucket's owner (BucketOwnerPreferred
  // behaviour without the setting); asking for anything else cannot be honoured.
  const ownership = header(ctx, 'x-amz-object-ownership');
  if (ownership !== undefined && ownership !== 'BucketOwnerPreferred') {
    throw new S3Error('NotImplemented', `Object ownership ${ownership} is not supported by this server.`, { Header: 'x-amz-object-ownership' });
  }
  if (header(ctx, 'x-amz-bucket-object-lock-enabled')?.toLowerCase() === 'true') {
    throw new S3Error('NotImplemented', 'Object lock is not supported by this server.', { Header: 'x-amz-bucket-object-lock-enabled' });
  }
  const region = conf.locationConstraint || 'us-east-1';
  // One region per server: asking for another one is what S3 answers with this error.
  if (conf.locationConstraint !== undefined && conf.locationConstraint !== '' && region !== deps.region) {
    throw new S3Error('InvalidLocationConstraint', 'The specified location-constraint is not valid', { LocationConstraint: region });
  }
  try {
    const p = ctx.state.principal;
    await deps.store.createBucket(name, deps.region, { owner: p?.kind === 'user' ? p.name : undefined, acl });
  } catch (e) {
    // In us-east-1, S3 answers 200 to a CreateBucket of a bucket the caller already owns (its
    // legacy behaviour, which clients and test suites rely on) and changes nothing; in every
    // other region it is 409 BucketAlreadyOwnedByYou.
    if (!(e instanceof S3Error && e.code === 'BucketAlreadyOwnedByYou' && deps.region === 'us-east-1')) throw e;
  }
  ctx.set('Location', `/${name}`);
  ctx.status = 200;
  ctx.body = '';
}

export async function headBucket(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const b = await deps.store.getBucket(bucketOf(ctx));
  ctx.set('x-amz-bucket-region', b.region);
  ctx.status = 200;
}

export async function deleteBucket(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  await deps.store.deleteBucket(bucketOf(ctx));
  ctx.status = 204;
}

export async function getBucketLocation(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const b = await deps.store.getBucket(bucketOf(ctx));
  sendXml(ctx, locationXml(b.region));
}

export async function getBucketVersioning(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const b = await deps.store.getBucket(bucketOf(ctx));
  sendXml(ctx, versioningXml(b.versioning));
}

export async function putBucketVersioning(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const name = bucketOf(ctx);
  await deps.store.getBucket(name);
  const conf = await parseVersioningConfiguration(await readSmallBody(deps, ctx, MAX_XML_BODY));
  if (conf.status) await deps.store.setVersioning(name, conf.status);
  ctx.status = 200;
  ctx.body = '';
}

export async function getBucketTagging(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const b = await deps.store.getBucket(bucketOf(ctx));
  if (!b.tags) throw new S3Error('NoSuchTagSet', 'The TagSet does not exist', { BucketName: b.name });
  sendXml(ctx, taggingXml(b.tags));
}

export async function putBucketTagging(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const name = bucketOf(ctx);
  await deps.store.getBucket(name);
  const tags = await parseTagging(await readSmallBody(deps, ctx, MAX_XML_BODY), 'bucket');
  await deps.store.setBucketTags(name, tags);
  ctx.status = 204;
}

export async function deleteBucketTagging(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  await deps.store.setBucketTags(bucketOf(ctx), undefined);
  ctx.status = 204;
}
