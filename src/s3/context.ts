// What every S3 handler gets: the Koa context with our request state, and the server's parts.

import type Koa from 'koa';
import type { Readable } from 'node:stream';
import type { AuthResult, Credentials } from '../auth/verify.js';
import { S3Error } from '../errors.js';
import type { ChecksumAlgorithm } from '../meta/types.js';
import type { ObjectStore } from '../object/store.js';
import type { Target } from '../http/routing.js';

import type { Principal } from '../auth/identities.js';
export type { Principal } from '../auth/identities.js';

export interface S3State {
  requestId: string;
  hostId: string;
  target: Target;
  auth?: AuthResult;
  /** Set once the request's signature (or its absence) is known. */
  principal?: Principal;
  /** The S3 error code of the reply, when it is an error (for the request log). */
  errorCode?: string;
}

export type S3Ctx = Koa.ParameterizedContext<S3State>;

export interface RequestBody {
  stream: Readable;
  /** Length of the decoded payload when the client declared it. */
  size?: number;
  /** Algorithm of a trailing checksum the client announced (x-amz-trailer). */
  trailerAlgorithm?: ChecksumAlgorithm;
  /** The trailing checksum's value, once the stream has ended. */
  trailerValue?: () => string | undefined;
  /** The verifier checks a declared checksum (header or trailer) itself. */
  checksumVerified: boolean;
}

/** Condition keys a handler knows better than the request's headers (a POST form's fields). */
export interface AccessExtra {
  cannedAcl?: string;
  authType?: 'POST';
}

export interface S3Deps {
  store: ObjectStore;
  region: string;
  owner: { id: string; displayName: string };
  /** Secrets of every access key that may sign (root, users); for signatures checked by a handler (POST forms). */
  credentials: Credentials;
  /** The principal an access key belongs to (after its signature was verified). */
  principalOf(accessKeyId: string): Principal;
  /**
   * Throws AccessDenied unless ctx.state.principal may perform the S3 `action` (e.g.
   * 's3:PutObject') on the bucket (and key). For checks a handler makes itself: per key of a
   * multi-object delete, the source of a copy, the fields of a POST form.
   */
  authorize(ctx: S3Ctx, action: string, bucket?: string, key?: string, versionId?: string, extra?: AccessExtra): Promise<void>;
  /** The same decision as authorize, as a boolean (ListBuckets shows only what a user may list). */
  allowed(ctx: S3Ctx, action: string, bucket?: string, key?: string): Promise<boolean>;
  /** Wraps the request body in the verifier its signature mode requires. */
  openBody(ctx: S3Ctx): RequestBody;
  /**
   * The request body as it arrives, for handlers that verify it themselves (POST forms, the
   * Complete XML): paced by the key's upload cap when one is set, else ctx.req itself.
   */
  rawBody(ctx: S3Ctx): Readable;
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

export function q(ctx: S3Ctx, name: string): string | undefined {
  // Most object requests carry no query: skip Koa's parse and lookup.
  if (ctx.state.target?.rawQuery === '') return undefined;
  const v = ctx.query[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v[0] : v;
}

export function has(ctx: S3Ctx, name: string): boolean {
  if (ctx.state.target?.rawQuery === '') return false;
  return Object.prototype.hasOwnProperty.call(ctx.query, name);
}

export function bucketOf(ctx: S3Ctx): string {
  const b = ctx.state.target.bucket;
  if (b === undefined) throw new S3Error('InvalidRequest', 'A bucket name is required.');
  return b;
}

export function keyOf(ctx: S3Ctx): string {
  const k = ctx.state.target.key;
  if (k === undefined) throw new S3Error('InvalidRequest', 'An object key is required.');
  return k;
}

export function sendXml(ctx: S3Ctx, xml: string, status = 200): void {
  ctx.status = status;
  ctx.type = 'application/xml';
  // As a Buffer the text is encoded once; as a string it is measured, then encoded.
  ctx.body = Buffer.from(xml, 'utf8');
}

/** Reads a small request body (XML configuration, Delete lists) through its verifier, bounded. */
export async function readSmallBody(deps: Pick<S3Deps, 'openBody'>, ctx: S3Ctx, limit: number): Promise<Buffer> {
  refuseDeclaredOver(ctx, limit);
  const body = deps.openBody(ctx);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body.stream as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      body.stream.destroy();
      throw new S3Error('MaxMessageLengthExceeded', 'Your request was too big.');
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/**
 * A body declared larger than `limit` is refused before anything reads it: the error path can
 * then drain it (app.ts) and the client gets its answer, where destroying a half-read request
 * would reset the connection under the reply.
 */
export function refuseDeclaredOver(ctx: S3Ctx, limit: number): void {
  const h = ctx.req.headers;
  const declared = h['x-amz-decoded-content-length'] ?? h['content-length'];
  if (typeof declared === 'string' && /^\d+$/.test(declared) && Number(declared) > limit) {
    throw new S3Error('MaxMessageLengthExceeded', 'Your request was too big.');
  }
}

export function parseIntParam(name: string, value: string | undefined, def: number, min: number, max?: number): number {
  if (value === undefined || value === '') return def;
  if (!/^-?\d+$/.test(value)) throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, { ArgumentName: name, ArgumentValue: value });
  const n = Number(value);
  if (n < min) throw new S3Error('InvalidArgument', `Argument ${name} must be an integer between ${min} and 2147483647`, { ArgumentName: name, ArgumentValue: value });
  return max !== undefined ? Math.min(n, max) : n;
}
