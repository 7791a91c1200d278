// PutBucketNotificationConfiguration and GetBucketNotificationConfiguration (?notification).
//
// A destination ARN names a target configured on this server (`notify.webhook.NAME` or
// TESSERA_NOTIFY_WEBHOOK_<NAME>): arn:tessera:sqs::NAME:webhook. Queue, Topic and
// CloudFunction configurations are all accepted and behave alike: the kind of delivery is the
// target's, not the element's. Validation follows S3: unknown events, unknown destinations and
// overlapping rules are InvalidArgument; nothing is stored unless the whole document is valid.

import { randomBytes } from 'node:crypto';
import { S3Error } from '../errors.js';
import type { NotificationRule } from '../meta/types.js';
import { EVENT_TYPES, eventMatches } from '../object/events.js';
import { type S3Ctx, type S3Deps, bucketOf, readSmallBody, sendXml } from './context.js';
import { notificationXml, parseNotificationConfiguration, type RequestedNotificationRule } from './xml.js';
import { createHash } from 'node:crypto';

const MAX_BODY = 64 * 1024;
/** S3 takes at most this many destination configurations per bucket. */
const MAX_RULES = 100;

/** `arn:tessera:sqs:<region?>:NAME:KIND` → {name, kind}; undefined when it is not one of ours. */
export function parseTargetArn(arn: string): { name: string; kind: string } | undefined {
  const m = /^arn:tessera:sqs:[^:]*:([^:]+):([a-z]+)$/.exec(arn);
  return m ? { name: m[1]!.toLowerCase(), kind: m[2]! } : undefined;
}

export async function putBucketNotification(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const name = bucketOf(ctx);
  await deps.store.getBucket(name);
  const body = await readSmallBody(deps, ctx, MAX_BODY);
  const md5 = ctx.get('content-md5');
  if (md5 && createHash('md5').update(body).digest('base64') !== md5) throw new S3Error('BadDigest');
  const requested = await parseNotificationConfiguration(body);
  const skipValidation = ctx.get('x-amz-skip-destination-validation').toLowerCase() === 'true';
  const rules = validate(requested, deps.store.events.settings.targets, skipValidation);
  await deps.store.updateBucket(name, { notification: rules.length > 0 ? rules : undefined });
  ctx.status = 200;
  ctx.body = '';
}

/** S3 answers an empty configuration, not an error, for a bucket without one. */
export async function getBucketNotification(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const b = await deps.store.getBucket(bucketOf(ctx));
  sendXml(ctx, notificationXml(b.notification ?? []));
}

function validate(requested: RequestedNotificationRule[], targets: ReadonlyMap<string, string>, skipDestinationValidation: boolean): NotificationRule[] {
  if (requested.length > MAX_RULES) throw new S3Error('InvalidArgument', `A bucket can have at most ${MAX_RULES} notification configurations.`);
  const rules: NotificationRule[] = [];
  const ids = new Set<string>();
  const unknown: string[] = [];
  for (const r of requested) {
    for (const e of r.events) {
      if (!EVENT_TYPES.includes(e)) throw new S3Error('InvalidArgument', 'The event is not supported for notifications', { ArgumentName: 'Event', ArgumentValue: e });
    }
    const target = parseTargetArn(r.arn);
    if (!target || (!skipDestinationValidation && targets.get(target.name) !== target.kind)) unknown.push(r.arn);
    const id = r.id ?? randomBytes(12).toString('base64url');
    if (ids.has(id)) throw new S3Error('InvalidArgument', 'Same ID used for multiple configurations.', { ArgumentName: 'Id', ArgumentValue: id });
    ids.add(id);
    const rule: NotificationRule = { kind: r.kind, id, arn: r.arn, target: target?.name ?? '', events: [...new Set(r.events)] };
    if (r.prefix !== undefined && r.prefix !== '') rule.prefix = r.prefix;
    if (r.suffix !== undefined && r.suffix !== '') rule.suffix = r.suffix;
    rules.push(rule);
  }
  if (unknown.length > 0) {
    // As S3: every destination it could not validate, numbered.
    const fields: Record<string, string> = {};
    unknown.forEach((arn, i) => {
      fields[`ArgumentName${i + 1}`] = arn;
      fields[`ArgumentValue${i + 1}`] = parseTargetArn(arn)
        ? 'No target of that name and type is configured on this server (notify.webhook.NAME or TESSERA_NOTIFY_WEBHOOK_<NAME>)'
        : 'Not a Tessera target ARN; expected arn:tessera:sqs::NAME:webhook';
    });
    throw new S3Error('InvalidArgument', 'Unable to validate the following destination configurations', fields);
  }
  for (let i = 0; i < rules.length; i++) {
    for (let j = i + 1; j < rules.length; j++) {
      if (overlap(rules[i]!, rules[j]!)) {
        throw new S3Error('InvalidArgument', 'Configurations overlap. Configurations on the same bucket cannot share a common event type.', { ArgumentName: 'Event', ArgumentValue: sharedEvent(rules[i]!, rules[j]!) });
      }
    }
  }
  return rules;
}

/**
 * Two rules overlap (S3 refuses them) when they share an event type and some key could match
 * both filters: each prefix is a prefix of the other (or absent), and likewise the suffixes.
 */
function overlap(a: NotificationRule, b: NotificationRule): boolean {
  if (sharedEvent(a, b) === '') return false;
  const prefixes = a.prefix === undefined || b.prefix === undefined || a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix);
  const suffixes = a.suffix === undefined || b.suffix === undefined || a.suffix.endsWith(b.suffix) || b.suffix.endsWith(a.suffix);
  return prefixes && suffixes;
}

/** An event type both rules cover ('' for none): equal names, or one a wildcard over the other. */
function sharedEvent(a: NotificationRule, b: NotificationRule): string {
  for (const x of a.events) {
    for (const y of b.events) {
      if (x === y || eventMatches(x, y.slice(3)) || eventMatches(y, x.slice(3))) return x.endsWith('*') ? y : x;
    }
  }
  return '';
}
