// Maps (level, method, sub-resource) to the operation that serves it. Anything S3 has that we
// do not answers 501 NotImplemented in S3 XML, never a wrong success.

import { S3Error } from '../errors.js';
import * as buckets from './buckets.js';
import type { S3Ctx, S3Deps } from './context.js';
import { deleteObjects } from './delete-objects.js';
import { listObjectVersions, listObjectsV1, listObjectsV2 } from './listing.js';
import * as objects from './objects.js';
import * as multipart from './multipart.js';
import { postObject } from './post-object.js';

export type Handler = (deps: S3Deps, ctx: S3Ctx) => Promise<void>;

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

const notImplemented = (what: string): Handler => async () => {
  throw new S3Error('NotImplemented', `${what} is not implemented by this server.`);
};

export function serviceHandler(method: string): Handler {
  if (method === 'GET') return buckets.listBuckets;
  throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: 'SERVICE' });
}

type Table = Record<string, Record<string, Handler | undefined> | undefined>;

const listObjects: Handler = (d, c) => (c.query['list-type'] === '2' ? listObjectsV2 : listObjectsV1)(d, c);

const BUCKET_TABLE: Table = {
  GET: {
    '': listObjects,
    location: buckets.getBucketLocation,
    versioning: buckets.getBucketVersioning,
    tagging: buckets.getBucketTagging,
    versions: listObjectVersions,
    uploads: multipart.listMultipartUploads,
  },
  HEAD: { '': buckets.headBucket },
  PUT: { '': buckets.createBucket, versioning: buckets.putBucketVersioning, tagging: buckets.putBucketTagging },
  DELETE: { '': buckets.deleteBucket, tagging: buckets.deleteBucketTagging },
  // POST to the bucket itself is an HTML form upload (POST Object).
  POST: { '': postObject, delete: deleteObjects },
};

const OBJECT_TABLE: Table = {
  GET: { '': (d, c) => objects.getOrHeadObject(d, c, false), tagging: objects.getObjectTagging, uploadId: multipart.listParts },
  HEAD: { '': (d, c) => objects.getOrHeadObject(d, c, true) },
  PUT: { '': objects.putObject, tagging: objects.putObjectTagging, uploadId: multipart.uploadPart },
  DELETE: { '': objects.deleteObject, tagging: objects.deleteObjectTagging, uploadId: multipart.abortMultipartUpload },
  POST: { uploads: multipart.createMultipartUpload, uploadId: multipart.completeMultipartUpload },
};

function pick(table: Table, ctx: S3Ctx, method: string, known: string[], level: 'BUCKET' | 'OBJECT'): Handler {
  const byMethod = Object.prototype.hasOwnProperty.call(table, method) ? table[method] : undefined;
  if (!byMethod) throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: level });
  const sub = subresource(ctx, known);
  const what = level === 'BUCKET' ? 'bucket' : 'object';
  return byMethod[sub ?? ''] ?? notImplemented(sub ? `The ${method} ?${sub} ${what} operation` : `${method} on ${level === 'BUCKET' ? 'a bucket' : 'an object'}`);
}

export function bucketHandler(ctx: S3Ctx, method: string): Handler {
  return pick(BUCKET_TABLE, ctx, method, BUCKET_SUBRESOURCES, 'BUCKET');
}

export function objectHandler(ctx: S3Ctx, method: string): Handler {
  return pick(OBJECT_TABLE, ctx, method, OBJECT_SUBRESOURCES, 'OBJECT');
}
