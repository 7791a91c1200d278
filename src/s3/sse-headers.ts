// Server-side encryption as requests state it and replies echo it: x-amz-server-side-encryption
// (SSE-S3), the x-amz-server-side-encryption-customer-* trio (SSE-C), the
// x-amz-copy-source-server-side-encryption-customer-* trio (the key of a copy's source), and
// the bucket's default encryption. Each malformed or unserved combination gets S3's error
// before any byte is read; the object layer (object/sse.ts) does the cryptography.

import { createHash } from 'node:crypto';
import { S3Error } from '../errors.js';
import type { BucketRecord, SseInfo } from '../meta/types.js';
import { noMasterKeyError, type SseRequest } from '../object/sse.js';
import type { S3Ctx, S3Deps } from './context.js';
import { headerLookup, type Lookup } from './object-input.js';

export type CustomerKey = Extract<SseRequest, { mode: 'C' }>;

const SSE = 'x-amz-server-side-encryption';
const CUSTOMER = 'x-amz-server-side-encryption-customer-';
const COPY_CUSTOMER = 'x-amz-copy-source-server-side-encryption-customer-';

function secure(ctx: S3Ctx): boolean {
  return (ctx.req.socket as { encrypted?: boolean }).encrypted === true;
}

/**
 * The customer key named by one of the header trios (prefix CUSTOMER or COPY_CUSTOMER), or
 * undefined when none of the three is present. S3 refuses the key over plain HTTP: it would
 * have crossed the network in clear.
 */
function customerKeyFrom(ctx: S3Ctx, get: Lookup, prefix = CUSTOMER): CustomerKey | undefined {
  const alg = get(`${prefix}algorithm`);
  const key = get(`${prefix}key`);
  const md5 = get(`${prefix}key-md5`);
  if (alg === undefined && key === undefined && md5 === undefined) return undefined;
  if (!secure(ctx)) throw new S3Error('InvalidRequest', 'Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.');
  if (alg === undefined) {
    throw new S3Error('InvalidArgument', 'Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.', { ArgumentName: `${prefix}algorithm`, ArgumentValue: 'null' });
  }
  if (alg.trim() !== 'AES256') {
    throw new S3Error('InvalidEncryptionAlgorithmError', 'The encryption request you specified is not valid. The valid value is AES256.', { ArgumentName: `${prefix}algorithm`, ArgumentValue: alg });
  }
  if (key === undefined) {
    throw new S3Error('InvalidArgument', 'Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.', { ArgumentName: `${prefix}key`, ArgumentValue: 'null' });
  }
  if (md5 === undefined) {
    throw new S3Error('InvalidArgument', 'Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.', { ArgumentName: `${prefix}key-md5`, ArgumentValue: 'null' });
  }
  const raw = Buffer.from(key.trim(), 'base64');
  // A strict decode: what does not round-trip was not base64 of 32 bytes.
  if (raw.length !== 32 || raw.toString('base64') !== key.trim()) {
    throw new S3Error('InvalidArgument', 'The secret key was invalid for the specified algorithm.', { ArgumentName: `${prefix}key`, ArgumentValue: '*****' });
  }
  const actual = createHash('md5').update(raw).digest('base64');
  if (actual !== md5.trim()) {
    throw new S3Error('InvalidArgument', 'The calculated MD5 hash of the key did not match the hash that was provided.', { ArgumentName: `${prefix}key-md5`, ArgumentValue: md5 });
  }
  return { mode: 'C', key: raw, keyMd5: actual };
}

/** x-amz-server-side-encryption (and the KMS headers we do not serve), as asked; undefined if absent. */
function sseHeaderFrom(get: Lookup): 'AES256' | undefined {
  for (const h of [`${SSE}-aws-kms-key-id`, `${SSE}-context`]) {
    if (get(h) !== undefined) throw kmsError(h);
  }
  const bucketKey = get(`${SSE}-bucket-key-enabled`);
  if (bucketKey !== undefined && bucketKey.trim().toLowerCase() !== 'false') throw kmsError(`${SSE}-bucket-key-enabled`);
  const v = get(SSE);
  if (v === undefined) return undefined;
  const t = v.trim();
  if (t === 'AES256') return 'AES256';
  if (t === 'aws:kms' || t === 'aws:kms:dsse') throw kmsError(SSE);
  throw new S3Error('InvalidArgument', 'The encryption method specified is not supported', { ArgumentName: SSE, ArgumentValue: v });
}

function kmsError(header: string): S3Error {
  return new S3Error('NotImplemented', 'Server-side encryption with AWS KMS keys (SSE-KMS, DSSE-KMS) is not supported by this server; use AES256 (SSE-S3) or SSE-C.', { Header: header });
}

/**
 * What a write (PutObject, CopyObject's destination, CreateMultipartUpload, a POST form)
 * asks for, with the bucket's default encryption applied when it asks for nothing, as S3
 * does. SSE-S3 without a master key is refused, never stored in clear.
 */
export function writeSseFrom(ctx: S3Ctx, deps: S3Deps, bucket: BucketRecord, get: Lookup): SseRequest | undefined {
  const sse = sseHeaderFrom(get);
  const customer = customerKeyFrom(ctx, get);
  if (sse && customer) {
    throw new S3Error('InvalidArgument', 'Server Side Encryption with Customer provided key is incompatible with the encryption method specified', { ArgumentName: SSE, ArgumentValue: sse });
  }
  if (customer) return customer;
  if (sse || bucket.encryption) {
    if (!deps.store.sse.hasMasterKey) throw noMasterKeyError();
    return { mode: 'S3' };
  }
  return undefined;
}

export async function writeSse(ctx: S3Ctx, deps: S3Deps, bucketName: string): Promise<SseRequest | undefined> {
  return writeSseFrom(ctx, deps, await deps.store.getBucket(bucketName), headerLookup(ctx));
}

/**
 * UploadPart: the part is encrypted as its upload says (object/sse.ts checks the key against
 * it); the SSE-C trio must come again, x-amz-server-side-encryption may only confirm SSE-S3.
 */
export function partSse(ctx: S3Ctx): SseRequest | undefined {
  const get = headerLookup(ctx);
  const sse = sseHeaderFrom(get);
  const customer = customerKeyFrom(ctx, get);
  if (sse && customer) {
    throw new S3Error('InvalidArgument', 'Server Side Encryption with Customer provided key is incompatible with the encryption method specified', { ArgumentName: SSE, ArgumentValue: sse });
  }
  return customer ?? (sse ? { mode: 'S3' } : undefined);
}

/** GET/HEAD: the customer key, if sent. x-amz-server-side-encryption has no place in a read. */
export function readCustomerKey(ctx: S3Ctx): CustomerKey | undefined {
  const get = headerLookup(ctx);
  if (get(SSE) !== undefined) {
    throw new S3Error('InvalidArgument', 'The x-amz-server-side-encryption header is not supported for this operation.', { ArgumentName: SSE, ArgumentValue: get(SSE)! });
  }
  return customerKeyFrom(ctx, get);
}

/** The key of a copy's source (x-amz-copy-source-server-side-encryption-customer-*). */
export function copySourceCustomerKey(ctx: S3Ctx): CustomerKey | undefined {
  return customerKeyFrom(ctx, headerLookup(ctx), COPY_CUSTOMER);
}

/** Reply headers describing a stored object's encryption, as S3 sends them. */
export function setSseHeaders(ctx: S3Ctx, info: SseInfo | undefined, customer?: CustomerKey): void {
  if (!info) return;
  if (info.mode === 'S3') {
    ctx.set(SSE, 'AES256');
  } else {
    ctx.set(`${CUSTOMER}algorithm`, 'AES256');
    if (customer) ctx.set(`${CUSTOMER}key-md5`, customer.keyMd5);
  }
}
