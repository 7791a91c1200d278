// What a bucket's lifecycle rules say about one object version, upload or delete marker:
// whether a rule's filter selects it, and from when an action is due. The worker
// (lifecycle-worker.ts) and the x-amz-expiration header use the same answers.
//
// Time: S3 adds the rule's days to the object's creation time (or the time it became
// noncurrent, or the upload's initiation) and rounds up to the next midnight UTC. With
// `lifecycle.day_seconds` set (tests, demos), a lifecycle day lasts that many seconds and
// nothing is rounded: an object with Days=2 and day_seconds=1 expires 2 s after it was written.

import type { LifecycleFilter, LifecycleRule, MultipartUpload, ObjectVersion } from '../meta/types.js';

export const REAL_DAY_MS = 86_400_000;

/** How long a lifecycle day lasts, and whether due times round to midnight UTC (only real days do). */
export interface LifecycleClock {
  dayMs: number;
  round: boolean;
}

export function lifecycleClock(daySeconds: number | undefined): LifecycleClock {
  if (daySeconds === undefined || daySeconds <= 0) return { dayMs: REAL_DAY_MS, round: true };
  return { dayMs: daySeconds * 1000, round: false };
}

/** `from` plus `days` lifecycle days, rounded up to the next midnight UTC on a real clock. */
export function dueAfter(clock: LifecycleClock, from: number, days: number): number {
  const t = from + days * clock.dayMs;
  if (!clock.round) return t;
  return Math.floor(t / REAL_DAY_MS) * REAL_DAY_MS + REAL_DAY_MS;
}

/** Does the filter select an object with this key, tags and size? */
export function filterMatches(f: LifecycleFilter, key: string, tags: Record<string, string> | undefined, size: number): boolean {
  if (f.prefix !== undefined && !key.startsWith(f.prefix)) return false;
  for (const t of f.tags ?? []) {
    if (!tags || !Object.hasOwn(tags, t.key) || tags[t.key] !== t.value) return false;
  }
  if (f.sizeGreaterThan !== undefined && !(size > f.sizeGreaterThan)) return false;
  if (f.sizeLessThan !== undefined && !(size < f.sizeLessThan)) return false;
  return true;
}

export function ruleSelects(r: LifecycleRule, v: Pick<ObjectVersion, 'key' | 'tags' | 'size'>): boolean {
  return r.enabled && filterMatches(r.filter, v.key, v.tags, v.size);
}

/** When the rule's Expiration (Days or Date) makes this current version expire; undefined: never. */
export function currentExpiry(clock: LifecycleClock, r: LifecycleRule, v: ObjectVersion): number | undefined {
  const e = r.expiration;
  if (!e || v.isDeleteMarker || !ruleSelects(r, v)) return undefined;
  if (e.days !== undefined) return dueAfter(clock, v.lastModified, e.days);
  if (e.date !== undefined) return e.date;
  return undefined;
}

/** The earliest expiry any rule gives a current version, with the rule that gives it (x-amz-expiration). */
export function earliestExpiry(clock: LifecycleClock, rules: LifecycleRule[] | undefined, v: ObjectVersion): { at: number; ruleId: string } | undefined {
  let best: { at: number; ruleId: string } | undefined;
  for (const r of rules ?? []) {
    const at = currentExpiry(clock, r, v);
    if (at !== undefined && (!best || at < best.at)) best = { at, ruleId: r.id };
  }
  return best;
}

/**
 * A delete marker that is the only version of its key left (an "expired object delete
 * marker") is removed by a rule with ExpiredObjectDeleteMarker, or by one whose Days/Date
 * expiration would have expired it (S3 removes them for rules that expire current versions).
 */
export function soleMarkerDue(clock: LifecycleClock, r: LifecycleRule, marker: ObjectVersion, now: number): boolean {
  const e = r.expiration;
  if (!e || !r.enabled) return false;
  // Markers have no tags and no size: a rule filtering on them does not select markers.
  if ((r.filter.tags?.length ?? 0) > 0) return false;
  if (!filterMatches(r.filter, marker.key, undefined, 0)) return false;
  if (e.expiredObjectDeleteMarker) return true;
  if (e.days !== undefined) return now >= dueAfter(clock, marker.lastModified, e.days);
  if (e.date !== undefined) return now >= e.date;
  return false;
}

/**
 * Is a noncurrent version due under the rule? `since`: when it became noncurrent; `newer`:
 * how many noncurrent versions of the key are newer than it (NewerNoncurrentVersions keeps
 * that many newest ones whatever their age).
 */
export function noncurrentDue(clock: LifecycleClock, r: LifecycleRule, v: ObjectVersion, since: number, newer: number, now: number): boolean {
  const n = r.noncurrentExpiration;
  if (!n || !r.enabled) return false;
  if (!filterMatches(r.filter, v.key, v.isDeleteMarker ? undefined : v.tags, v.isDeleteMarker ? 0 : v.size)) return false;
  if (v.isDeleteMarker && (r.filter.tags?.length ?? 0) > 0) return false;
  if (n.newerNoncurrentVersions !== undefined && newer < n.newerNoncurrentVersions) return false;
  return now >= dueAfter(clock, since, n.noncurrentDays);
}

/** When the rule aborts this upload; undefined: never. Such rules filter on prefix only. */
export function uploadAbortAt(clock: LifecycleClock, r: LifecycleRule, u: MultipartUpload): number | undefined {
  if (r.abortIncompleteDays === undefined || !r.enabled) return undefined;
  if (r.filter.prefix !== undefined && !u.key.startsWith(r.filter.prefix)) return undefined;
  return dueAfter(clock, u.initiated, r.abortIncompleteDays);
}

/** The x-amz-expiration header value for an expiry. The rule id is URL-encoded, as S3 sends it. */
export function expirationHeader(e: { at: number; ruleId: string }): string {
  return `expiry-date="${new Date(e.at).toUTCString()}", rule-id="${encodeURIComponent(e.ruleId)}"`;
}
