// Decides whether a request may go ahead, as AWS does: an explicit Deny in any policy that
// applies (the user's policies, the bucket policy) refuses it; otherwise any Allow (the
// user's policies, the bucket policy, the bucket's ownership, an ACL grant) lets it through;
// otherwise AccessDenied. The root key may do everything.
//
// Runs after the signature check and before any S3 handler; handlers call it again for what
// a single request touches more than once (each key of a multi-object delete, a copy source).

import { S3Error } from '../errors.js';
import type { BucketRecord, CannedAcl, ObjectVersion } from '../meta/types.js';
import type { ObjectStore } from '../object/store.js';
import type { Identities, Principal } from './identities.js';
import { evaluate, isPublicPolicy, parsePolicy, type Decision, type Policy, type RequestContext } from './policy.js';

export interface AccessRequest {
  principal: Principal;
  /** 's3:GetObject', 'admin:CreateUser', … */
  action: string;
  bucket?: string;
  key?: string;
  versionId?: string;
  sourceIp: string;
  secure: boolean;
  /** Query parameters for the s3:prefix / s3:delimiter / s3:max-keys condition keys. */
  query?: { prefix?: string; delimiter?: string; maxKeys?: string };
  /** x-amz-acl of the request, for s3:x-amz-acl. */
  cannedAcl?: string;
  authType?: 'REST-HEADER' | 'REST-QUERY-STRING' | 'POST';
}

/** Bucket-level READ of an ACL grant: list the bucket. */
const ACL_BUCKET_READ = new Set(['s3:ListBucket', 's3:ListBucketVersions', 's3:ListBucketMultipartUploads']);
/** Bucket-level WRITE: make, overwrite and delete objects. */
// Not s3:DeleteObjectVersion: in S3 only the bucket owner's WRITE removes versions for good;
// anyone else can only add delete markers.
const ACL_BUCKET_WRITE = new Set(['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts']);
/** Object-level READ: read the object. */
const ACL_OBJECT_READ = new Set(['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectAttributes', 's3:GetObjectVersionAttributes']);
/** Actions on an existing object, whose tags s3:ExistingObjectTag conditions may test. */
const OBJECT_LOOKUP = new Set([
  ...ACL_OBJECT_READ, 's3:GetObjectTagging', 's3:GetObjectVersionTagging', 's3:PutObjectTagging', 's3:PutObjectVersionTagging',
  's3:DeleteObjectTagging', 's3:DeleteObjectVersionTagging', 's3:GetObjectAcl', 's3:GetObjectVersionAcl', 's3:PutObjectAcl',
  's3:PutObjectVersionAcl', 's3:DeleteObject', 's3:DeleteObjectVersion',
]);

const DENY_ALL: Policy = parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: '*', Resource: 'arn:aws:s3:::*' }] }), 'bucket');

const PUBLIC_ACLS = new Set<CannedAcl | undefined>(['public-read', 'public-read-write', 'authenticated-read']);

export function isPublicAcl(acl: CannedAcl | string | undefined): boolean {
  return PUBLIC_ACLS.has(acl as CannedAcl | undefined);
}

export class AccessControl {
  /** Parsed bucket policies by their text: parsing on every request would cost more than the check. */
  private readonly parsed = new Map<string, Policy>();
  private readonly mentionsTags = new WeakMap<Policy, boolean>();

  constructor(
    private readonly identities: Identities,
    private readonly store: ObjectStore,
    private readonly now: () => number = Date.now,
    private readonly log: (level: 'warn', msg: string) => void = () => undefined,
  ) {}

  async check(r: AccessRequest): Promise<void> {
    if (!(await this.allowed(r))) throw new S3Error('AccessDenied');
  }

  async allowed(r: AccessRequest): Promise<boolean> {
    const p = r.principal;
    if (p.kind === 'root') return true;
    // CreateBucket names a bucket that may not exist yet; the user's policies decide alone.
    const bucket = r.bucket !== undefined && r.action !== 's3:CreateBucket' ? await this.store.getBucket(r.bucket) : undefined;
    const identity = p.kind === 'user' ? this.identities.policiesOf(p.name) : [];
    const bucketPolicy = bucket?.policy !== undefined ? this.bucketPolicy(bucket) : undefined;

    const ctx: RequestContext = {
      action: r.action,
      resource: resourceOf(r),
      principal: p.kind === 'user' ? { kind: 'user', name: p.name } : { kind: 'anonymous' },
      conditions: this.conditions(r),
    };
    if (r.key !== undefined && bucket && OBJECT_LOOKUP.has(r.action) && [...identity, ...(bucketPolicy ? [bucketPolicy] : [])].some((pol) => this.needsTags(pol))) {
      const v = await this.version(r).catch(missingIsUndefined);
      for (const [k, val] of Object.entries(v?.tags ?? {})) ctx.conditions.set(`s3:existingobjecttag/${k.toLowerCase()}`, [val]);
    }

    const decisions: Decision[] = identity.map((pol) => evaluate(pol, ctx));
    let bucketDecision: Decision = 'NotApplicable';
    if (bucketPolicy) {
      bucketDecision = evaluate(bucketPolicy, ctx);
      // RestrictPublicBuckets: a public policy gives nothing to anonymous callers.
      if (bucketDecision === 'Allow' && p.kind === 'anonymous' && bucket?.publicAccessBlock?.restrictPublicBuckets && isPublicPolicy(bucketPolicy)) {
        bucketDecision = 'NotApplicable';
      }
    }
    decisions.push(bucketDecision);
    if (decisions.includes('Deny')) return false;
    if (decisions.includes('Allow')) return true;

    if (bucket && p.kind === 'user' && bucket.owner === p.name) return true;
    if (bucket) return this.aclAllows(r, bucket);
    return false;
  }

  /**
   * The parsed bucket policy. Stored policies were valid when stored; one a later parser
   * refuses must not silently lose its Deny statements, so it denies everything (root aside)
   * until it is replaced, and says so in the log.
   */
  bucketPolicy(bucket: BucketRecord): Policy | undefined {
    const text = bucket.policy;
    if (text === undefined) return undefined;
    let pol = this.parsed.get(text);
    if (!pol) {
      try {
        pol = parsePolicy(text, 'bucket', bucket.name);
      } catch (e) {
        this.log('warn', `the policy of bucket ${bucket.name} cannot be read (${(e as Error).message}); it denies every request but the root key's until it is replaced`);
        pol = DENY_ALL;
      }
      if (this.parsed.size > 1000) this.parsed.clear();
      this.parsed.set(text, pol);
    }
    return pol;
  }

  private async aclAllows(r: AccessRequest, bucket: BucketRecord): Promise<boolean> {
    if (bucket.publicAccessBlock?.ignorePublicAcls) return false;
    const signed = r.principal.kind === 'user';
    const grants = (acl: CannedAcl | undefined, read: boolean, write: boolean): boolean =>
      (acl === 'public-read' && read) ||
      (acl === 'public-read-write' && (read || write)) ||
      (acl === 'authenticated-read' && signed && read);
    if (grants(bucket.acl, ACL_BUCKET_READ.has(r.action), ACL_BUCKET_WRITE.has(r.action))) return true;
    if (r.key !== undefined && ACL_OBJECT_READ.has(r.action)) {
      const v = await this.version(r).catch(missingIsUndefined);
      // public-read-write on an object grants no more than reading it.
      if (v && grants(v.acl, true, false)) return true;
    }
    return false;
  }

  private version(r: AccessRequest): Promise<ObjectVersion> {
    return this.store.resolve(r.bucket!, r.key!, r.versionId !== undefined ? { versionId: r.versionId } : {});
  }

  private needsTags(pol: Policy): boolean {
    let v = this.mentionsTags.get(pol);
    if (v === undefined) {
      v = JSON.stringify(pol).toLowerCase().includes('existingobjecttag');
      this.mentionsTags.set(pol, v);
    }
    return v;
  }

  private conditions(r: AccessRequest): Map<string, string[]> {
    const now = this.now();
    const c = new Map<string, string[]>();
    c.set('aws:sourceip', [r.sourceIp]);
    c.set('aws:securetransport', [String(r.secure)]);
    c.set('aws:currenttime', [new Date(now).toISOString()]);
    c.set('aws:epochtime', [String(Math.floor(now / 1000))]);
    c.set('aws:principaltype', [r.principal.kind === 'user' ? 'User' : r.principal.kind === 'root' ? 'Account' : 'Anonymous']);
    if (r.principal.kind === 'user') {
      c.set('aws:username', [r.principal.name]);
      c.set('aws:userid', [r.principal.name]);
    }
    if (r.query?.prefix !== undefined) c.set('s3:prefix', [r.query.prefix]);
    if (r.query?.delimiter !== undefined) c.set('s3:delimiter', [r.query.delimiter]);
    if (r.query?.maxKeys !== undefined) c.set('s3:max-keys', [r.query.maxKeys]);
    if (r.cannedAcl !== undefined) c.set('s3:x-amz-acl', [r.cannedAcl]);
    if (r.versionId !== undefined) c.set('s3:versionid', [r.versionId]);
    if (r.authType) c.set('s3:authtype', [r.authType]);
    if (r.principal.kind !== 'anonymous') c.set('s3:signatureversion', ['AWS4-HMAC-SHA256']);
    return c;
  }
}

/** A version that does not exist grants nothing; a malformed version id is the client's error. */
function missingIsUndefined(e: unknown): undefined {
  if (e instanceof S3Error && (e.code === 'NoSuchKey' || e.code === 'NoSuchVersion' || e.code === 'MethodNotAllowed')) return undefined;
  throw e;
}

function resourceOf(r: AccessRequest): string {
  if (r.action.startsWith('admin:')) return '*';
  if (r.bucket === undefined) return 'arn:aws:s3:::*';
  return r.key === undefined ? `arn:aws:s3:::${r.bucket}` : `arn:aws:s3:::${r.bucket}/${r.key}`;
}
