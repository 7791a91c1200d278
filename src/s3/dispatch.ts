// Maps (level, method, sub-resource) to the operation that serves it. Anything S3 has that we
// do not answers 501 NotImplemented in S3 XML, never a wrong success.

import { S3Error } from '../errors.js';
import * as access from './access-config.js';
import * as acl from './acl.js';
import * as buckets from './buckets.js';
import * as encryption from './bucket-encryption.js';
import { q, type S3Ctx, type S3Deps } from './context.js';
import * as cors from './cors.js';
import * as lifecycle from './lifecycle.js';
import { deleteObjects } from './delete-objects.js';
import { listObjectVersions, listObjectsV1, listObjectsV2 } from './listing.js';
import * as objects from './objects.js';
import { getObjectAttributes } from './object-attributes.js';
import * as multipart from './multipart.js';
import * as notification from './notification.js';
import { postObject } from './post-object.js';

export type Handler = (deps: S3Deps, ctx: S3Ctx) => Promise<void>;

/**
 * The AWS action a request needs (checked before the handler runs), a function of the
 * request for actions that depend on it (a versionId), or null when the handler checks for
 * itself (multi-object delete: per key).
 */
export type Action = string | ((ctx: S3Ctx) => string) | null;
/** The AWS API operation name (GetObject, ListObjectsV2 …): what metrics and logs call the request. */
export type Operation = string | ((ctx: S3Ctx) => string);
export interface Route {
  handler: Handler;
  action: Action;
  operation: Operation;
}

/** Query parameters that select a different operation on the same path (S3 "sub-resources"). */
const BUCKET_SUBRESOURCES = [
  'accelerate', 'acl', 'analytics', 'cors', 'delete', 'encryption', 'intelligent-tiering', 'inventory',
  'lifecycle', 'location', 'logging', 'metadataConfiguration', 'metadataTable', 'metrics', 'notification', 'object-lock', 'ownershipControls',
  'policy', 'policyStatus', 'publicAccessBlock', 'replication', 'requestPayment', 'tagging', 'uploads',
  'versioning', 'versions', 'website', 'session',
];
const OBJECT_SUBRESOURCES = ['acl', 'attributes', 'legal-hold', 'restore', 'retention', 'select', 'tagging', 'torrent', 'uploadId', 'uploads', 'renameObject'];

function subresource(ctx: S3Ctx, known: string[]): string | undefined {
  // Most requests carry no query at all (GET/PUT/HEAD of an object).
  if (ctx.state.target.rawQuery === '') return undefined;
  const query = ctx.query;
  for (const name of known) if (Object.prototype.hasOwnProperty.call(query, name)) return name;
  return undefined;
}

const notImplemented = (what: string): Route => ({
  handler: async () => {
    throw new S3Error('NotImplemented', `${what} is not implemented by this server.`);
  },
  action: null,
  operation: 'NotImplemented',
});

export function serviceRoute(method: string): Route {
  if (method === 'GET') return { handler: buckets.listBuckets, action: 's3:ListAllMyBuckets', operation: 'ListBuckets' };
  throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: 'SERVICE' });
}

type Table = Record<string, Record<string, Route | undefined> | undefined>;

const route = (handler: Handler, action: Action, operation: Operation): Route => ({ handler, action, operation });
/** The action, or its "Version" variant when the request names a version (GetObject → GetObjectVersion). */
const versioned = (plain: string, withVersion: string) => (ctx: S3Ctx): string => (q(ctx, 'versionId') !== undefined ? withVersion : plain);

const listObjects: Handler = (d, c) => (c.query['list-type'] === '2' ? listObjectsV2 : listObjectsV1)(d, c);
// Operation names below are those of the S3 API reference; PostObject (an HTML form upload) has no SDK name.

const BUCKET_TABLE: Table = {
  GET: {
    '': route(listObjects, 's3:ListBucket', (c) => (c.query['list-type'] === '2' ? 'ListObjectsV2' : 'ListObjects')),
    location: route(buckets.getBucketLocation, 's3:GetBucketLocation', 'GetBucketLocation'),
    versioning: route(buckets.getBucketVersioning, 's3:GetBucketVersioning', 'GetBucketVersioning'),
    tagging: route(buckets.getBucketTagging, 's3:GetBucketTagging', 'GetBucketTagging'),
    versions: route(listObjectVersions, 's3:ListBucketVersions', 'ListObjectVersions'),
    uploads: route(multipart.listMultipartUploads, 's3:ListBucketMultipartUploads', 'ListMultipartUploads'),
    policy: route(access.getBucketPolicy, 's3:GetBucketPolicy', 'GetBucketPolicy'),
    policyStatus: route(access.getBucketPolicyStatus, 's3:GetBucketPolicyStatus', 'GetBucketPolicyStatus'),
    publicAccessBlock: route(access.getPublicAccessBlock, 's3:GetBucketPublicAccessBlock', 'GetPublicAccessBlock'),
    acl: route(acl.getBucketAcl, 's3:GetBucketAcl', 'GetBucketAcl'),
    cors: route(cors.getBucketCors, 's3:GetBucketCORS', 'GetBucketCors'),
    encryption: route(encryption.getBucketEncryption, 's3:GetEncryptionConfiguration', 'GetBucketEncryption'),
    lifecycle: route(lifecycle.getBucketLifecycle, 's3:GetLifecycleConfiguration', 'GetBucketLifecycleConfiguration'),
    notification: route(notification.getBucketNotification, 's3:GetBucketNotification', 'GetBucketNotificationConfiguration'),
  },
  HEAD: { '': route(buckets.headBucket, 's3:ListBucket', 'HeadBucket') },
  PUT: {
    '': route(buckets.createBucket, 's3:CreateBucket', 'CreateBucket'),
    versioning: route(buckets.putBucketVersioning, 's3:PutBucketVersioning', 'PutBucketVersioning'),
    tagging: route(buckets.putBucketTagging, 's3:PutBucketTagging', 'PutBucketTagging'),
    policy: route(access.putBucketPolicy, 's3:PutBucketPolicy', 'PutBucketPolicy'),
    publicAccessBlock: route(access.putPublicAccessBlock, 's3:PutBucketPublicAccessBlock', 'PutPublicAccessBlock'),
    acl: route(acl.putBucketAcl, 's3:PutBucketAcl', 'PutBucketAcl'),
    cors: route(cors.putBucketCors, 's3:PutBucketCORS', 'PutBucketCors'),
    encryption: route(encryption.putBucketEncryption, 's3:PutEncryptionConfiguration', 'PutBucketEncryption'),
    lifecycle: route(lifecycle.putBucketLifecycle, 's3:PutLifecycleConfiguration', 'PutBucketLifecycleConfiguration'),
    notification: route(notification.putBucketNotification, 's3:PutBucketNotification', 'PutBucketNotificationConfiguration'),
  },
  DELETE: {
    '': route(buckets.deleteBucket, 's3:DeleteBucket', 'DeleteBucket'),
    tagging: route(buckets.deleteBucketTagging, 's3:PutBucketTagging', 'DeleteBucketTagging'),
    policy: route(access.deleteBucketPolicy, 's3:DeleteBucketPolicy', 'DeleteBucketPolicy'),
    publicAccessBlock: route(access.deletePublicAccessBlock, 's3:PutBucketPublicAccessBlock', 'DeletePublicAccessBlock'),
    cors: route(cors.deleteBucketCors, 's3:PutBucketCORS', 'DeleteBucketCors'),
    // AWS has no separate action for the delete: it needs s3:PutEncryptionConfiguration.
    encryption: route(encryption.deleteBucketEncryption, 's3:PutEncryptionConfiguration', 'DeleteBucketEncryption'),
    // As for encryption, AWS has no separate action for the delete: s3:PutLifecycleConfiguration.
    lifecycle: route(lifecycle.deleteBucketLifecycle, 's3:PutLifecycleConfiguration', 'DeleteBucketLifecycle'),
  },
  // POST to the bucket itself is an HTML form upload (POST Object); the handler checks the
  // form's signature and s3:PutObject itself.
  POST: { '': route(postObject, null, 'PostObject'), delete: route(deleteObjects, null, 'DeleteObjects') },
};

const OBJECT_TABLE: Table = {
  GET: {
    '': route((d, c) => objects.getOrHeadObject(d, c, false), versioned('s3:GetObject', 's3:GetObjectVersion'), 'GetObject'),
    tagging: route(objects.getObjectTagging, versioned('s3:GetObjectTagging', 's3:GetObjectVersionTagging'), 'GetObjectTagging'),
    uploadId: route(multipart.listParts, 's3:ListMultipartUploadParts', 'ListParts'),
    acl: route(acl.getObjectAcl, versioned('s3:GetObjectAcl', 's3:GetObjectVersionAcl'), 'GetObjectAcl'),
    attributes: route(getObjectAttributes, versioned('s3:GetObjectAttributes', 's3:GetObjectVersionAttributes'), 'GetObjectAttributes'),
  },
  HEAD: { '': route((d, c) => objects.getOrHeadObject(d, c, true), versioned('s3:GetObject', 's3:GetObjectVersion'), 'HeadObject') },
  PUT: {
    // A copy also needs s3:GetObject on its source: checked by the copy handler.
    '': route(objects.putObject, 's3:PutObject', (c) => (c.req.headers['x-amz-copy-source'] !== undefined ? 'CopyObject' : 'PutObject')),
    tagging: route(objects.putObjectTagging, versioned('s3:PutObjectTagging', 's3:PutObjectVersionTagging'), 'PutObjectTagging'),
    uploadId: route(multipart.uploadPart, 's3:PutObject', (c) => (c.req.headers['x-amz-copy-source'] !== undefined ? 'UploadPartCopy' : 'UploadPart')),
    acl: route(acl.putObjectAcl, versioned('s3:PutObjectAcl', 's3:PutObjectVersionAcl'), 'PutObjectAcl'),
  },
  DELETE: {
    '': route(objects.deleteObject, versioned('s3:DeleteObject', 's3:DeleteObjectVersion'), 'DeleteObject'),
    tagging: route(objects.deleteObjectTagging, versioned('s3:DeleteObjectTagging', 's3:DeleteObjectVersionTagging'), 'DeleteObjectTagging'),
    uploadId: route(multipart.abortMultipartUpload, 's3:AbortMultipartUpload', 'AbortMultipartUpload'),
  },
  POST: {
    uploads: route(multipart.createMultipartUpload, 's3:PutObject', 'CreateMultipartUpload'),
    uploadId: route(multipart.completeMultipartUpload, 's3:PutObject', 'CompleteMultipartUpload'),
  },
};

function pick(table: Table, ctx: S3Ctx, method: string, known: string[], level: 'BUCKET' | 'OBJECT'): Route {
  const byMethod = Object.prototype.hasOwnProperty.call(table, method) ? table[method] : undefined;
  if (!byMethod) throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: level });
  const sub = subresource(ctx, known);
  const what = level === 'BUCKET' ? 'bucket' : 'object';
  return byMethod[sub ?? ''] ?? notImplemented(sub ? `The ${method} ?${sub} ${what} operation` : `${method} on ${level === 'BUCKET' ? 'a bucket' : 'an object'}`);
}

export function bucketRoute(ctx: S3Ctx, method: string): Route {
  return pick(BUCKET_TABLE, ctx, method, BUCKET_SUBRESOURCES, 'BUCKET');
}

export function objectRoute(ctx: S3Ctx, method: string): Route {
  return pick(OBJECT_TABLE, ctx, method, OBJECT_SUBRESOURCES, 'OBJECT');
}

/** The action name of a route for this request (null: the handler checks). */
export function actionOf(r: Route, ctx: S3Ctx): string | null {
  return typeof r.action === 'function' ? r.action(ctx) : r.action;
}

/**
 * The S3 operation a request addresses, by the same tables that dispatch it: a bounded set of
 * names for metrics and logs. Works for requests refused before their handler ran (a bad
 * signature still counts under the operation it tried). 'Unknown' when the request line did
 * not resolve, or its method has no operation at that level.
 */
export function operationOf(ctx: S3Ctx): string {
  const t = ctx.state.target as S3Ctx['state']['target'] | undefined;
  if (!t) return 'Unknown';
  if (ctx.method === 'OPTIONS') return 'PreflightRequest';
  try {
    const r = t.bucket === undefined ? serviceRoute(ctx.method) : t.key === undefined ? bucketRoute(ctx, ctx.method) : objectRoute(ctx, ctx.method);
    return typeof r.operation === 'function' ? r.operation(ctx) : r.operation;
  } catch {
    return 'Unknown';
  }
}
