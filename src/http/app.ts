// The Koa application: request ids, S3 error replies, routing (path and virtual-host style),
// SigV4 authentication, then the operation. The bucket and key are parsed from the raw
// request line (http/routing.ts), so keys reach handlers exactly as sent; @koa/router then
// dispatches on a normalised path (/bucket/key, each one encoded segment) by level.

import { pipeline, Readable } from 'node:stream';
import Koa from 'koa';
import type { IncomingMessage } from 'node:http';
import Router from '@koa/router';
import { DEFAULTS, type Limits } from '../config/config.js';
import { AccessControl, type AccessRequest } from '../auth/access.js';
import type { Identities } from '../auth/identities.js';
import { verifyRequest } from '../auth/verify.js';
import { S3Error, isS3Error, slowDown } from '../errors.js';
import type { ObjectStore } from '../object/store.js';
import type { AccessExtra, S3Ctx, S3Deps, S3State } from '../s3/context.js';
import { CORS_RESPONSE_HEADERS, addCorsHeaders, preflight } from '../s3/cors.js';
import { actionOf, bucketRoute, objectRoute, serviceRoute, type Route } from '../s3/dispatch.js';
import { errorXml } from '../s3/xml.js';
import { validateTarget } from '../s3/validate.js';
import { isResourceError } from '../util/process-errors.js';
import { requestContext } from '../object/events.js';
import { ADMIN_PREFIX, serveAdmin, type ServerInfo } from './admin-api.js';
import type { MaintenanceJobs } from '../object/maintenance.js';
import { VERSION } from '../version.js';
import { opsMiddleware } from '../ops/routes.js';
import type { ServerOps } from '../ops/server-ops.js';
import { openBody } from './body.js';
import { guardBody, hasBody } from './body-guard.js';
import { KeyLimits } from './key-limits.js';
import { Throttle } from './throttle.js';
import { newRequestId } from './request-id.js';
import { requestLog } from './request-log.js';
import type { InFlight } from './in-flight.js';
import type { AuditLog } from '../ops/audit.js';
import { resolveTarget } from './routing.js';
import { DRAIN_LIMIT, isHangUp } from './wire.js';

export interface AppOptions {
  store: ObjectStore;
  region: string;
  domains: string[];
  /** Every key that may sign (root and users), their policies, and the admin API's store. */
  identities: Identities;
  owner: { id: string; displayName: string };
  now?: () => number;
  log?: S3Deps['log'];
  /** Overload protection (body idle timeout, per-key limits); the defaults when absent. */
  limits?: Limits;
  /** Heal and scan jobs of the admin API (the engine's upkeep.jobs). */
  jobs?: MaintenanceJobs;
  /** Where mutating and refused-for-credentials requests are also recorded (log.audit_file). */
  audit?: AuditLog;
  /** Counts requests in flight (a graceful shutdown waits for them). */
  inFlight?: InFlight;
  /** /health/live, /health/ready and /metrics, and request metrics (ops/routes.ts). */
  ops?: ServerOps;
}

/** Query parameters that are condition keys of list actions (s3:prefix, s3:delimiter, s3:max-keys). */
const LIST_ACTIONS = new Set(['s3:ListBucket', 's3:ListBucketVersions', 's3:ListBucketMultipartUploads']);

export function createApp(o: AppOptions): Koa<S3State> {
  const app = new Koa<S3State>();
  app.proxy = false;
  app.silent = true;
  const log = o.log ?? (() => undefined);
  const now = o.now ?? Date.now;
  const access = new AccessControl(o.identities, o.store, now, (level, msg) => log(level, msg));
  const startedAt = Date.now();
  const info = (): ServerInfo => {
    const mem = process.memoryUsage();
    const budget = o.store.memory;
    return {
      version: VERSION,
      uptime: Math.floor((Date.now() - startedAt) / 1000),
      memory: { rss: mem.rss, heapUsed: mem.heapUsed, budget: budget.limit, budgetInUse: budget.inUse, budgetHighWater: budget.highWater },
    };
  };
  const limits = o.limits ?? DEFAULTS.limits;
  const keyLimits = new KeyLimits(limits);
  const bodyGuard = { idleMs: limits.bodyIdleTimeoutSeconds * 1000, minRate: limits.bodyMinRate, underPressure: () => o.store.memory.waiting > 0 };

  const accessRequest = (ctx: S3Ctx, action: string, bucket?: string, key?: string, versionId?: string, extra: AccessExtra = {}): AccessRequest => {
    const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
    const list = LIST_ACTIONS.has(action) && ctx.state.target.rawQuery !== '';
    const auth = ctx.state.auth;
    return {
      principal: ctx.state.principal ?? { kind: 'anonymous' },
      action,
      bucket,
      key,
      versionId,
      sourceIp: ctx.req.socket.remoteAddress ?? '',
      secure: (ctx.req.socket as { encrypted?: boolean }).encrypted === true,
      query: list ? { prefix: first(ctx.query.prefix), delimiter: first(ctx.query.delimiter), maxKeys: first(ctx.query['max-keys'] ?? ctx.query['max-uploads']) } : undefined,
      cannedAcl: extra.authType === 'POST' ? extra.cannedAcl : first(ctx.req.headers['x-amz-acl']),
      authType: extra.authType ?? (auth?.anonymous ? undefined : auth?.presigned ? 'REST-QUERY-STRING' : 'REST-HEADER'),
    };
  };

  const deps: S3Deps = {
    store: o.store,
    region: o.region,
    owner: o.owner,
    // Request bodies of a key whose uploads are capped are paced on their way in.
    openBody: (ctx) => {
      const body = openBody(ctx);
      const bucket = keyLimits.uploadBucket(limitKey(ctx));
      if (bucket) body.stream = pipeline(body.stream, new Throttle(bucket), () => undefined) as Readable;
      return body;
    },
    rawBody: (ctx) => {
      const bucket = keyLimits.uploadBucket(limitKey(ctx));
      return bucket ? (pipeline(ctx.req, new Throttle(bucket), () => undefined) as Readable) : ctx.req;
    },
    log,
    credentials: o.identities,
    principalOf: (accessKeyId) => o.identities.principalOf(accessKeyId),
    // The root key may do anything: its requests (most of them, on a single-user server) skip
    // building the request description altogether.
    authorize: async (ctx, action, bucket, key, versionId, extra) => {
      if (ctx.state.principal?.kind === 'root') return;
      await access.check(accessRequest(ctx, action, bucket, key, versionId, extra));
    },
    // For ListBuckets: its query (a bucket-name prefix) is not the s3:prefix of the bucket.
    allowed: (ctx, action, bucket, key) => access.allowed({ ...accessRequest(ctx, action, bucket, key), query: undefined }),
  };

  if (o.inFlight) app.use(o.inFlight.middleware());
  // Health and metrics first: no auth, no limits, never a SlowDown (ops/routes.ts).
  if (o.ops) app.use(opsMiddleware({ ...o.ops, domains: o.domains, adminPrefix: ADMIN_PREFIX }));

  // One log line per request, when its reply is done (http/request-log.ts).
  app.use(requestLog({ log, audit: o.audit }));
  // Request id, S3 error replies, where the request goes and who sent it.
  app.use(async (ctx, next) => {
    const { requestId, hostId } = newRequestId();
    ctx.state.requestId = requestId;
    ctx.state.hostId = hostId;
    ctx.set('x-amz-request-id', requestId);
    ctx.set('x-amz-id-2', hostId);
    ctx.set('Server', 'Tessera');
    const url = ctx.req.url ?? '/';
    const guard = hasBody(ctx.req)
      ? guardBody(ctx.req, ctx.res, bodyGuard, (err, why) => {
          log('info', why === 'idle' ? 'request body idle: aborted' : 'request body too slow: aborted', { requestId, why, seconds: limits.bodyIdleTimeoutSeconds, minRate: limits.bodyMinRate });
          replyNow(ctx as S3Ctx, err);
        })
      : undefined;
    try {
      // HTTP/1.1 requires Host (RFC 9112 §3.2); wire.ts lets such requests through to be refused here, in S3 XML.
      if (ctx.req.headers.host === undefined && ctx.req.httpVersion === '1.1') throw new S3Error('BadRequest', 'Missing required header for this request: Host');
      const target = resolveTarget(url, ctx.req.headers.host, o.domains);
      ctx.state.target = target;
      // The admin API shares the port (path style only) and answers in JSON.
      if (!target.virtualHost && target.rawPath.startsWith(ADMIN_PREFIX)) {
        return await serveAdmin(ctx as S3Ctx, { identities: o.identities, store: o.store, region: o.region, now, log, authorize: deps.authorize, info, jobs: o.jobs });
      }
      // CORS (s3/cors.ts): browsers send preflights unsigned, so they are answered here; an
      // Origin gets its rule's headers before the signature check, so refusals carry them too.
      if (ctx.method === 'OPTIONS') return await preflight(o.store, ctx as S3Ctx);
      if (ctx.req.headers.origin !== undefined) await addCorsHeaders(o.store, ctx as S3Ctx);
      const auth = verifyRequest(
        { method: ctx.method, rawPath: target.rawPath, rawQuery: target.rawQuery, headers: ctx.req.headers },
        o.identities,
        { region: o.region, now },
      );
      ctx.state.auth = auth;
      ctx.state.principal = auth.anonymous ? { kind: 'anonymous' } : deps.principalOf(auth.accessKeyId);
      if (keyLimits.active) {
        const release = keyLimits.admit(limitKey(ctx as S3Ctx));
        // 'close' comes when the reply is done or the connection is gone, whichever is first.
        ctx.res.once('close', release);
      }
      // Every name the request carries (bucket, key, query parameters, copy source) is checked
      // here, once, with S3's error before anything reaches the store (s3/validate.ts).
      validateTarget(target, ctx.req.headers);
      ctx.path = target.bucket === undefined
        ? '/'
        : target.key === undefined
          ? `/${encodeURIComponent(target.bucket)}`
          : `/${encodeURIComponent(target.bucket)}/${encodeURIComponent(target.key)}`;
      await next();
      throttleDownload(ctx as S3Ctx, keyLimits);
    } catch (err) {
      // A body that went silent is not waited for again; a small one the handler left unread is
      // drained so the reply is not lost under a reset.
      if (!guard?.timedOut) await drainSmallBody(ctx.req);
      // Whatever the body's reader made of the aborted stream, the client's fault was silence.
      sendError(ctx as S3Ctx, guard?.timedOut ? new S3Error('RequestTimeout') : err, log);
    }
  });

  // Service, bucket or object level; the operation within a level is picked from the method
  // and sub-resource by the tables in s3/dispatch.ts, which also name the action a policy
  // must allow. The check runs before the handler reads anything of the request.
  const run = async (ctx: S3Ctx, r: Route): Promise<void> => {
    const action = actionOf(r, ctx);
    const t = ctx.state.target;
    if (action !== null && ctx.state.principal?.kind !== 'root') {
      await deps.authorize(ctx, action, t.bucket, t.key, t.key !== undefined && t.rawQuery !== '' ? firstOf(ctx.query.versionId) : undefined);
    }
    // What the commit of an object change records about its cause (object/events.ts).
    const principal = ctx.state.principal;
    const operation = typeof r.operation === 'function' ? r.operation(ctx) : r.operation;
    await requestContext.run({
      requestId: ctx.state.requestId,
      hostId: ctx.state.hostId,
      sourceIp: clientAddress(ctx),
      principalId: principal && principal.kind !== 'anonymous' ? principal.accessKeyId : 'anonymous',
      operation,
    }, () => r.handler(deps, ctx));
  };
  const router = new Router<S3State>();
  router.all('/', (ctx) => run(ctx as S3Ctx, serviceRoute(ctx.method)));
  router.all('/:bucket', (ctx) => run(ctx as S3Ctx, bucketRoute(ctx as S3Ctx, ctx.method)));
  router.all('/:bucket/:key', (ctx) => run(ctx as S3Ctx, objectRoute(ctx as S3Ctx, ctx.method)));
  app.use(router.routes());
  // Nothing matched (no route takes an empty bucket segment or an odd path): still S3 XML,
  // never Koa's plain-text 404.
  app.use(() => {
    throw new S3Error('InvalidURI', "Couldn't parse the specified URI.");
  });

  // A body stream that fails after the headers went out (a disk lost mid-GET beyond what
  // parity covers) cannot become an error reply: cut the connection so the client sees a
  // truncated response instead of waiting for bytes that will never come.
  app.on('error', (err: unknown, ctx?: Koa.Context) => {
    if (ctx?.res.headersSent) ctx.res.destroy();
    // A client that hangs up mid-response is routine, not a server error.
    const hangUp = isHangUp(err);
    if (!isS3Error(err)) log(hangUp ? 'debug' : 'error', hangUp ? 'client closed the connection' : 'response failed', { requestId: ctx?.state?.requestId, error: String(err) });
  });
  return app;
}

function clientAddress(ctx: S3Ctx): string {
  const ip = ctx.req.socket.remoteAddress ?? '';
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/** Whose limits a request counts against: its access key, or its address when anonymous. */
function limitKey(ctx: S3Ctx): string {
  const auth = ctx.state.auth;
  if (auth && !auth.anonymous) return `key:${auth.accessKeyId}`;
  const ip = ctx.req.socket.remoteAddress ?? '';
  return `ip:${ip.startsWith('::ffff:') ? ip.slice(7) : ip}`;
}

/** Paces the reply body of a key whose downloads are capped (Content-Length kept). */
function throttleDownload(ctx: S3Ctx, keyLimits: KeyLimits): void {
  const body: unknown = ctx.body;
  if (body === null || body === undefined || ctx.method === 'HEAD') return;
  const bucket = keyLimits.downloadBucket(limitKey(ctx));
  if (!bucket) return;
  const source = body instanceof Readable ? body : Buffer.isBuffer(body) || typeof body === 'string' ? Readable.from([body]) : undefined;
  if (!source) return;
  const length = ctx.response.length;
  const paced = pipeline(source, new Throttle(bucket), () => undefined);
  ctx.body = paced;
  if (length !== undefined) ctx.length = length;
}

/**
 * Sends an error reply at once, outside Koa's flow (the handler is still waiting for a body
 * that will not come), and closes the connection after it.
 */
function replyNow(ctx: S3Ctx, err: S3Error): void {
  const res = ctx.res;
  if (res.headersSent || res.destroyed) return;
  ctx.state.errorCode = err.code;
  const t = ctx.state.target;
  const xml = errorXml(err, decodeSafe(t ? t.rawPath : ctx.path), ctx.state.requestId, ctx.state.hostId);
  res.writeHead(err.status, {
    'Content-Type': 'application/xml',
    'Content-Length': Buffer.byteLength(xml),
    Connection: 'close',
    Server: 'Tessera',
    'x-amz-request-id': ctx.state.requestId,
    'x-amz-id-2': ctx.state.hostId,
  });
  res.end(xml);
}

function firstOf(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** SlowDown answers are logged at most once per this period, with how many there were. */
const SLOW_DOWN_LOG_MS = 5000;
let lastSlowDownLog = 0;
let slowDowns = 0;

export function sendError(ctx: S3Ctx, err: unknown, log: S3Deps['log']): void {
  let e: S3Error;
  if (isS3Error(err) && err.code.startsWith('Insufficient')) {
    // Lost quorum is ours, not an S3 code: clients know 503 ServiceUnavailable and retry it.
    e = new S3Error('ServiceUnavailable', err.message);
  } else if (isS3Error(err)) {
    e = err;
  } else if (isResourceError(err)) {
    // Out of descriptors or memory: the request may succeed in a moment; nothing is broken.
    log('debug', 'request refused: the process is out of resources', { requestId: ctx.state.requestId, error: String(err) });
    e = slowDown('The server is short of file descriptors or memory; please retry.');
  } else if (isHangUp(err) && clientGone(ctx)) {
    // The client hung up mid-request (its body stopped, the socket closed): routine on any
    // network. Nobody will read this reply; it is built only to finish the request cleanly.
    log('debug', 'client closed the connection', { requestId: ctx.state.requestId, error: String(err) });
    e = new S3Error('IncompleteBody');
  } else {
    log('error', 'internal error', { requestId: ctx.state.requestId, error: err instanceof Error ? err.stack ?? err.message : String(err) });
    e = new S3Error('InternalError');
  }
  if (e.code === 'SlowDown') {
    // Overload answers come in floods: one line per few seconds says what is going on.
    const now = Date.now();
    slowDowns++;
    if (now - lastSlowDownLog >= SLOW_DOWN_LOG_MS) {
      log('warn', `answering 503 SlowDown: ${e.message}`, { requestId: ctx.state.requestId, count: slowDowns });
      lastSlowDownLog = now;
      slowDowns = 0;
    }
  } else if (e.status >= 500 && (isS3Error(err) || isResourceError(err))) {
    log('warn', `${e.code}: ${e.message}`, { requestId: ctx.state.requestId });
  }
  // Drop headers of the half-built reply (ETag etc.), keep the ids. A 304 keeps the validators
  // and caching headers a 200 would have sent (RFC 7232 §4.1; S3 sends ETag and Last-Modified).
  // CORS headers stay too: without them a browser hides the error from the page.
  const keep = ['x-amz-request-id', 'x-amz-id-2', 'server', ...CORS_RESPONSE_HEADERS];
  if (e.code === 'NotModified') keep.push('etag', 'last-modified', 'cache-control', 'expires');
  for (const name of Object.keys(ctx.response.headers)) {
    if (!keep.includes(name)) ctx.remove(name);
  }
  for (const [k, v] of Object.entries(e.headers)) ctx.set(k, v);
  ctx.state.errorCode = e.code;
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

const DRAIN_MS = 5_000;

/**
 * A request refused before its body was read still has that body on the way. Closing the
 * connection under it makes the kernel reset the connection, and the client may lose the
 * reply it was sent; so a small body (up to DRAIN_LIMIT, like an oversized XML document) is
 * read and discarded first, and the connection stays usable. A large or unknown-length body,
 * or one the client holds back for "100 Continue", is not waited for: sendError closes.
 */
async function drainSmallBody(req: IncomingMessage): Promise<void> {
  const cl = req.headers['content-length'];
  if (req.complete || req.destroyed || req.readableFlowing === true || cl === undefined || !/^\d+$/.test(cl) || Number(cl) > DRAIN_LIMIT) return;
  if (/100-continue/i.test(String(req.headers.expect ?? ''))) return;
  await new Promise<void>((resolve) => {
    const discard = () => undefined;
    const done = () => {
      clearTimeout(timer);
      req.off('data', discard).off('end', done).off('close', done).off('error', done);
      resolve();
    };
    const timer = setTimeout(done, DRAIN_MS);
    req.on('data', discard).once('end', done).once('close', done).once('error', done);
    req.resume();
  });
}

/** The request's connection is closed, or its body ended before its declared length. */
function clientGone(ctx: S3Ctx): boolean {
  const req = ctx.req;
  return req.socket.destroyed || req.destroyed || !req.complete;
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
