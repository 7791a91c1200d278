// Maps (level, method, sub-resource) to the operation that serves it. Anything S3 has that we
// do not answers 501 NotImplemented in S3 XML, never a wrong success.

import { S3Error } from '../errors.js';
import * as access from './access-config.js';
import * as acl from './acl.js';
import * as buckets from './buckets.js';
import * as encryption from './bucket-encryption.js';
import { q, type S3Ctx, type S3Deps } from './context.js';
import * as cors from './cors.js';
import { deleteObjects } from './delete-objects.js';
import { listObjectVersions, listObjectsV1, listObjectsV2 } from './listing.js';
import * as objects from './objects.js';
import * as multipart from './multipart.js';
import { postObject } from './post-object.js';

export type Handler = (deps: S3Deps, ctx: S3Ctx) => Promise<void>;

/**
 * The AWS action a request needs (checked before the handler runs), a function of the
 * request for actions that depend on it (a versionId), or null when the handler checks for
 * itself (multi-object delete: per key).
 */
export type Action = string | ((ctx: S3Ctx) => string) | null;
export interface Route {
  handler: Handler;
  action: Action;
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
});

export function serviceRoute(method: string): Route {
  if (method === 'GET') return { handler: buckets.listBuckets, action: 's3:ListAllMyBuckets' };
  throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: 'SERVICE' });
}

type Table = Record<string, Record<string, Route | undefined> | undefined>;

const route = (handler: Handler, action: Action): Route => ({ handler, action });
/** The action, or its "Version" variant when the request names a version (GetObject → GetObjectVersion). */
const versioned = (plain: string, withVersion: string) => (ctx: S3Ctx): string => (q(ctx, 'versionId') !== undefined ? withVersion : plain);

const listObjects: Handler = (d, c) => (c.query['list-type'] === '2' ? listObjectsV2 : listObjectsV1)(d, c);

const BUCKET_TABLE: Table = {
  GET: {
    '': route(listObjects, 's3:ListBucket'),
    location: route(buckets.getBucketLocation, 's3:GetBucketLocation'),
    versioning: route(buckets.getBucketVersioning, 's3:GetBucketVersioning'),
    tagging: route(buckets.getBucketTagging, 's3:GetBucketTagging'),
    versions: route(listObjectVersions, 's3:ListBucketVersions'),
    uploads: route(multipart.listMultipartUploads, 's3:ListBucketMultipartUploads'),
    policy: route(access.getBucketPolicy, 's3:GetBucketPolicy'),
    policyStatus: route(access.getBucketPolicyStatus, 's3:GetBucketPolicyStatus'),
    publicAccessBlock: route(access.getPublicAccessBlock, 's3:GetBucketPublicAccessBlock'),
    acl: route(acl.getBucketAcl, 's3:GetBucketAcl'),
    cors: route(cors.getBucketCors, 's3:GetBucketCORS'),
    encryption: route(encryption.getBucketEncryption, 's3:GetEncryptionConfiguration'),
  },
  HEAD: { '': route(buckets.headBucket, 's3:ListBucket') },
  PUT: {
    '': route(buckets.createBucket, 's3:CreateBucket'),
    versioning: route(buckets.putBucketVersioning, 's3:PutBucketVersioning'),
    tagging: route(buckets.putBucketTagging, 's3:PutBucketTagging'),
    policy: route(access.putBucketPolicy, 's3:PutBucketPolicy'),
    publicAccessBlock: route(access.putPublicAccessBlock, 's3:PutBucketPublicAccessBlock'),
    acl: route(acl.putBucketAcl, 's3:PutBucketAcl'),
    cors: route(cors.putBucketCors, 's3:PutBucketCORS'),
    encryption: route(encryption.putBucketEncryption, 's3:PutEncryptionConfiguration'),
  },
  DELETE: {
    '': route(buckets.deleteBucket, 's3:DeleteBucket'),
    tagging: route(buckets.deleteBucketTagging, 's3:PutBucketTagging'),
    policy: route(access.deleteBucketPolicy, 's3:DeleteBucketPolicy'),
    publicAccessBlock: route(access.deletePublicAccessBlock, 's3:PutBucketPublicAccessBlock'),
    cors: route(cors.deleteBucketCors, 's3:PutBucketCORS'),
    // AWS has no separate action for the delete: it needs s3:PutEncryptionConfiguration.
    encryption: route(encryption.deleteBucketEncryption, 's3:PutEncryptionConfiguration'),
  },
  // POST to the bucket itself is an HTML form upload (POST Object); the handler checks the
  // form's signature and s3:PutObject itself.
  POST: { '': route(postObject, null), delete: route(deleteObjects, null) },
};

const OBJECT_TABLE: Table = {
  GET: {
    '': route((d, c) => objects.getOrHeadObject(d, c, false), versioned('s3:GetObject', 's3:GetObjectVersion')),
    tagging: route(objects.getObjectTagging, versioned('s3:GetObjectTagging', 's3:GetObjectVersionTagging')),
    uploadId: route(multipart.listParts, 's3:ListMultipartUploadParts'),
    acl: route(acl.getObjectAcl, versioned('s3:GetObjectAcl', 's3:GetObjectVersionAcl')),
  },
  HEAD: { '': route((d, c) => objects.getOrHeadObject(d, c, true), versioned('s3:GetObject', 's3:GetObjectVersion')) },
  PUT: {
    // A copy also needs s3:GetObject on its source: checked by the copy handler.
    '': route(objects.putObject, 's3:PutObject'),
    tagging: route(objects.putObjectTagging, versioned('s3:PutObjectTagging', 's3:PutObjectVersionTagging')),
    uploadId: route(multipart.uploadPart, 's3:PutObject'),
    acl: route(acl.putObjectAcl, versioned('s3:PutObjectAcl', 's3:PutObjectVersionAcl')),
  },
  DELETE: {
    '': route(objects.deleteObject, versioned('s3:DeleteObject', 's3:DeleteObjectVersion')),
    tagging: route(objects.deleteObjectTagging, versioned('s3:DeleteObjectTagging', 's3:DeleteObjectVersionTagging')),
    uploadId: route(multipart.abortMultipartUpload, 's3:AbortMultipartUpload'),
  },
  POST: {
    uploads: route(multipart.createMultipartUpload, 's3:PutObject'),
    uploadId: route(multipart.completeMultipartUpload, 's3:PutObject'),
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
 * The AWS API operation name of a request (PutObject, ListObjectsV2, CreateMultipartUpload …),
 * for logs and metrics: the same method and sub-resource choice as the route tables above.
 * `level` is where the request's path points; requests the tables refuse get a name that
 * says what was asked (e.g. "PUT ?lifecycle").
 */
export function operationName(ctx: S3Ctx, level: 'SERVICE' | 'BUCKET' | 'OBJECT'): string {
  const method = ctx.method;
  if (method === 'OPTIONS') return 'PreflightRequest';
  if (level === 'SERVICE') return method === 'GET' ? 'ListBuckets' : `${method} /`;
  const table = level === 'BUCKET' ? BUCKET_OPERATIONS : OBJECT_OPERATIONS;
  const sub = subresource(ctx, level === 'BUCKET' ? BUCKET_SUBRESOURCES : OBJECT_SUBRESOURCES) ?? '';
  const name = Object.prototype.hasOwnProperty.call(table, method) ? table[method]![sub] : undefined;
  if (name === undefined) return sub ? `${method} ?${sub}` : `${method} ${level === 'BUCKET' ? 'bucket' : 'object'}`;
  if (name === 'ListObjects' && ctx.query['list-type'] === '2') return 'ListObjectsV2';
  if ((name === 'PutObject' || name === 'UploadPart') && ctx.req.headers['x-amz-copy-source'] !== undefined) {
    return name === 'PutObject' ? 'CopyObject' : 'UploadPartCopy';
  }
  return name;
}

const BUCKET_OPERATIONS: Record<string, Record<string, string>> = {
  GET: {
    '': 'ListObjects', location: 'GetBucketLocation', versioning: 'GetBucketVersioning', tagging: 'GetBucketTagging',
    versions: 'ListObjectVersions', uploads: 'ListMultipartUploads', policy: 'GetBucketPolicy', policyStatus: 'GetBucketPolicyStatus',
    publicAccessBlock: 'GetPublicAccessBlock', acl: 'GetBucketAcl', cors: 'GetBucketCors', encryption: 'GetBucketEncryption',
  },
  HEAD: { '': 'HeadBucket' },
  PUT: {
    '': 'CreateBucket', versioning: 'PutBucketVersioning', tagging: 'PutBucketTagging', policy: 'PutBucketPolicy',
    publicAccessBlock: 'PutPublicAccessBlock', acl: 'PutBucketAcl', cors: 'PutBucketCors', encryption: 'PutBucketEncryption',
  },
  DELETE: {
    '': 'DeleteBucket', tagging: 'DeleteBucketTagging', policy: 'DeleteBucketPolicy', publicAccessBlock: 'DeletePublicAccessBlock',
    cors: 'DeleteBucketCors', encryption: 'DeleteBucketEncryption',
  },
  POST: { '': 'PostObject', delete: 'DeleteObjects' },
};

const OBJECT_OPERATIONS: Record<string, Record<string, string>> = {
  GET: { '': 'GetObject', tagging: 'GetObjectTagging', uploadId: 'ListParts', acl: 'GetObjectAcl' },
  HEAD: { '': 'HeadObject' },
  PUT: { '': 'PutObject', tagging: 'PutObjectTagging', uploadId: 'UploadPart', acl: 'PutObjectAcl' },
  DELETE: { '': 'DeleteObject', tagging: 'DeleteObjectTagging', uploadId: 'AbortMultipartUpload' },
  POST: { uploads: 'CreateMultipartUpload', uploadId: 'CompleteMultipartUpload' },
};
