// Bucket lifecycle configuration: PutBucketLifecycleConfiguration, GetBucketLifecycleConfiguration
// and DeleteBucketLifecycle (?lifecycle). The rules are kept in the bucket record; the
// background worker (object/lifecycle-worker.ts) acts on them, and object/lifecycle-rules.ts
// says which rule expires an object when (the x-amz-expiration header).

import { S3Error } from '../errors.js';
import type { MultipartUpload, ObjectVersion } from '../meta/types.js';
import { earliestExpiry, expirationHeader, uploadAbortAt } from '../object/lifecycle-rules.js';
import { type S3Ctx, type S3Deps, bucketOf, sendXml } from './context.js';
import { readCheckedConfigBody } from './object-input.js';
import { lifecycleXml, parseLifecycleConfiguration } from './xml.js';

/** 1000 rules with long IDs, prefixes and tags fit; S3 does not say its own limit. */
const MAX_LIFECYCLE_BODY = 2 * 1024 * 1024;

export async function putBucketLifecycle(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const name = bucketOf(ctx);
  await deps.store.getBucket(name);
  const rules = await parseLifecycleConfiguration(await readCheckedConfigBody(deps, ctx, MAX_LIFECYCLE_BODY));
  await deps.store.updateBucket(name, { lifecycle: rules });
  // S3 answers with the default minimum size for transitions; there are none here.
  ctx.set('x-amz-transition-default-minimum-object-size', 'all_storage_classes_128K');
  ctx.status = 200;
  ctx.body = '';
}

export async function getBucketLifecycle(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const b = await deps.store.getBucket(bucketOf(ctx));
  if (!b.lifecycle || b.lifecycle.length === 0) throw new S3Error('NoSuchLifecycleConfiguration', undefined, { BucketName: b.name });
  ctx.set('x-amz-transition-default-minimum-object-size', 'all_storage_classes_128K');
  sendXml(ctx, lifecycleXml(b.lifecycle));
}

/** 204 whether or not there was a configuration, as S3. */
export async function deleteBucketLifecycle(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const name = bucketOf(ctx);
  const b = await deps.store.getBucket(name);
  if (b.lifecycle) await deps.store.updateBucket(name, { lifecycle: undefined });
  ctx.status = 204;
}

/**
 * x-amz-expiration on replies that describe a current version (PUT, GET, HEAD, copy, complete):
 * when a rule's Expiration will expire it, and which rule.
 */
export async function setExpirationHeader(deps: S3Deps, ctx: S3Ctx, v: ObjectVersion): Promise<void> {
  const rules = (await deps.store.getBucket(v.bucket)).lifecycle;
  if (!rules || v.isDeleteMarker) return;
  const e = earliestExpiry(deps.store.lifecycleClock, rules, v);
  if (e) ctx.set('x-amz-expiration', expirationHeader(e));
}

/** CreateMultipartUpload: x-amz-abort-date and x-amz-abort-rule-id when a rule will abort the upload. */
export async function setAbortHeaders(deps: S3Deps, ctx: S3Ctx, u: MultipartUpload): Promise<void> {
  let best: { at: number; id: string } | undefined;
  for (const r of (await deps.store.getBucket(u.bucket)).lifecycle ?? []) {
    const at = uploadAbortAt(deps.store.lifecycleClock, r, u);
    if (at !== undefined && (!best || at < best.at)) best = { at, id: r.id };
  }
  if (!best) return;
  ctx.set('x-amz-abort-date', new Date(best.at).toUTCString());
  ctx.set('x-amz-abort-rule-id', best.id);
}
