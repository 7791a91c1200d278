// PutBucketLifecycleConfiguration's body, validated with the codes and messages Amazon S3
// answers, and GetBucketLifecycleConfiguration's reply.
//
// Where S3's schema makes a choice (a Filter holds one of Prefix, Tag, And, ObjectSize…; an
// Expiration one of Days, Date, ExpiredObjectDeleteMarker) a second member does not validate:
// MalformedXML, as for any element S3's schema does not know. Transitions are valid on S3 but
// Tessera has one storage class, so a rule asking for one is refused (NotImplemented) rather
// than stored and never acted on.

import { randomBytes } from 'node:crypto';
import { S3Error } from '../errors.js';
import type { LifecycleFilter, LifecycleRule } from '../meta/types.js';
import { doc, el, optEl } from './xml-build.js';
import { charLength, children, malformed, optionalText, parseRoot, single, type XmlBody, type XNode } from './xml-parse.js';

/** S3 accepts up to 1000 rules in one configuration. */
export const MAX_LIFECYCLE_RULES = 1000;
const MAX_ID = 255;
const MAX_NEWER_NONCURRENT = 100;

const RULE_MEMBERS = new Set(['ID', 'Status', 'Filter', 'Prefix', 'Expiration', 'NoncurrentVersionExpiration', 'AbortIncompleteMultipartUpload', 'Transition', 'NoncurrentVersionTransition']);
const FILTER_MEMBERS = new Set(['Prefix', 'Tag', 'And', 'ObjectSizeGreaterThan', 'ObjectSizeLessThan']);
const AND_MEMBERS = new Set(['Prefix', 'Tag', 'ObjectSizeGreaterThan', 'ObjectSizeLessThan']);

function invalidArgument(message: string, name?: string, value?: string): S3Error {
  return new S3Error('InvalidArgument', message, name !== undefined ? { ArgumentName: name, ...(value !== undefined ? { ArgumentValue: value } : {}) } : undefined);
}

function invalidRequest(message: string): S3Error {
  return new S3Error('InvalidRequest', message);
}

/** Child element names of a node (text and attributes aside). */
function memberNames(node: XNode): string[] {
  if (typeof node === 'string') return [];
  return Object.keys(node).filter((k) => !k.startsWith('@@'));
}

function onlyMembers(node: XNode, allowed: ReadonlySet<string>): void {
  for (const n of memberNames(node)) if (!allowed.has(n)) throw malformed();
}

/** An xs:int / xs:long as text; anything else does not validate. */
function integer(text: string): number {
  const t = text.trim();
  if (!/^[+-]?\d{1,16}$/.test(t)) throw malformed();
  return Number(t);
}

function positiveDays(node: XNode, name: string, action: string): number | undefined {
  const t = optionalText(node, name);
  if (t === undefined) return undefined;
  const n = integer(t);
  if (n <= 0) throw invalidArgument(`'${name}' for ${action} action must be a positive integer`, name, t.trim());
  return n;
}

/** The rules of a PutBucketLifecycleConfiguration body, IDs generated where absent. */
export async function parseLifecycleConfiguration(body: XmlBody): Promise<LifecycleRule[]> {
  const root = parseRoot(body, 'LifecycleConfiguration');
  if (root === undefined) throw malformed();
  onlyMembers(root, new Set(['Rule']));
  const nodes = children(root, 'Rule');
  if (nodes.length === 0 || nodes.length > MAX_LIFECYCLE_RULES) throw malformed();
  const rules = nodes.map(parseRule);
  const seen = new Set<string>();
  for (const r of rules) {
    if (seen.has(r.id)) throw invalidArgument('Rule ID must be unique. Found same ID for more than one rule', 'ID', r.id);
    seen.add(r.id);
  }
  return rules;
}

function parseRule(node: XNode): LifecycleRule {
  if (typeof node === 'string') throw malformed();
  onlyMembers(node, RULE_MEMBERS);
  if (children(node, 'Transition').length > 0 || children(node, 'NoncurrentVersionTransition').length > 0) {
    throw new S3Error('NotImplemented', 'Lifecycle transitions are not supported: this server has one storage class (STANDARD). Use Expiration actions only.');
  }
  let id = optionalText(node, 'ID');
  if (id !== undefined && charLength(id) > MAX_ID) throw invalidArgument('ID length should not exceed allowed limit of 255', 'ID', id);
  // S3 gives a rule sent without an ID (or with an empty one) a generated one.
  if (id === undefined || id === '') id = randomBytes(36).toString('base64');
  const status = optionalText(node, 'Status');
  if (status !== 'Enabled' && status !== 'Disabled') throw malformed();

  const legacyPrefix = optionalText(node, 'Prefix');
  const filterNode = single(node, 'Filter');
  // Exactly one of the legacy top-level Prefix and Filter.
  if ((legacyPrefix === undefined) === (filterNode === undefined)) throw malformed();
  const filter: LifecycleFilter = filterNode !== undefined ? parseFilter(filterNode) : { form: 'legacy', prefix: legacyPrefix };

  const rule: LifecycleRule = { id, enabled: status === 'Enabled', filter };
  const exp = single(node, 'Expiration');
  if (exp !== undefined) rule.expiration = parseExpiration(exp);
  const nve = single(node, 'NoncurrentVersionExpiration');
  if (nve !== undefined) rule.noncurrentExpiration = parseNoncurrent(nve);
  const abort = single(node, 'AbortIncompleteMultipartUpload');
  if (abort !== undefined) {
    onlyMembers(abort, new Set(['DaysAfterInitiation']));
    const days = positiveDays(abort, 'DaysAfterInitiation', 'AbortIncompleteMultipartUpload');
    if (days === undefined) throw malformed();
    rule.abortIncompleteDays = days;
  }
  if (!rule.expiration && !rule.noncurrentExpiration && rule.abortIncompleteDays === undefined) {
    throw invalidRequest('At least one action needs to be specified in a rule.');
  }
  // Uploads and delete markers have no tags or size to filter on.
  const tagged = (filter.tags?.length ?? 0) > 0;
  const sized = filter.sizeGreaterThan !== undefined || filter.sizeLessThan !== undefined;
  if (rule.abortIncompleteDays !== undefined && tagged) throw invalidRequest('AbortIncompleteMultipartUpload cannot be specified with Tags.');
  if (rule.abortIncompleteDays !== undefined && sized) throw invalidRequest('AbortIncompleteMultipartUpload cannot be specified with Object Size.');
  if (rule.expiration?.expiredObjectDeleteMarker && tagged) throw invalidRequest('ExpiredObjectDeleteMarker cannot be specified with Tags.');
  if (rule.expiration?.expiredObjectDeleteMarker && sized) throw invalidRequest('ExpiredObjectDeleteMarker cannot be specified with Object Size.');
  return rule;
}

function parseFilter(node: XNode): LifecycleFilter {
  onlyMembers(node, FILTER_MEMBERS);
  const names = memberNames(node);
  // <Filter/> or <Filter></Filter>: every object.
  if (names.length === 0) return { form: 'filter' };
  if (names.length > 1 || (children(node, names[0]!).length > 1)) throw malformed();
  if (names[0] === 'And') {
    const and = single(node, 'And')!;
    onlyMembers(and, AND_MEMBERS);
    if (memberNames(and).length === 0) throw malformed();
    const f = predicates(and, true);
    return { form: 'and', ...f };
  }
  return { form: 'filter', ...predicates(node, false) };
}

/** Prefix, Tag(s) and size bounds of a Filter (one of them) or an And (any number of tags). */
function predicates(node: XNode, and: boolean): Omit<LifecycleFilter, 'form'> {
  const out: Omit<LifecycleFilter, 'form'> = {};
  const prefix = optionalText(node, 'Prefix');
  if (prefix !== undefined) out.prefix = prefix;
  const tagNodes = children(node, 'Tag');
  if (!and && tagNodes.length > 1) throw malformed();
  if (tagNodes.length > 0) {
    const tags: Array<{ key: string; value: string }> = [];
    for (const t of tagNodes) {
      onlyMembers(t, new Set(['Key', 'Value']));
      const key = optionalText(t, 'Key');
      const value = optionalText(t, 'Value');
      if (key === undefined || value === undefined) throw malformed();
      if (key === '' || charLength(key) > 128) throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid');
      if (charLength(value) > 256) throw new S3Error('InvalidTag', 'The TagValue you have provided is too long, max 256');
      if (tags.some((x) => x.key === key)) throw invalidRequest('Duplicate Tag Keys are not allowed.');
      tags.push({ key, value });
    }
    out.tags = tags;
  }
  const gt = optionalText(node, 'ObjectSizeGreaterThan');
  if (gt !== undefined) out.sizeGreaterThan = sizeBound(gt, 'ObjectSizeGreaterThan');
  const lt = optionalText(node, 'ObjectSizeLessThan');
  if (lt !== undefined) out.sizeLessThan = sizeBound(lt, 'ObjectSizeLessThan');
  if (out.sizeGreaterThan !== undefined && out.sizeLessThan !== undefined && out.sizeGreaterThan >= out.sizeLessThan) {
    throw invalidArgument('ObjectSizeGreaterThan must be less than ObjectSizeLessThan', 'ObjectSizeGreaterThan', String(out.sizeGreaterThan));
  }
  return out;
}

function sizeBound(text: string, name: string): number {
  const n = integer(text);
  if (n < 0) throw invalidArgument(`'${name}' should be a non-negative integer`, name, text.trim());
  return n;
}

function parseExpiration(node: XNode): NonNullable<LifecycleRule['expiration']> {
  onlyMembers(node, new Set(['Days', 'Date', 'ExpiredObjectDeleteMarker']));
  const names = memberNames(node);
  // S3's schema: one of Days, Date and ExpiredObjectDeleteMarker.
  if (names.length !== 1) throw malformed();
  const days = positiveDays(node, 'Days', 'Expiration');
  if (days !== undefined) return { days };
  const date = optionalText(node, 'Date');
  if (date !== undefined) return { date: parseMidnight(date) };
  const marker = optionalText(node, 'ExpiredObjectDeleteMarker')?.trim();
  if (marker !== 'true' && marker !== 'false') throw malformed();
  return { expiredObjectDeleteMarker: marker === 'true' };
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** An ISO 8601 date or date-time; it must fall on midnight UTC. */
function parseMidnight(text: string): number {
  const t = text.trim();
  const m = ISO_DATE.exec(t);
  if (!m) throw malformed();
  let iso = t;
  if (m[4] === undefined) iso = `${t}T00:00:00Z`;
  else if (m[7] === undefined) iso = `${t}Z`; // a time without a zone: S3 reads it as UTC
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw malformed();
  if (ms % 86_400_000 !== 0) throw invalidArgument("'Date' must be at midnight GMT", 'Date', t);
  return ms;
}

function parseNoncurrent(node: XNode): NonNullable<LifecycleRule['noncurrentExpiration']> {
  onlyMembers(node, new Set(['NoncurrentDays', 'NewerNoncurrentVersions']));
  const days = positiveDays(node, 'NoncurrentDays', 'NoncurrentVersionExpiration');
  if (days === undefined) throw malformed();
  const out: NonNullable<LifecycleRule['noncurrentExpiration']> = { noncurrentDays: days };
  const newer = positiveDays(node, 'NewerNoncurrentVersions', 'NoncurrentVersionExpiration');
  if (newer !== undefined) {
    if (newer > MAX_NEWER_NONCURRENT) throw invalidArgument(`'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must not exceed ${MAX_NEWER_NONCURRENT}`, 'NewerNoncurrentVersions', String(newer));
    out.newerNoncurrentVersions = newer;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// GetBucketLifecycleConfiguration

/** The rules as stored, each filter in the form it was sent. */
export function lifecycleXml(rules: LifecycleRule[]): string {
  let body = '';
  for (const r of rules) {
    let rule = el('ID', r.id);
    rule += filterXml(r.filter);
    rule += el('Status', r.enabled ? 'Enabled' : 'Disabled');
    const e = r.expiration;
    if (e) {
      let inner = optEl('Days', e.days);
      if (e.date !== undefined) inner += el('Date', new Date(e.date).toISOString());
      inner += optEl('ExpiredObjectDeleteMarker', e.expiredObjectDeleteMarker);
      rule += `<Expiration>${inner}</Expiration>`;
    }
    const n = r.noncurrentExpiration;
    if (n) rule += `<NoncurrentVersionExpiration>${el('NoncurrentDays', n.noncurrentDays)}${optEl('NewerNoncurrentVersions', n.newerNoncurrentVersions)}</NoncurrentVersionExpiration>`;
    if (r.abortIncompleteDays !== undefined) rule += `<AbortIncompleteMultipartUpload>${el('DaysAfterInitiation', r.abortIncompleteDays)}</AbortIncompleteMultipartUpload>`;
    body += `<Rule>${rule}</Rule>`;
  }
  return doc('LifecycleConfiguration', body);
}

function filterXml(f: LifecycleFilter): string {
  if (f.form === 'legacy') return el('Prefix', f.prefix ?? '');
  let inner = optEl('Prefix', f.prefix);
  for (const t of f.tags ?? []) inner += `<Tag>${el('Key', t.key)}${el('Value', t.value)}</Tag>`;
  inner += optEl('ObjectSizeGreaterThan', f.sizeGreaterThan);
  inner += optEl('ObjectSizeLessThan', f.sizeLessThan);
  return f.form === 'and' ? `<Filter><And>${inner}</And></Filter>` : `<Filter>${inner}</Filter>`;
}
