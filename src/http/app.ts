// The Koa application: request ids, S3 error replies, routing (path and virtual-host style),
// SigV4 authentication, then the operation. The bucket and key are parsed from the raw
// request line (http/routing.ts), so keys reach handlers exactly as sent; @koa/router then
// dispatches on a normalised path (/bucket/key, each one encoded segment) by level.

import Koa from 'koa';
import Router from '@koa/router';
import { verifyRequest, type Credentials } from '../auth/verify.js';
import { S3Error, isS3Error } from '../errors.js';
import type { ObjectStore } from '../object/store.js';
import type { S3Ctx, S3Deps, S3State } from '../s3/context.js';
import { bucketHandler, objectHandler, serviceHandler } from '../s3/dispatch.js';
import { isFormPost } from '../s3/post-object.js';
import { errorXml } from '../s3/xml.js';
import { validateKey } from '../s3/names.js';
import { openBody } from './body.js';
import { newRequestId } from './request-id.js';
import { resolveTarget } from './routing.js';

export interface AppOptions {
  store: ObjectStore;
  region: string;
  domains: string[];
  credentials: Credentials;
  owner: { id: string; displayName: string };
  now?: () => number;
  log?: S3Deps['log'];
}

export function createApp(o: AppOptions): Koa<S3State> {
  const app = new Koa<S3State>();
  app.proxy = false;
  app.silent = true;
  const log = o.log ?? (() => undefined);
  const deps: S3Deps = {
    store: o.store,
    region: o.region,
    owner: o.owner,
    openBody,
    log,
    credentials: o.credentials,
    // Placeholders until users and policies land: every valid key is the root key's.
    principalOf: (accessKeyId) => ({ kind: 'root', accessKeyId }),
    authorize: async (ctx) => {
      if (ctx.state.principal?.kind !== 'root') throw new S3Error('AccessDenied');
    },
  };
  const now = o.now ?? Date.now;

  // Request id, S3 error replies, where the request goes and who sent it.
  app.use(async (ctx, next) => {
    const { requestId, hostId } = newRequestId();
    ctx.state.requestId = requestId;
    ctx.state.hostId = hostId;
    ctx.set('x-amz-request-id', requestId);
    ctx.set('x-amz-id-2', hostId);
    ctx.set('Server', 'Tessera');
    try {
      const url = ctx.req.url ?? '/';
      const target = resolveTarget(url, ctx.req.headers.host, o.domains);
      ctx.state.target = target;
      // POST Object: an HTML form upload is signed by its policy fields, not by the request;
      // s3/post-object.ts checks that signature and sets the principal.
      if (isFormPost(ctx.method, target, ctx.req.headers)) {
        ctx.state.principal = { kind: 'anonymous' };
      } else {
        ctx.state.auth = verifyRequest(
          { method: ctx.method, rawPath: target.rawPath, rawQuery: target.rawQuery, headers: ctx.req.headers },
          o.credentials,
          { region: o.region, now },
        );
        ctx.state.principal = deps.principalOf(ctx.state.auth.accessKeyId);
      }
      // Every operation on a key, reads included, refuses a key S3 could not hold (too long,
      // NUL) with S3's error before it reaches the store.
      if (target.key !== undefined) validateKey(target.key);
      ctx.path = target.bucket === undefined
        ? '/'
        : target.key === undefined
          ? `/${encodeURIComponent(target.bucket)}`
          : `/${encodeURIComponent(target.bucket)}/${encodeURIComponent(target.key)}`;
      await next();
    } catch (err) {
      sendError(ctx as S3Ctx, err, log);
    }
  });

  // Service, bucket or object level; the operation within a level is picked from the method
  // and sub-resource by the tables in s3/dispatch.ts.
  const router = new Router<S3State>();
  router.all('/', (ctx) => serviceHandler(ctx.method)(deps, ctx as S3Ctx));
  router.all('/:bucket', (ctx) => bucketHandler(ctx as S3Ctx, ctx.method)(deps, ctx as S3Ctx));
  router.all('/:bucket/:key', (ctx) => objectHandler(ctx as S3Ctx, ctx.method)(deps, ctx as S3Ctx));
  app.use(router.routes());

  // A body stream that fails after the headers went out (a disk lost mid-GET beyond what
  // parity covers) cannot become an error reply: cut the connection so the client sees a
  // truncated response instead of waiting for bytes that will never come.
  app.on('error', (err: unknown, ctx?: Koa.Context) => {
    if (ctx?.res.headersSent) ctx.res.destroy();
    // A client that hangs up mid-response is routine, not a server error.
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    const hangUp = code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED';
    if (!isS3Error(err)) log(hangUp ? 'debug' : 'error', hangUp ? 'client closed the connection' : 'response failed', { error: String(err) });
  });
  return app;
}

function sendError(ctx: S3Ctx, err: unknown, log: S3Deps['log']): void {
  let e: S3Error;
  if (isS3Error(err) && err.code.startsWith('Insufficient')) {
    // Lost quorum is ours, not an S3 code: clients know 503 ServiceUnavailable and retry it.
    e = new S3Error('ServiceUnavailable', err.message);
  } else if (isS3Error(err)) {
    e = err;
  } else {
    log('error', 'internal error', { requestId: ctx.state.requestId, error: err instanceof Error ? err.stack ?? err.message : String(err) });
    e = new S3Error('InternalError');
  }
  if (e.status >= 500 && isS3Error(err)) log('warn', `${e.code}: ${e.message}`, { requestId: ctx.state.requestId });
  // Drop headers of the half-built reply (ETag etc.), keep the ids. A 304 keeps the validators
  // and caching headers a 200 would have sent (RFC 7232 §4.1; S3 sends ETag and Last-Modified).
  const keep = ['x-amz-request-id', 'x-amz-id-2', 'server'];
  if (e.code === 'NotModified') keep.push('etag', 'last-modified', 'cache-control', 'expires');
  for (const name of Object.keys(ctx.response.headers)) {
    if (!keep.includes(name)) ctx.remove(name);
  }
  for (const [k, v] of Object.entries(e.headers)) ctx.set(k, v);
  ctx.status = e.status;
  if (e.code === 'NotModified' || ctx.method === 'HEAD') {
    ctx.body = null;
    ctx.status = e.status;
    return;
  }
  const t = ctx.state.target;
  const resource = t ? t.rawPath : ctx.path;
  ctx.type = 'application/xml';
  ctx.body = errorXml(e, decodeSafe(resource), ctx.state.requestId, ctx.state.hostId);
  // A refused request may still be sending its body; close the connection after the reply
  // rather than read a large upload we will not use.
  const cl = ctx.req.headers['content-length'];
  const hasBody = (cl !== undefined && cl !== '0') || ctx.req.headers['transfer-encoding'] !== undefined;
  if (hasBody && !ctx.req.complete) ctx.set('Connection', 'close');
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
