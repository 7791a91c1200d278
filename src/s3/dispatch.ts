// Maps (level, method, sub-resource) to the operation that serves it. Anything S3 has that we
// do not answers 501 NotImplemented in S3 XML, never a wrong success.

import { S3Error } from '../errors.js';
import * as buckets from './buckets.js';
import type { S3Ctx, S3Deps } from './context.js';
import { deleteObjects } from './delete-objects.js';
import { listObjectVersions, listObjectsV1, listObjectsV2 } from './listing.js';
import * as objects from './objects.js';
import * as multipart from './multipart.js';

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
  for (const name of known) if (Object.prototype.hasOwnProperty.call(ctx.query, name)) return name;
  return undefined;
}

const notImplemented = (what: string): Handler => async () => {
  throw new S3Error('NotImplemented', `${what} is not implemented by this server.`);
};

export function serviceHandler(method: string): Handler {
  if (method === 'GET') return buckets.listBuckets;
  throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: 'SERVICE' });
}

export function bucketHandler(ctx: S3Ctx, method: string): Handler {
  const sub = subresource(ctx, BUCKET_SUBRESOURCES);
  const table: Record<string, Record<string, Handler | undefined>> = {
    GET: {
      '': ctx.query['list-type'] === '2' ? listObjectsV2 : listObjectsV1,
      location: buckets.getBucketLocation,
      versioning: buckets.getBucketVersioning,
      tagging: buckets.getBucketTagging,
      versions: listObjectVersions,
      uploads: multipart.listMultipartUploads,
    },
    HEAD: { '': buckets.headBucket },
    PUT: { '': buckets.createBucket, versioning: buckets.putBucketVersioning, tagging: buckets.putBucketTagging },
    DELETE: { '': buckets.deleteBucket, tagging: buckets.deleteBucketTagging },
    POST: { delete: deleteObjects },
  };
  const byMethod = table[method];
  if (!byMethod) throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: 'BUCKET' });
  return byMethod[sub ?? ''] ?? notImplemented(sub ? `The ${method} ?${sub} bucket operation` : `${method} on a bucket`);
}

export function objectHandler(ctx: S3Ctx, method: string): Handler {
  const sub = subresource(ctx, OBJECT_SUBRESOURCES);
  const table: Record<string, Record<string, Handler | undefined>> = {
    GET: { '': (d, c) => objects.getOrHeadObject(d, c, false), tagging: objects.getObjectTagging, uploadId: multipart.listParts },
    HEAD: { '': (d, c) => objects.getOrHeadObject(d, c, true) },
    PUT: { '': objects.putObject, tagging: objects.putObjectTagging, uploadId: multipart.uploadPart },
    DELETE: { '': objects.deleteObject, tagging: objects.deleteObjectTagging, uploadId: multipart.abortMultipartUpload },
    POST: { uploads: multipart.createMultipartUpload, uploadId: multipart.completeMultipartUpload },
  };
  const byMethod = table[method];
  if (!byMethod) throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: 'OBJECT' });
  return byMethod[sub ?? ''] ?? notImplemented(sub ? `The ${method} ?${sub} object operation` : `${method} on an object`);
}
