// Bucket default encryption: PutBucketEncryption, GetBucketEncryption, DeleteBucketEncryption
// (?encryption). With a default set, every object written to the bucket without encryption
// headers is stored with SSE-S3 (sse-headers.ts applies it). Amazon S3 has encrypted every
// object this way since 2023; Tessera does so only where a master key is configured, and a
// default it could not honour is refused rather than accepted.

import { S3Error } from '../errors.js';
import { noMasterKeyError } from '../object/sse.js';
import { type S3Ctx, type S3Deps, bucketOf, sendXml } from './context.js';
import { readCheckedConfigBody } from './object-input.js';
import { bucketEncryptionXml, parseBucketEncryption } from './xml.js';

const MAX_ENCRYPTION_BODY = 64 * 1024;

export async function putBucketEncryption(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const name = bucketOf(ctx);
  await deps.store.getBucket(name);
  const rule = await parseBucketEncryption(await readCheckedConfigBody(deps, ctx, MAX_ENCRYPTION_BODY));
  if (rule.algorithm === 'kms') {
    throw new S3Error('NotImplemented', `Default encryption with ${rule.name} (SSE-KMS) is not supported by this server; use AES256.`, { Header: 'SSEAlgorithm' });
  }
  if (!deps.store.sse.hasMasterKey) throw noMasterKeyError();
  await deps.store.updateBucket(name, { encryption: rule });
  ctx.status = 200;
  ctx.body = '';
}

export async function getBucketEncryption(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const b = await deps.store.getBucket(bucketOf(ctx));
  if (!b.encryption) throw new S3Error('ServerSideEncryptionConfigurationNotFoundError', undefined, { BucketName: b.name });
  sendXml(ctx, bucketEncryptionXml(b.encryption));
}

/** 204 whether or not there was a default, as S3. Objects already written stay as they are. */
export async function deleteBucketEncryption(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const name = bucketOf(ctx);
  const b = await deps.store.getBucket(name);
  if (b.encryption) await deps.store.updateBucket(name, { encryption: undefined });
  ctx.status = 204;
}
