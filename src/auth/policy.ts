// IAM policy documents: identity policies (attached to a user) and bucket policies (attached
// to a bucket, naming principals). A pure module: parsePolicy turns the JSON text into a
// Policy, refusing what S3 refuses with MalformedPolicy; evaluate decides one request against
// one policy. Combining decisions across policies (identity, bucket, owner) is the caller's.

import { S3Error } from '../errors.js';
import { conditionHolds, parseConditions, type Condition } from './policy-conditions.js';
import { Pattern, type KeyLookup } from './policy-patterns.js';
import { isS3ActionName } from './s3-actions.js';

export { S3_ACTIONS } from './s3-actions.js';
export { CONDITION_OPERATORS, type Condition } from './policy-conditions.js';

export interface Policy {
  version: string;
  statements: Statement[];
}

export interface Statement {
  sid?: string;
  effect: 'Allow' | 'Deny';
  /** Action, or NotAction when `notAction`. Case-insensitive patterns. */
  actions: Pattern[];
  notAction: boolean;
  /** Resource, or NotResource when `notResource`. Case-sensitive patterns. */
  resources: Pattern[];
  notResource: boolean;
  /** Who the statement is about (bucket policies); absent in identity policies. */
  principal?: PrincipalSet;
  /** All must hold. */
  conditions: Condition[];
}

/** Principal, or NotPrincipal when `not`: everyone (`anyone`) or these Tessera users. */
export interface PrincipalSet {
  not: boolean;
  anyone: boolean;
  users: ReadonlySet<string>;
}

export type PolicyPrincipal = { kind: 'anonymous' } | { kind: 'user'; name: string };

export interface RequestContext {
  /** e.g. 's3:GetObject', 's3:ListBucket', 'admin:CreateUser'. */
  action: string;
  /** 'arn:aws:s3:::bucket' or 'arn:aws:s3:::bucket/key'; '*' for ListAllMyBuckets and admin actions. */
  resource: string;
  /** Matched against bucket policies' Principal, and the value of ${aws:username}. */
  principal: PolicyPrincipal;
  /** Condition keys lower-cased ('aws:sourceip', 's3:prefix'); an absent key is not in the request. */
  conditions: Map<string, string[]>;
}

export type Decision = 'Deny' | 'Allow' | 'NotApplicable';

export const MAX_BUCKET_POLICY_BYTES = 20 * 1024;
const VERSIONS = new Set(['2012-10-17', '2008-10-17']);
/** Without a Version element a policy is read as 2008-10-17: no policy variables. */
const DEFAULT_VERSION = '2008-10-17';
const S3_ARN_PREFIX = 'arn:aws:s3:::';

const POLICY_FIELDS = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_FIELDS = new Set([
  'Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'NotResource', 'Principal', 'NotPrincipal', 'Condition',
]);

// ---------------------------------------------------------------------------------------------
// Parsing

/** Parses and validates a policy document; throws S3Error('MalformedPolicy', <message naming the problem>). */
export function parsePolicy(text: string, kind: 'identity' | 'bucket', bucket?: string): Policy {
  if (kind === 'bucket' && Buffer.byteLength(text, 'utf8') > MAX_BUCKET_POLICY_BYTES) {
    throw malformed('Policies must be less than 20 KB');
  }
  const doc = parseJson(text);
  for (const field of Object.keys(doc)) {
    if (!POLICY_FIELDS.has(field)) throw malformed(`Unknown field ${field} in the policy document`);
  }
  const version = parseVersion(doc.Version);
  if (doc.Id !== undefined && typeof doc.Id !== 'string') throw malformed('Id must be a string');
  const rawStatements = statementList(doc.Statement);
  const ctx: StatementContext = { kind, bucket, variables: version === '2012-10-17' };
  const statements = rawStatements.map((raw, i) => parseStatement(raw, i, ctx));
  checkUniqueSids(statements);
  return { version, statements };
}

interface StatementContext {
  kind: 'identity' | 'bucket';
  bucket?: string;
  /** Whether `${...}` is a policy variable (Version 2012-10-17). */
  variables: boolean;
}

function parseJson(text: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed('This policy contains invalid Json');
  }
  if (!isObject(doc)) throw malformed('This policy contains invalid Json: the document must be a JSON object');
  return doc;
}

function parseVersion(raw: unknown): string {
  if (raw === undefined) return DEFAULT_VERSION;
  if (typeof raw !== 'string' || !VERSIONS.has(raw)) {
    throw malformed(`The policy has an invalid Version ${JSON.stringify(raw)}: use "2012-10-17" (or "2008-10-17")`);
  }
  return raw;
}

function statementList(raw: unknown): unknown[] {
  if (raw === undefined) throw malformed('Missing required field Statement');
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw malformed('Statement must hold at least one statement');
  return list;
}

function parseStatement(raw: unknown, index: number, ctx: StatementContext): Statement {
  let where = `Statement[${index}]`;
  if (!isObject(raw)) throw malformed(`${where} must be a JSON object`);
  if (raw.Sid !== undefined) {
    if (typeof raw.Sid !== 'string') throw malformed(`Sid in ${where} must be a string`);
    where += ` (Sid "${raw.Sid}")`;
  }
  for (const field of Object.keys(raw)) {
    if (!STATEMENT_FIELDS.has(field)) throw malformed(`Unknown field ${field} in ${where}`);
  }
  const action = oneOf(raw, 'Action', 'NotAction', where);
  const resource = oneOf(raw, 'Resource', 'NotResource', where);
  return {
    sid: raw.Sid as string | undefined,
    effect: parseEffect(raw.Effect, where),
    actions: stringList(action.value, action.field, where).map((a) => parseAction(a, where)),
    notAction: action.field === 'NotAction',
    resources: stringList(resource.value, resource.field, where).map((r) => parseResource(r, ctx, where)),
    notResource: resource.field === 'NotResource',
    principal: parsePrincipalField(raw, ctx.kind, where),
    conditions: raw.Condition === undefined ? [] : parseConditions(raw.Condition, ctx.variables, where),
  };
}

function parseEffect(raw: unknown, where: string): 'Allow' | 'Deny' {
  if (raw === undefined) throw malformed(`Missing required field Effect in ${where}`);
  if (raw !== 'Allow' && raw !== 'Deny') {
    throw malformed(`Invalid effect in ${where}: ${JSON.stringify(raw)} (use "Allow" or "Deny")`);
  }
  return raw;
}

/** Exactly one of the two fields (Action/NotAction, Resource/NotResource) must be present. */
function oneOf(raw: Record<string, unknown>, field: string, notField: string, where: string): { field: string; value: unknown } {
  const has = raw[field] !== undefined;
  const hasNot = raw[notField] !== undefined;
  if (has && hasNot) throw malformed(`${where} has both ${field} and ${notField}; use one`);
  if (!has && !hasNot) throw malformed(`Missing required field ${field} in ${where}`);
  return has ? { field, value: raw[field] } : { field: notField, value: raw[notField] };
}

function stringList(raw: unknown, field: string, where: string): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0 || !list.every((v) => typeof v === 'string')) {
    throw malformed(`${field} in ${where} must be a string or a non-empty list of strings`);
  }
  return list as string[];
}

// 's3:GetObject', 's3:Get*', 'admin:*', '*'. Only the s3 and admin services exist here.
const ACTION = /^(s3|admin):([A-Za-z0-9*?]+)$/i;

function parseAction(text: string, where: string): Pattern {
  if (text !== '*') {
    const m = ACTION.exec(text);
    const invalid = !m || (m[1].toLowerCase() === 's3' && !/[*?]/.test(m[2]) && !isS3ActionName(m[2]));
    if (invalid) throw malformed(`Policy has invalid action in ${where}: "${text}"`);
  }
  return new Pattern(text, 'globIgnoreCase', false, where);
}

function parseResource(text: string, ctx: StatementContext, where: string): Pattern {
  const valid = ctx.kind === 'bucket' && ctx.bucket !== undefined
    ? inBucket(text, ctx.bucket)
    : text === '*' || text.startsWith(S3_ARN_PREFIX);
  if (!valid) throw malformed(`Policy has invalid resource in ${where}: "${text}"`);
  return new Pattern(text, 'glob', ctx.variables, where);
}

/** A bucket policy's resources are the bucket, its objects, or a wildcard right after its name. */
function inBucket(text: string, bucket: string): boolean {
  const base = S3_ARN_PREFIX + bucket;
  if (!text.startsWith(base)) return false;
  const rest = text.slice(base.length);
  return rest === '' || rest.startsWith('/') || rest.startsWith('*');
}

function parsePrincipalField(raw: Record<string, unknown>, kind: 'identity' | 'bucket', where: string): PrincipalSet | undefined {
  const has = raw.Principal !== undefined;
  const hasNot = raw.NotPrincipal !== undefined;
  if (kind === 'identity') {
    if (has || hasNot) throw malformed(`Policy document should not specify a principal. (${where})`);
    return undefined;
  }
  if (has && hasNot) throw malformed(`${where} has both Principal and NotPrincipal; use one`);
  if (!has && !hasNot) throw malformed(`Missing required field Principal in ${where}`);
  return parsePrincipal(has ? raw.Principal : raw.NotPrincipal, hasNot, where);
}

// A Tessera user named by an IAM user ARN (any account, any path): arn:aws:iam::123456789012:user/alice.
const USER_ARN = /^arn:aws:iam::[^:]*:user\/(?:.*\/)?([^/]+)$/;

function parsePrincipal(raw: unknown, not: boolean, where: string): PrincipalSet {
  const invalid = (): S3Error => malformed(`Invalid principal in policy in ${where}: ${JSON.stringify(raw)}`);
  if (raw === '*') return { not, anyone: true, users: new Set() };
  if (!isObject(raw)) throw invalid();
  const keys = Object.keys(raw);
  // Tessera principals are users only: Service, Federated and CanonicalUser name nothing here.
  if (keys.length !== 1 || keys[0] !== 'AWS') throw invalid();
  const entries = Array.isArray(raw.AWS) ? raw.AWS : [raw.AWS];
  if (entries.length === 0) throw invalid();
  let anyone = false;
  const users = new Set<string>();
  for (const entry of entries) {
    if (typeof entry !== 'string' || entry === '') throw invalid();
    if (entry === '*') {
      anyone = true;
      continue;
    }
    const name = entry.startsWith('arn:') ? USER_ARN.exec(entry)?.[1] : entry;
    if (name === undefined || name.includes(':') || name.includes('/')) throw invalid();
    users.add(name);
  }
  return { not, anyone, users };
}

function checkUniqueSids(statements: Statement[]): void {
  const seen = new Set<string>();
  for (const s of statements) {
    if (s.sid === undefined || s.sid === '') continue;
    if (seen.has(s.sid)) throw malformed(`Statement IDs (SID) in a single policy must be unique: "${s.sid}"`);
    seen.add(s.sid);
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** Deny if any statement that applies denies; else Allow if any applies and allows; else NotApplicable. */
export function evaluate(policy: Policy, req: RequestContext): Decision {
  const lookup = keyLookup(req);
  let allowed = false;
  for (const s of policy.statements) {
    if (!applies(s, req, lookup)) continue;
    if (s.effect === 'Deny') return 'Deny';
    allowed = true;
  }
  return allowed ? 'Allow' : 'NotApplicable';
}

function applies(s: Statement, req: RequestContext, lookup: KeyLookup): boolean {
  const actionMatches = s.actions.some((p) => p.matches(req.action, lookup));
  if (actionMatches === s.notAction) return false;
  const resourceMatches = s.resources.some((p) => resourceMatch(p, req, lookup));
  if (resourceMatches === s.notResource) return false;
  if (s.principal && !principalMatches(s.principal, req.principal)) return false;
  return s.conditions.every((c) => conditionHolds(c, lookup));
}

function resourceMatch(pattern: Pattern, req: RequestContext, lookup: KeyLookup): boolean {
  // Requests on no resource (ListAllMyBuckets) are '*'. AWS examples grant ListAllMyBuckets on
  // "arn:aws:s3:::*" (all of S3) as well as on "*"; both are honoured for s3 actions.
  if (req.resource === '*' && pattern.source === S3_ARN_PREFIX + '*' && /^s3:/i.test(req.action)) return true;
  return pattern.matches(req.resource, lookup);
}

function principalMatches(set: PrincipalSet, principal: PolicyPrincipal): boolean {
  const listed = set.anyone || (principal.kind === 'user' && set.users.has(principal.name));
  return listed !== set.not;
}

/** The request's condition keys; aws:username comes from the principal when not given. */
function keyLookup(req: RequestContext): KeyLookup {
  return (key) => {
    const values = req.conditions.get(key);
    if (values !== undefined) return values;
    if (key === 'aws:username' && req.principal.kind === 'user') return [req.principal.name];
    return undefined;
  };
}

// ---------------------------------------------------------------------------------------------
// Public or not

/**
 * Keys whose condition, with fixed values, limits a grant to known callers (S3's "The meaning
 * of public"). aws:SourceOwner and the SSE-KMS key id are on S3's list too.
 */
const NARROWING_KEYS = new Set([
  'aws:sourceip',
  'aws:sourcevpc',
  'aws:sourcevpce',
  'aws:sourcearn',
  'aws:sourceaccount',
  'aws:sourceowner',
  'aws:principalaccount',
  'aws:principalorgid',
  'aws:userid',
  'aws:username',
  's3:x-amz-server-side-encryption-aws-kms-key-id',
]);

/**
 * True when the (bucket) policy grants anything to everyone: an Allow with Principal "*" (or
 * {"AWS":"*"}, or a NotPrincipal) not narrowed by a condition on aws:SourceIp /
 * aws:SourceVpc / aws:SourceVpce / aws:SourceArn / aws:SourceAccount / aws:PrincipalAccount /
 * aws:PrincipalOrgID / aws:userid / aws:username, as S3's PublicAccessBlock and
 * GetBucketPolicyStatus decide "public".
 */
export function isPublicPolicy(policy: Policy): boolean {
  return policy.statements.some((s) => s.effect === 'Allow' && grantsEveryone(s) && !s.conditions.some(narrows));
}

function grantsEveryone(s: Statement): boolean {
  // Identity policies have no principal: they grant to their user only.
  if (!s.principal) return false;
  // NotPrincipal grants to everyone but the listed, unless "*" is listed.
  return s.principal.not ? !s.principal.anyone : s.principal.anyone;
}

/**
 * A condition narrows a grant when it must match (positive, no IfExists, not a ForAllValues
 * that an absent key satisfies) fixed values of one of the narrowing keys.
 */
function narrows(c: Condition): boolean {
  if (!NARROWING_KEYS.has(c.key) || c.negated || c.ifExists || c.qualifier === 'ForAllValues') return false;
  if (c.family === 'ip') return c.key === 'aws:sourceip' && c.fixedValues;
  return (c.family === 'string' || c.family === 'arn') && c.fixedValues;
}

// ---------------------------------------------------------------------------------------------
// Built-in policies

type BuiltinName = 'readonly' | 'readwrite' | 'writeonly' | 'admin';

const BUILTIN_ACTIONS: Record<BuiltinName, string[]> = {
  // As AWS's managed read-only S3 policy: every read and list, bucket settings included.
  readonly: ['s3:Get*', 's3:List*'],
  // Everything S3, nothing of Tessera's administration.
  readwrite: ['s3:*'],
  // Put objects (a multipart upload is s3:PutObject too), list and abort uploads; no reads.
  writeonly: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 's3:ListBucketMultipartUploads'],
  admin: ['*'],
};

/** The built-in policies' JSON text, e.g. for showing a user's policy. */
export const BUILTIN_POLICY_DOCUMENTS: Record<BuiltinName, string> = {
  readonly: builtinDocument(BUILTIN_ACTIONS.readonly),
  readwrite: builtinDocument(BUILTIN_ACTIONS.readwrite),
  writeonly: builtinDocument(BUILTIN_ACTIONS.writeonly),
  admin: builtinDocument(BUILTIN_ACTIONS.admin),
};

function builtinDocument(actions: string[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: ['*'] }] }, null, 2);
}

/** Built-in policies as documents: readonly, readwrite, writeonly, admin. */
export const BUILTIN_POLICIES: Record<BuiltinName, Policy> = {
  readonly: parsePolicy(BUILTIN_POLICY_DOCUMENTS.readonly, 'identity'),
  readwrite: parsePolicy(BUILTIN_POLICY_DOCUMENTS.readwrite, 'identity'),
  writeonly: parsePolicy(BUILTIN_POLICY_DOCUMENTS.writeonly, 'identity'),
  admin: parsePolicy(BUILTIN_POLICY_DOCUMENTS.admin, 'identity'),
};

// ---------------------------------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function malformed(message: string): S3Error {
  return new S3Error('MalformedPolicy', message);
}
