// Bucket events: what the object layer records when an object changes, for two consumers.
//
// 1. Notifications (PutBucketNotificationConfiguration): for every rule of the bucket that
//    matches the change, an event record in the AWS "event message structure" is added to the
//    SAME metadata batch as the change itself (a `putEvent` op), so an acknowledged write can
//    never lose its event, whatever happens to the process afterwards. notify/delivery.ts reads
//    that durable queue and sends it to the rule's target, deleting each record once sent.
// 2. The live stream (the admin API's events endpoint, `tessera watch`): an in-memory fan-out
//    after the commit, to subscribers with bounded buffers. Nothing durable: a subscriber sees
//    what happens while it is connected.
//
// Who caused a change (request id, client address, access key, which API call) is not an
// object-layer notion: the HTTP layer runs each S3 handler inside `requestContext`, and the
// commit reads it from there. Work that no request caused (lifecycle expiry) runs inside
// `runAsLifecycle`, which turns ObjectRemoved:* into LifecycleExpiration:*.

import { AsyncLocalStorage } from 'node:async_hooks';
import type { BucketRecord, MetaOp, MetaStore, NotificationRule, ObjectVersion } from '../meta/types.js';

/** Every event type a notification rule may name, as AWS spells them (wildcards included). */
export const EVENT_TYPES: readonly string[] = [
  's3:ObjectCreated:*', 's3:ObjectCreated:Put', 's3:ObjectCreated:Post', 's3:ObjectCreated:Copy', 's3:ObjectCreated:CompleteMultipartUpload',
  's3:ObjectRemoved:*', 's3:ObjectRemoved:Delete', 's3:ObjectRemoved:DeleteMarkerCreated',
  's3:ObjectTagging:*', 's3:ObjectTagging:Put', 's3:ObjectTagging:Delete',
  's3:LifecycleExpiration:*', 's3:LifecycleExpiration:Delete', 's3:LifecycleExpiration:DeleteMarkerCreated',
];

/** The name of one event as it appears in a record (AWS drops the "s3:" prefix there). */
export type EventName =
  | 'ObjectCreated:Put' | 'ObjectCreated:Post' | 'ObjectCreated:Copy' | 'ObjectCreated:CompleteMultipartUpload'
  | 'ObjectRemoved:Delete' | 'ObjectRemoved:DeleteMarkerCreated'
  | 'ObjectTagging:Put' | 'ObjectTagging:Delete'
  | 'LifecycleExpiration:Delete' | 'LifecycleExpiration:DeleteMarkerCreated';

/** True when the rule's event type (s3:ObjectCreated:* …) covers the event `name`. */
export function eventMatches(type: string, name: string): boolean {
  const t = type.startsWith('s3:') ? type.slice(3) : type;
  return t.endsWith(':*') ? name.startsWith(t.slice(0, -1)) : t === name;
}

/** What the HTTP layer knows about the request that is changing objects. */
export interface RequestContext {
  requestId?: string;
  hostId?: string;
  sourceIp?: string;
  /** Who signed it (an access key id), or "anonymous". */
  principalId?: string;
  /** The S3 API operation (PutObject, CopyObject, PostObject, CompleteMultipartUpload …). */
  operation?: string;
  /** Set by lifecycle expiry: removals are LifecycleExpiration:* events. */
  lifecycle?: boolean;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

/** Who AWS names as the cause of lifecycle expiry in event records. */
const LIFECYCLE_CONTEXT: RequestContext = { lifecycle: true, principalId: 's3.amazonaws.com', sourceIp: 's3.amazonaws.com' };

/** Runs `fn` as lifecycle expiry: the deletes it makes are reported as LifecycleExpiration:*. */
export function runAsLifecycle<T>(fn: () => Promise<T>): Promise<T> {
  return requestContext.run(LIFECYCLE_CONTEXT, fn);
}

/** The object-created event name for the operation that made the version. */
function createdName(ctx: RequestContext | undefined): EventName {
  switch (ctx?.operation) {
    case 'CopyObject': return 'ObjectCreated:Copy';
    case 'PostObject': return 'ObjectCreated:Post';
    case 'CompleteMultipartUpload': return 'ObjectCreated:CompleteMultipartUpload';
    default: return 'ObjectCreated:Put';
  }
}

/** What changed, as the commit paths of ObjectStore describe it. */
export type Change =
  | { kind: 'created'; version: ObjectVersion }
  /** A version (or, unversioned, the object) removed for good; versionId absent when unversioned. */
  | { kind: 'removed'; key: string; versionId?: string }
  | { kind: 'marker'; marker: ObjectVersion }
  | { kind: 'tagging'; version: ObjectVersion; put: boolean };

/** One record of the AWS event message structure ({"Records": [record]}). */
export interface EventRecord {
  eventVersion: string;
  eventSource: string;
  awsRegion: string;
  eventTime: string;
  eventName: EventName;
  userIdentity: { principalId: string };
  requestParameters: { sourceIPAddress: string };
  responseElements: { 'x-amz-request-id': string; 'x-amz-id-2': string };
  s3: {
    s3SchemaVersion: '1.0';
    configurationId: string;
    bucket: { name: string; ownerIdentity: { principalId: string }; arn: string };
    object: { key: string; size?: number; eTag?: string; versionId?: string; sequencer: string };
  };
}

/**
 * An object key as AWS writes it in event records: form-URL-encoded (a space is "+"), with
 * "/" left as is. Consumers decode it with decodeURIComponent(key.replace(/\+/g, ' ')).
 */
export function eventKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/%2F/g, '/')
    .replace(/%20/g, '+')
    .replace(/[!'()~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** The key a rule's prefix and suffix filters select (both must hold when both are set). */
export function ruleSelects(rule: Pick<NotificationRule, 'prefix' | 'suffix'>, key: string): boolean {
  return (rule.prefix === undefined || key.startsWith(rule.prefix)) && (rule.suffix === undefined || key.endsWith(rule.suffix));
}

// ---------------------------------------------------------------------------------------------
// The live stream

export interface LiveFilter {
  bucket: string;
  prefix?: string;
  suffix?: string;
  /** Event types (s3:ObjectCreated:* …); empty = all. */
  events: string[];
}

/** A live subscriber: gets each matching record; returns false when it cannot keep up (then it is dropped). */
export interface LiveSubscriber {
  filter: LiveFilter;
  deliver(record: EventRecord): boolean;
  /** Called once when the hub drops the subscriber (it did not keep up). */
  dropped(): void;
  /** Ends the subscription from the server's side (shutdown). */
  end(): void;
}

export class EventHub {
  private readonly subs = new Set<LiveSubscriber>();

  get size(): number {
    return this.subs.size;
  }

  subscribe(s: LiveSubscriber): () => void {
    this.subs.add(s);
    return () => this.subs.delete(s);
  }

  /** Ends every subscription (a graceful shutdown must not wait for streams that never end). */
  closeAll(): void {
    for (const s of [...this.subs]) {
      this.subs.delete(s);
      s.end();
    }
  }

  publish(bucket: string, key: string, record: EventRecord): void {
    for (const s of this.subs) {
      const f = s.filter;
      if (f.bucket !== bucket || !ruleSelects(f, key)) continue;
      if (f.events.length > 0 && !f.events.some((t) => eventMatches(t, record.eventName))) continue;
      if (!s.deliver(record)) {
        this.subs.delete(s);
        s.dropped();
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Recording

/** Counters by target name, read by the metrics at scrape time. */
export interface NotifyStats {
  /** Events waiting in the durable queue now. */
  queued: Map<string, number>;
  sent: Map<string, number>;
  /** Delivery attempts that failed (each retry counts). */
  failed: Map<string, number>;
}

export interface NotifierSettings {
  region: string;
  /** The canonical id of the bucket's owner (ownerIdentity.principalId). */
  ownerId(b: BucketRecord): string;
  /** Configured targets, name (lower case) → kind ("webhook"): ARNs must name one of them. */
  targets: ReadonlyMap<string, string>;
}

/** What a commit path adds to its batch, and calls once the batch is committed. */
export interface PreparedEvents {
  ops: MetaOp[];
  committed(): void;
}

const NOTHING: PreparedEvents = { ops: [], committed: () => undefined };

export class Notifier {
  readonly live = new EventHub();
  readonly stats: NotifyStats = { queued: new Map(), sent: new Map(), failed: new Map() };
  settings: NotifierSettings = { region: 'us-east-1', ownerId: () => '', targets: new Map() };
  /** Called after a commit queued events for a target (wakes its delivery loop). */
  onQueued: (target: string) => void = () => undefined;
  private seq = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Starts numbering after everything already queued (call once, at start-up). */
  async init(meta: MetaStore): Promise<void> {
    this.seq = Math.max(this.seq, await meta.lastEventSeq());
  }

  /**
   * Sequence numbers: increasing within the process and across restarts (after the queue's
   * highest, and after the clock in microseconds), so a key's events sort in commit order.
   */
  private nextSeq(): number {
    this.seq = Math.max(this.seq + 1, this.now() * 1000);
    return this.seq;
  }

  /**
   * Records what a change needs: queue ops for the bucket's matching rules, and the live
   * fan-out. `cause` 'lifecycle' (the lifecycle worker's deletes) makes removals
   * LifecycleExpiration:* events, whatever request context the worker runs in.
   */
  prepare(b: BucketRecord, change: Change, cause?: 'lifecycle'): PreparedEvents {
    const rules = b.notification;
    if ((!rules || rules.length === 0) && this.live.size === 0) return NOTHING;
    const ctx = cause === 'lifecycle' ? LIFECYCLE_CONTEXT : requestContext.getStore();
    const seq = this.nextSeq();
    const base = this.record(b, change, ctx, seq);
    const key = change.kind === 'created' || change.kind === 'tagging' ? change.version.key : change.kind === 'marker' ? change.marker.key : change.key;
    const ops: MetaOp[] = [];
    const queued: string[] = [];
    for (const rule of rules ?? []) {
      if (!rule.events.some((t) => eventMatches(t, base.eventName)) || !ruleSelects(rule, key)) continue;
      const record: EventRecord = { ...base, s3: { ...base.s3, configurationId: rule.id } };
      // Each rule's record gets its own place in the target's queue, in commit order.
      ops.push({ type: 'putEvent', target: rule.target, seq: ops.length === 0 ? seq : this.nextSeq(), record });
      queued.push(rule.target);
    }
    return {
      ops,
      committed: () => {
        for (const t of queued) this.stats.queued.set(t, (this.stats.queued.get(t) ?? 0) + 1);
        for (const t of new Set(queued)) this.onQueued(t);
        if (this.live.size > 0) this.live.publish(b.name, key, base);
      },
    };
  }

  private record(b: BucketRecord, change: Change, ctx: RequestContext | undefined, seq: number): EventRecord {
    let name: EventName;
    let object: EventRecord['s3']['object'];
    const sequencer = seq.toString(16).toUpperCase().padStart(16, '0');
    const vid = (id: string | undefined) => (id === undefined || id === 'null' ? {} : { versionId: id });
    switch (change.kind) {
      case 'created': {
        const v = change.version;
        name = createdName(ctx);
        object = { key: eventKey(v.key), size: v.size, eTag: v.etag, ...vid(v.versionId), sequencer };
        break;
      }
      case 'tagging': {
        const v = change.version;
        name = change.put ? 'ObjectTagging:Put' : 'ObjectTagging:Delete';
        object = { key: eventKey(v.key), size: v.size, eTag: v.etag, ...vid(v.versionId), sequencer };
        break;
      }
      case 'removed':
        name = ctx?.lifecycle ? 'LifecycleExpiration:Delete' : 'ObjectRemoved:Delete';
        object = { key: eventKey(change.key), ...vid(change.versionId), sequencer };
        break;
      case 'marker':
        name = ctx?.lifecycle ? 'LifecycleExpiration:DeleteMarkerCreated' : 'ObjectRemoved:DeleteMarkerCreated';
        object = { key: eventKey(change.marker.key), ...vid(change.marker.versionId), sequencer };
        break;
    }
    return {
      // AWS numbers tagging and lifecycle records 2.3, the others 2.1 (fields are compatible).
      eventVersion: name.startsWith('ObjectTagging') || name.startsWith('Lifecycle') ? '2.3' : '2.1',
      // "aws:s3", not a Tessera name: consumers written for S3 (Lambda handlers, SDK event
      // types) check this field before they read the rest.
      eventSource: 'aws:s3',
      awsRegion: this.settings.region,
      eventTime: new Date(this.now()).toISOString(),
      eventName: name,
      userIdentity: { principalId: ctx?.principalId ?? 'tessera' },
      requestParameters: { sourceIPAddress: ctx?.sourceIp ?? '' },
      responseElements: { 'x-amz-request-id': ctx?.requestId ?? '', 'x-amz-id-2': ctx?.hostId ?? '' },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: '',
        bucket: { name: b.name, ownerIdentity: { principalId: this.settings.ownerId(b) }, arn: `arn:aws:s3:::${b.name}` },
        object,
      },
    };
  }
}
