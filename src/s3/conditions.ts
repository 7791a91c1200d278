// Conditional requests as S3 evaluates them (RFC 7232 precedence): If-Match, then
// If-Unmodified-Since only when If-Match is absent → 412; If-None-Match, then
// If-Modified-Since only when If-None-Match is absent → 304 (GET/HEAD).

import { S3Error } from '../errors.js';
import type { ObjectVersion } from '../meta/types.js';
import { stripQuotes } from '../object/store.js';

export interface ConditionHeaders {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifUnmodifiedSince?: string;
}

function etagListMatches(list: string, etag: string): boolean {
  return list.split(',').some((t) => {
    const s = t.trim();
    return s === '*' || stripQuotes(s) === etag;
  });
}

function parseDate(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

/** Throws PreconditionFailed (412) or NotModified (304) when the request's conditions say so. */
export function evaluateConditions(v: ObjectVersion, c: ConditionHeaders, copySource = false): void {
  const lm = Math.floor(v.lastModified / 1000) * 1000; // HTTP dates have second precision
  const fail = (cond: string) => new S3Error('PreconditionFailed', undefined, { Condition: cond });
  if (c.ifMatch !== undefined) {
    if (!etagListMatches(c.ifMatch, v.etag)) throw fail(copySource ? 'x-amz-copy-source-If-Match' : 'If-Match');
  } else {
    const t = parseDate(c.ifUnmodifiedSince);
    if (t !== undefined && lm > t) throw fail(copySource ? 'x-amz-copy-source-If-Unmodified-Since' : 'If-Unmodified-Since');
  }
  if (c.ifNoneMatch !== undefined) {
    if (etagListMatches(c.ifNoneMatch, v.etag)) {
      if (copySource) throw fail('x-amz-copy-source-If-None-Match');
      throw new S3Error('NotModified');
    }
  } else {
    const t = parseDate(c.ifModifiedSince);
    if (t !== undefined && lm <= t) {
      if (copySource) throw fail('x-amz-copy-source-If-Modified-Since');
      throw new S3Error('NotModified');
    }
  }
}
