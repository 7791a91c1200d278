// The operations endpoints and the request accounting, as the first middleware of the Koa app:
//
//   GET|HEAD /health/live    200 while the process serves
//   GET|HEAD /health/ready   200 or 503 with a JSON reason (ops/health.ts)
//   GET|HEAD /metrics        Prometheus text (ops/metrics.ts); bearer token when configured
//
// They are answered here, before request ids, signatures, per-key limits and body guards, so a
// probe needs no credentials and is never refused with 503 SlowDown by a client's limits. In
// path style these paths would be S3 requests (GET /health/live: key "live" of bucket
// "health"; GET /metrics: listing bucket "metrics"); for GET and HEAD the endpoints win, and
// such objects stay reachable in virtual-host style. Other methods go to S3 as usual.
//
// Every other request is counted when its reply is done (or its connection gone): operation
// (the S3 API name, from s3/dispatch.ts), status, duration, body bytes in and out.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Koa from 'koa';
import { operationOf } from '../s3/dispatch.js';
import type { S3Ctx } from '../s3/context.js';
import { readiness, type HealthSource } from './health.js';
import type { ServerMetrics } from './metrics.js';
import { replyStatus } from './reply-status.js';

export const HEALTH_LIVE_PATH = '/health/live';
export const HEALTH_READY_PATH = '/health/ready';
export const METRICS_PATH = '/metrics';

export interface OpsOptions {
  health: HealthSource;
  metrics: ServerMetrics;
  /** When set, /metrics needs `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /** Virtual-host domains: a request to bucket.DOMAIN/... is always S3. */
  domains: string[];
  /** Requests under this path are the admin API (counted as operation "Admin"). */
  adminPrefix: string;
}

export function opsMiddleware(o: OpsOptions): Koa.Middleware {
  const endpoint = opsEndpoint(o.domains);
  const tokenDigest = o.metricsToken !== undefined ? digest(o.metricsToken) : undefined;
  return async (ctx, next) => {
    const which = endpoint(ctx.req);
    if (which !== undefined) {
      ctx.set('Cache-Control', 'no-store');
      ctx.set('Server', 'Tessera');
      if (which === 'metrics') return serveMetrics(ctx, o.metrics, tokenDigest);
      if (which === 'live') return json(ctx, 200, { status: 'ok' });
      const r = readiness(o.health);
      return json(ctx, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'unavailable', ...r });
    }
    accountRequest(ctx as unknown as S3Ctx, o.metrics, o.adminPrefix);
    await next();
  };
}

/** Which endpoint a request is for, if any: GET or HEAD of an exact path, path style only. */
function opsEndpoint(domains: string[]): (req: IncomingMessage) => 'live' | 'ready' | 'metrics' | undefined {
  const suffixes = domains.map((d) => '.' + d.toLowerCase());
  return (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return undefined;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const p = q < 0 ? url : url.slice(0, q);
    const which = p === HEALTH_LIVE_PATH ? 'live' : p === HEALTH_READY_PATH ? 'ready' : p === METRICS_PATH ? 'metrics' : undefined;
    if (which === undefined || suffixes.length === 0) return which;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    return suffixes.some((s) => host.endsWith(s) && host.length > s.length) ? undefined : which;
  };
}

function json(ctx: Koa.Context, status: number, body: unknown): void {
  ctx.status = status;
  ctx.type = 'application/json';
  // Koa sends the headers (with the length) and no body for HEAD.
  ctx.body = JSON.stringify(body) + '\n';
}

async function serveMetrics(ctx: Koa.Context, metrics: ServerMetrics, tokenDigest: Buffer | undefined): Promise<void> {
  if (tokenDigest) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('Authorization'));
    if (!m) {
      ctx.set('WWW-Authenticate', 'Bearer realm="tessera-metrics"');
      return json(ctx, 401, { error: 'the metrics endpoint needs Authorization: Bearer <metrics token>' });
    }
    // Compared as digests: equal lengths, and no timing hint about the token.
    if (!timingSafeEqual(digest(m[1]!), tokenDigest)) return json(ctx, 403, { error: 'wrong metrics token' });
  }
  const text = await metrics.scrape();
  ctx.status = 200;
  ctx.type = metrics.contentType;
  ctx.body = text;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * Counts one request from its start to the end of its reply. Body bytes are counted where they
 * pass (the request stream's push, the reply's write/end), so a request body nobody read still
 * counts what arrived, and a reply cut short counts what went out.
 */
function accountRequest(ctx: S3Ctx, metrics: ServerMetrics, adminPrefix: string): void {
  const started = process.hrtime.bigint();
  const req = ctx.req;
  const res = ctx.res;
  const io = { in: 0, out: 0 };
  countPushed(req, io);
  countWritten(res, io);
  metrics.requestStarted();
  res.once('close', () => {
    const t = ctx.state.target as S3Ctx['state']['target'] | undefined;
    const operation = t && !t.virtualHost && t.rawPath.startsWith(adminPrefix) ? 'Admin' : operationOf(ctx);
    metrics.requestFinished({
      operation,
      status: replyStatus(res),
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
      bytesIn: io.in,
      bytesOut: io.out,
    });
  });
}

function countPushed(req: IncomingMessage, io: { in: number }): void {
  const push = req.push;
  // The HTTP parser hands every body chunk to push(); null ends the stream.
  req.push = function countedPush(this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk) io.in += typeof chunk === 'string' ? Buffer.byteLength(chunk, encoding) : (chunk as Uint8Array).byteLength;
    return push.call(this, chunk, encoding);
  };
}

function countWritten(res: ServerResponse, io: { out: number }): void {
  const size = (chunk: unknown, encoding: unknown): number =>
    typeof chunk === 'string' ? Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : chunk instanceof Uint8Array ? chunk.byteLength : 0;
  const write = res.write;
  const end = res.end;
  res.write = function countedWrite(this: ServerResponse, chunk: unknown, ...rest: unknown[]): boolean {
    io.out += size(chunk, rest[0]);
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof res.write;
  res.end = function countedEnd(this: ServerResponse, chunk?: unknown, ...rest: unknown[]): ServerResponse {
    if (typeof chunk !== 'function') io.out += size(chunk, rest[0]);
    return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as typeof res.end;
}
