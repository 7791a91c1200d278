// Bucket policies (Put/Get/DeleteBucketPolicy, GetBucketPolicyStatus) and PublicAccessBlock
// (Put/Get/DeletePublicAccessBlock). Evaluation lives in auth/access.ts; this module validates
// and stores the documents.

import { isPublicPolicy, parsePolicy } from '../auth/policy.js';
import { S3Error } from '../errors.js';
import { type S3Ctx, type S3Deps, bucketOf, readSmallBody, sendXml } from './context.js';
import { MAX_XML_BODY, parsePublicAccessBlock, policyStatusXml, publicAccessBlockXml } from './xml.js';

/** S3's limit on a bucket policy. */
const MAX_POLICY_BYTES = 20 * 1024;

export async function putBucketPolicy(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const name = bucketOf(ctx);
  const b = await deps.store.getBucket(name);
  // Read past the limit so an oversized policy gets S3's MalformedPolicy, not a length error.
  const body = await readSmallBody(deps, ctx, 4 * MAX_POLICY_BYTES);
  if (body.length > MAX_POLICY_BYTES) throw new S3Error('MalformedPolicy', 'Policies must be less than 20 KB');
  if (body.length === 0) throw new S3Error('MalformedPolicy', 'Policies must be valid JSON and the first byte must be \'{\'');
  const text = body.toString('utf8');
  const policy = parsePolicy(text, 'bucket', name);
  if (b.publicAccessBlock?.blockPublicPolicy && isPublicPolicy(policy)) throw new S3Error('AccessDenied');
  await deps.store.updateBucket(name, { policy: text });
  ctx.status = 204;
}

export async function getBucketPolicy(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const b = await deps.store.getBucket(bucketOf(ctx));
  if (b.policy === undefined) throw new S3Error('NoSuchBucketPolicy', undefined, { BucketName: b.name });
  ctx.status = 200;
  ctx.type = 'application/json';
  ctx.body = Buffer.from(b.policy, 'utf8');
}

export async function deleteBucketPolicy(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  await deps.store.updateBucket(bucketOf(ctx), { policy: undefined });
  ctx.status = 204;
}

export async function getBucketPolicyStatus(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const b = await deps.store.getBucket(bucketOf(ctx));
  if (b.policy === undefined) throw new S3Error('NoSuchBucketPolicy', undefined, { BucketName: b.name });
  sendXml(ctx, policyStatusXml(isPublicPolicy(parsePolicy(b.policy, 'bucket', b.name))));
}

export async function putPublicAccessBlock(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const name = bucketOf(ctx);
  await deps.store.getBucket(name);
  const conf = await parsePublicAccessBlock(await readSmallBody(deps, ctx, MAX_XML_BODY));
  await deps.store.updateBucket(name, { publicAccessBlock: conf });
  ctx.status = 200;
  ctx.body = '';
}

export async function getPublicAccessBlock(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const b = await deps.store.getBucket(bucketOf(ctx));
  if (!b.publicAccessBlock) throw new S3Error('NoSuchPublicAccessBlockConfiguration', undefined, { BucketName: b.name });
  sendXml(ctx, publicAccessBlockXml(b.publicAccessBlock));
}

export async function deletePublicAccessBlock(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  await deps.store.updateBucket(bucketOf(ctx), { publicAccessBlock: undefined });
  ctx.status = 204;
}
