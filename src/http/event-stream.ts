// GET /tessera/admin/v1/events?bucket=B[&prefix=P][&suffix=S][&events=put,delete]: the live
// event stream for sync clients, as Server-Sent Events. Each change committed in the bucket
// that passes the filters is sent as one SSE message:
//
//   id: <sequencer>
//   event: s3
//   data: {"Records":[<the AWS event record>]}
//
// The stream is an in-memory fan-out from the commit (object/events.ts): nothing is kept for a
// client that is not connected. A client that does not read fast enough (more than
// MAX_BUFFERED bytes waiting) gets a final `event: dropped` message and the stream ends, so one
// slow reader never makes the server hold an unbounded backlog. The request is signed like any
// other and needs s3:ListenBucketNotification on the bucket (the root key and the bucket's
// owner have it; others need a policy that allows it).

import { PassThrough } from 'node:stream';
import { S3Error } from '../errors.js';
import { EVENT_TYPES, type EventRecord, type LiveFilter } from '../object/events.js';
import type { ObjectStore } from '../object/store.js';
import type { S3Ctx, S3Deps } from '../s3/context.js';
import { validateBucketReference } from '../s3/validate.js';

/** Bytes a subscriber may have waiting before it is dropped. */
const MAX_BUFFERED = 1024 * 1024;
/** A comment line this often keeps proxies and idle timeouts from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;

/** Short names for the event families (what `tessera watch --events` takes). */
const SHORT_NAMES: Record<string, string> = {
  put: 's3:ObjectCreated:*',
  created: 's3:ObjectCreated:*',
  delete: 's3:ObjectRemoved:*',
  removed: 's3:ObjectRemoved:*',
  tagging: 's3:ObjectTagging:*',
  lifecycle: 's3:LifecycleExpiration:*',
};

/** "put,delete" or "s3:ObjectCreated:Copy,…" → event types; unknown names are InvalidArgument. */
export function parseEventList(text: string | undefined): string[] {
  if (text === undefined || text.trim() === '') return [];
  return text.split(',').map((w) => w.trim()).filter((w) => w !== '').map((w) => {
    const t = SHORT_NAMES[w.toLowerCase()] ?? (w.startsWith('s3:') ? w : `s3:${w}`);
    if (!EVENT_TYPES.includes(t)) {
      throw new S3Error('InvalidArgument', `Unknown event type "${w}": use put, delete, tagging, lifecycle or an S3 event type such as s3:ObjectCreated:Put.`);
    }
    return t;
  });
}

function one(ctx: S3Ctx, name: string): string | undefined {
  const v = ctx.query[name];
  return Array.isArray(v) ? v[0] : v;
}

export async function serveEventStream(ctx: S3Ctx, d: { store: ObjectStore; authorize: S3Deps['authorize'] }): Promise<void> {
  if (ctx.method !== 'GET') throw new S3Error('MethodNotAllowed', `${ctx.method} is not allowed on this admin resource.`);
  const bucket = one(ctx, 'bucket');
  if (bucket === undefined || bucket === '') throw new S3Error('InvalidInput', 'Name the bucket: ?bucket=NAME.');
  validateBucketReference(bucket);
  await d.authorize(ctx, 's3:ListenBucketNotification', bucket);
  await d.store.getBucket(bucket); // NoSuchBucket
  const filter: LiveFilter = { bucket, events: parseEventList(one(ctx, 'events')) };
  const prefix = one(ctx, 'prefix');
  const suffix = one(ctx, 'suffix');
  if (prefix) filter.prefix = prefix;
  if (suffix) filter.suffix = suffix;

  const out = new PassThrough();
  const backlog = () => out.writableLength + out.readableLength + (ctx.res.writableLength ?? 0);
  let ended = false;
  const finish = () => {
    if (ended) return;
    ended = true;
    clearInterval(keepalive);
    unsubscribe();
    out.end();
  };
  const unsubscribe = d.store.events.live.subscribe({
    filter,
    deliver: (record: EventRecord) => {
      if (ended) return true;
      if (backlog() > MAX_BUFFERED) return false;
      out.write(`id: ${record.s3.object.sequencer}\nevent: s3\ndata: ${JSON.stringify({ Records: [record] })}\n\n`);
      return true;
    },
    dropped: () => {
      if (ended) return;
      out.write(`event: dropped\ndata: ${JSON.stringify({ reason: `the client read too slowly: more than ${MAX_BUFFERED} bytes of events were waiting` })}\n\n`);
      finish();
    },
    end: finish,
  });
  const keepalive = setInterval(() => {
    if (!ended && backlog() < MAX_BUFFERED) out.write(': keepalive\n\n');
  }, KEEPALIVE_MS);
  keepalive.unref();
  ctx.req.once('close', finish);
  ctx.res.once('close', finish);

  ctx.status = 200;
  ctx.set('Content-Type', 'text/event-stream; charset=utf-8');
  ctx.set('Cache-Control', 'no-cache');
  // Sent at once, so the client knows it is subscribed before the first change.
  out.write(`: subscribed to ${bucket}\n\n`);
  ctx.body = out;
}
