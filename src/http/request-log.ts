// One log line per request, written when the reply is finished (or the connection is gone):
// who (access key), what (AWS operation, bucket, key), the outcome (status, S3 error code) and
// the cost (bytes in and out, milliseconds). Requests that change something and requests
// refused for their credentials also go to the audit log when one is configured.
//
// Nothing here reads headers or query values into the line beyond the access key id (which is
// not secret): never the Authorization header, a presigned URL's query, or an SSE-C key.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type Koa from 'koa';
import type { AuditLog } from '../ops/audit.js';
import type { Level, Logger } from '../ops/log.js';
import { replyStatus } from '../ops/reply-status.js';
import type { S3State } from '../s3/context.js';
import { operationOf } from '../s3/dispatch.js';
import { ADMIN_PREFIX } from './admin-api.js';

export interface RequestLogOptions {
  log: Logger;
  audit?: AuditLog;
}

/** Paths that are not S3 requests and are polled all day (probes, scrapes): logged at debug. */
const POLLED = new Set(['/health/live', '/health/ready', '/metrics']);
const MUTATING = new Set(['PUT', 'POST', 'DELETE']);

export function requestLog(o: RequestLogOptions): Koa.Middleware<S3State> {
  return async (ctx, next) => {
    const started = performance.now();
    const bytes = countBytes(ctx.req, ctx.res);
    // Read now: by the time 'close' fires the socket may be detached (req.socket is null).
    const remote = ctx.req.socket?.remoteAddress;
    ctx.res.once('close', () => {
      try {
        line();
      } catch {
        // A log line that cannot be built must never become an uncaught exception.
      }
    });
    const line = (): void => {
      const status = replyStatus(ctx.res);
      const rec = describe(ctx as Koa.ParameterizedContext<S3State>, status, remote);
      rec.bytesIn = bytes.in;
      rec.bytesOut = bytes.out;
      rec.ms = Math.round((performance.now() - started) * 10) / 10;
      // The reply never completed: the client went away, or a stream failed under it.
      if (!ctx.res.writableFinished) rec.aborted = true;
      const path = rawPath(ctx.req.url);
      const level: Level = POLLED.has(path) ? 'debug' : status >= 500 ? 'warn' : 'info';
      o.log(level, 'request', rec);
      if (o.audit && (MUTATING.has(ctx.method) || status === 401 || status === 403)) o.audit.write(rec);
    };
    await next();
  };
}

function describe(ctx: Koa.ParameterizedContext<S3State>, status: number, ip: string | undefined): Record<string, unknown> {
  const st = ctx.state;
  const t = st.target;
  const rec: Record<string, unknown> = { requestId: st.requestId, method: ctx.method };
  let op: string;
  const path = rawPath(ctx.req.url);
  if (t && !t.virtualHost && t.rawPath.startsWith(ADMIN_PREFIX)) {
    op = 'Admin';
    rec.path = t.rawPath;
  } else if (t) {
    op = operationOf(ctx as never);
  } else {
    // Refused before the path was understood (no Host header, unparsable URI), or not S3.
    op = POLLED.has(path) ? path : 'Unknown';
  }
  rec.op = op;
  if (t?.bucket !== undefined) rec.bucket = t.bucket;
  if (t?.key !== undefined) rec.key = t.key;
  rec.status = status;
  if (st.errorCode) rec.error = st.errorCode;
  const who = st.principal;
  if (who && who.kind !== 'anonymous') {
    rec.accessKey = who.accessKeyId;
    if (who.kind === 'user') rec.user = who.name;
  } else {
    const claimed = claimedAccessKey(ctx.req);
    // The key a refused request claimed to sign with: what an operator looks for after a 403.
    if (claimed) rec.accessKey = claimed;
    else if (who?.kind === 'anonymous') rec.accessKey = '-';
  }
  if (ip) rec.remote = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return rec;
}

/** The access key id named in the Authorization header or a presigned URL (not verified). */
function claimedAccessKey(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /Credential=([A-Za-z0-9._~+-]{1,128})\//.exec(h) ?? /^AWS ([A-Za-z0-9._~+-]{1,128}):/.exec(h);
    if (m) return m[1];
  }
  const url = req.url ?? '';
  const q = /[?&]X-Amz-Credential=([A-Za-z0-9._~+-]{1,128})(?:%2F|\/)/i.exec(url);
  return q?.[1];
}

function rawPath(url: string | undefined): string {
  const u = url ?? '/';
  const i = u.indexOf('?');
  return i < 0 ? u : u.slice(0, i);
}

type Chunk = string | Uint8Array | null | undefined | ((...a: unknown[]) => void);
const sizeOf = (c: Chunk, enc?: unknown): number =>
  typeof c === 'string' ? Buffer.byteLength(c, typeof enc === 'string' ? (enc as BufferEncoding) : 'utf8') : c instanceof Uint8Array ? c.byteLength : 0;

/**
 * Counts body bytes as they pass: request body bytes the HTTP parser hands to the request
 * stream (after transfer-encoding, before aws-chunked decoding), and reply body bytes the app
 * hands to the response. Wrapping the two methods leaves the streams' modes alone (a 'data'
 * listener would start the request flowing before a handler asked for it).
 */
function countBytes(req: IncomingMessage, res: ServerResponse): { in: number; out: number } {
  const c = { in: 0, out: 0 };
  const push = req.push;
  req.push = function countedPush(this: IncomingMessage, chunk: Chunk, enc?: BufferEncoding): boolean {
    c.in += sizeOf(chunk, enc);
    return push.call(this, chunk, enc);
  } as typeof req.push;
  const write = res.write;
  res.write = function countedWrite(this: ServerResponse, chunk: Chunk, ...rest: unknown[]): boolean {
    c.out += sizeOf(chunk, rest[0]);
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof res.write;
  const end = res.end;
  res.end = function countedEnd(this: ServerResponse, chunk?: Chunk, ...rest: unknown[]): ServerResponse {
    c.out += sizeOf(chunk, rest[0]);
    return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as typeof res.end;
  return c;
}
