// Bucket CORS, as Amazon S3 does it: PutBucketCors, GetBucketCors and DeleteBucketCors; the
// preflight (OPTIONS), which browsers send without a signature; and the CORS headers on actual
// requests that carry an Origin, error replies included so a page can read S3's errors.
//
// A rule matches when one of its AllowedOrigin patterns matches the Origin, its AllowedMethod
// list holds the method, and (preflight only) every name in Access-Control-Request-Headers
// matches one of its AllowedHeader patterns. The first matching rule decides. A pattern may
// hold one `*`, which stands for any run of characters, the empty one included.

import { S3Error, isS3Error } from '../errors.js';
import type { CorsRule } from '../meta/types.js';
import type { ObjectStore } from '../object/store.js';
import { type S3Ctx, type S3Deps, bucketOf, sendXml } from './context.js';
import { header } from './headers.js';
import { validateBucketName } from './names.js';
import { readCheckedConfigBody } from './object-input.js';
import { corsXml, parseCorsConfiguration } from './xml.js';

/** S3 limits the configuration document to 64 KB. */
const MAX_CORS_BODY = 64 * 1024;

/**
 * The headers CORS adds to an actual request's reply. app.ts's error path keeps them when it
 * clears a half-built reply: a browser shows a cross-origin error body only with them.
 */
export const CORS_RESPONSE_HEADERS: readonly string[] = [
  'access-control-allow-origin',
  'access-control-allow-methods',
  'access-control-expose-headers',
  'access-control-max-age',
  'access-control-allow-credentials',
  'vary',
];

// S3 sends this Vary on every CORS answer: the reply depends on all three request headers.
const VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method';

// ---------------------------------------------------------------------------------------------
// The configuration: PutBucketCors, GetBucketCors, DeleteBucketCors

export async function putBucketCors(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const name = bucketOf(ctx);
  await deps.store.getBucket(name);
  const rules = await parseCorsConfiguration(await readCheckedConfigBody(deps, ctx, MAX_CORS_BODY));
  await deps.store.updateBucket(name, { cors: rules });
  ctx.status = 200;
  ctx.body = '';
}

export async function getBucketCors(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const b = await deps.store.getBucket(bucketOf(ctx));
  if (!b.cors || b.cors.length === 0) throw new S3Error('NoSuchCORSConfiguration', undefined, { BucketName: b.name });
  sendXml(ctx, corsXml(b.cors));
}

/** 204 whether or not there was a configuration, as S3. */
export async function deleteBucketCors(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const name = bucketOf(ctx);
  const b = await deps.store.getBucket(name);
  if (b.cors) await deps.store.updateBucket(name, { cors: undefined });
  ctx.status = 204;
}

// ---------------------------------------------------------------------------------------------
// Preflight

/** The Access-Control-Request-Method values S3 evaluates (case-sensitive); others are a 400. */
const PREFLIGHT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

// S3's own wording, its "evalution" included: clients and tests compare it.
const NOT_ALLOWED =
  "This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";

/**
 * Answers OPTIONS on any path, before (and without) authentication: browsers never sign a
 * preflight. The key is not looked up. Refusals carry no CORS headers, so the browser blocks
 * the actual request.
 */
export async function preflight(store: ObjectStore, ctx: S3Ctx): Promise<void> {
  const origin = header(ctx, 'origin');
  if (origin === undefined) throw new S3Error('BadRequest', 'Insufficient information. Origin request header needed.');
  // Without the header S3 evaluates the preflight as one for OPTIONS, which no rule allows.
  const method = header(ctx, 'access-control-request-method') ?? 'OPTIONS';
  if (!PREFLIGHT_METHODS.has(method)) throw new S3Error('BadRequest', `Invalid Access-Control-Request-Method: ${method}`);
  const { bucket, key } = ctx.state.target;
  const refuse = (why: string, type: 'BUCKET' | 'OBJECT') =>
    new S3Error('AccessForbidden', `CORSResponse: ${why}`, { Method: method, ResourceType: type });

  const rules = bucket === undefined ? undefined : await rulesOf(store, bucket);
  if (rules === undefined) throw refuse('Bucket not found', 'BUCKET');
  if (rules.length === 0) throw refuse('CORS is not enabled for this bucket.', 'BUCKET');
  const requested = requestedHeaders(header(ctx, 'access-control-request-headers'));
  const rule = rules.find((r) => ruleAllows(r, origin, method) && requested.every((h) => headerAllowed(r, h)));
  if (!rule) throw refuse(NOT_ALLOWED, key === undefined ? 'BUCKET' : 'OBJECT');

  setCorsHeaders(ctx, rule, origin);
  // S3 names the requested headers, lower-cased, in the order they were asked for.
  if (requested.length > 0) ctx.set('Access-Control-Allow-Headers', requested.join(', '));
  ctx.status = 200;
  ctx.body = '';
  ctx.remove('Content-Type'); // an empty answer, as S3's: nothing to type
}

/** Access-Control-Request-Headers as lower-case names (browsers send them so; others may not). */
function requestedHeaders(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value.split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== '');
}

function headerAllowed(rule: CorsRule, name: string): boolean {
  return rule.allowedHeaders.some((p) => wildcardMatch(p.toLowerCase(), name));
}

// ---------------------------------------------------------------------------------------------
// Actual requests

/**
 * Sets the matching rule's CORS headers on a request that carries an Origin (the caller checks
 * that, so requests without one pay nothing). Called before authentication, so replies that
 * refuse the signature carry them too. No match, no bucket, no configuration: no headers, and
 * the request goes on as it would without an Origin; a failed lookup is left to the operation.
 */
export async function addCorsHeaders(store: ObjectStore, ctx: S3Ctx): Promise<void> {
  const origin = header(ctx, 'origin');
  const bucket = ctx.state.target.bucket;
  if (origin === undefined || bucket === undefined) return;
  let rules: CorsRule[] | undefined;
  try {
    rules = await rulesOf(store, bucket);
  } catch {
    return;
  }
  // S3 matches an actual request on Access-Control-Request-Method when one is sent; its
  // headers are not checked (the browser checked them in the preflight).
  const method = header(ctx, 'access-control-request-method') ?? ctx.method;
  const rule = rules?.find((r) => ruleAllows(r, origin, method));
  if (rule) setCorsHeaders(ctx, rule, origin);
}

// ---------------------------------------------------------------------------------------------
// Matching and headers

/** The bucket's rules ([] for none), or undefined when there is no such bucket. */
async function rulesOf(store: ObjectStore, bucket: string): Promise<CorsRule[] | undefined> {
  try {
    // A name no bucket can have is not looked up: anyone may send a preflight.
    validateBucketName(bucket);
    return (await store.getBucket(bucket)).cors ?? [];
  } catch (e) {
    if (isS3Error(e) && (e.code === 'NoSuchBucket' || e.code === 'InvalidBucketName')) return undefined;
    throw e;
  }
}

function ruleAllows(rule: CorsRule, origin: string, method: string): boolean {
  return rule.allowedMethods.includes(method) && rule.allowedOrigins.some((p) => wildcardMatch(p, origin));
}

/** `*` in the pattern matches any run of characters, the empty one included; anchored at both ends. */
function wildcardMatch(pattern: string, value: string): boolean {
  const star = pattern.indexOf('*');
  if (star < 0) return pattern === value;
  const prefix = pattern.slice(0, star);
  const suffix = pattern.slice(star + 1);
  return value.length >= prefix.length + suffix.length && value.startsWith(prefix) && value.endsWith(suffix);
}

/**
 * The headers of a matched rule. An origin allowed only by the bare `*` pattern is answered
 * `*` and without credentials, as S3 does; one a specific pattern allows is echoed, with
 * Access-Control-Allow-Credentials so credentialed requests work.
 */
function setCorsHeaders(ctx: S3Ctx, rule: CorsRule, origin: string): void {
  const specific = rule.allowedOrigins.some((p) => p !== '*' && wildcardMatch(p, origin));
  ctx.set('Access-Control-Allow-Origin', specific ? origin : '*');
  ctx.set('Access-Control-Allow-Methods', rule.allowedMethods.join(', '));
  if (rule.exposeHeaders.length > 0) ctx.set('Access-Control-Expose-Headers', rule.exposeHeaders.join(', '));
  if (rule.maxAgeSeconds !== undefined) ctx.set('Access-Control-Max-Age', String(rule.maxAgeSeconds));
  if (specific) ctx.set('Access-Control-Allow-Credentials', 'true');
  ctx.set('Vary', VARY);
}
