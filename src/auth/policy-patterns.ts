// The strings of a policy that are matched against a request: actions, resources and
// condition values. They may hold wildcards ('*' any run of characters, '?' one character)
// and, in Version 2012-10-17 documents, policy variables: `${aws:username}` is replaced by
// that key's value in the request, `${key, 'default'}` falls back to a default when the key
// is absent, and `${*}`, `${?}`, `${$}` stand for the literal characters. A pattern is parsed
// once, when the policy is; only the variables are resolved per request.

import { S3Error } from '../errors.js';

/** The values of a condition key in the request (keys lower-case); undefined when absent. */
export type KeyLookup = (key: string) => readonly string[] | undefined;

/**
 * How a pattern compares: 'exact' and 'ignoreCase' treat '*' and '?' as plain characters
 * (StringEquals...), 'glob' and 'globIgnoreCase' as wildcards (resources, StringLike; actions),
 * 'arn' as wildcards that stay within one of the ARN's six colon-separated parts (ArnLike).
 */
export type Flavour = 'exact' | 'ignoreCase' | 'glob' | 'globIgnoreCase' | 'arn';

type TextPart = { kind: 'text'; text: string };
type Part =
  | TextPart
  | { kind: 'star' }
  | { kind: 'one' }
  | { kind: 'var'; key: string; fallback?: string };

type Matcher = (value: string) => boolean;

// `${key}` or `${key, 'default'}`; the key is anything without spaces, commas or quotes.
const VARIABLE = /^\s*([^\s,'}]+)\s*(?:,\s*'([^']*)'\s*)?$/;
const ESCAPES = new Set(['*', '?', '$']);

export class Pattern {
  readonly source: string;
  readonly flavour: Flavour;
  private readonly parts: Part[];
  /** Compiled once when the pattern holds no variable. */
  private readonly fixed?: Matcher;

  /**
   * @param variables whether `${...}` is a policy variable (Version 2012-10-17) or plain text.
   * @param where names the place in the policy, for the MalformedPolicy message.
   */
  constructor(source: string, flavour: Flavour, variables: boolean, where: string) {
    this.source = source;
    this.flavour = flavour;
    this.parts = parseParts(source, flavour !== 'exact' && flavour !== 'ignoreCase', variables, where);
    if (!this.parts.some((p) => p.kind === 'var')) this.fixed = compile(this.parts, flavour);
  }

  /** True when the pattern holds policy variables. */
  get hasVariables(): boolean {
    return this.fixed === undefined;
  }

  /** True when the pattern can match one value only: no wildcard, no variable. */
  get isLiteral(): boolean {
    return this.parts.every((p) => p.kind === 'text');
  }

  /** A variable whose key is absent from the request (and has no default) matches nothing. */
  matches(value: string, lookup: KeyLookup): boolean {
    if (this.fixed) return this.fixed(value);
    const resolved = resolveVariables(this.parts, lookup);
    return resolved !== undefined && compile(resolved, this.flavour)(value);
  }
}

function parseParts(source: string, wildcards: boolean, variables: boolean, where: string): Part[] {
  const parts: Part[] = [];
  const pushText = (text: string): void => {
    const last = parts[parts.length - 1];
    if (last?.kind === 'text') last.text += text;
    else parts.push({ kind: 'text', text });
  };
  let i = 0;
  while (i < source.length) {
    const ch = source[i];
    if (variables && ch === '$' && source[i + 1] === '{') {
      const end = source.indexOf('}', i + 2);
      if (end < 0) throw invalidVariable(source.slice(i), where);
      const inner = source.slice(i + 2, end);
      if (ESCAPES.has(inner)) pushText(inner);
      else parts.push(parseVariable(inner, where));
      i = end + 1;
    } else if (wildcards && ch === '*') {
      parts.push({ kind: 'star' });
      i++;
    } else if (wildcards && ch === '?') {
      parts.push({ kind: 'one' });
      i++;
    } else {
      pushText(ch);
      i++;
    }
  }
  return parts;
}

function parseVariable(inner: string, where: string): Part {
  const m = VARIABLE.exec(inner);
  if (!m) throw invalidVariable('${' + inner + '}', where);
  return m[2] === undefined
    ? { kind: 'var', key: m[1].toLowerCase() }
    : { kind: 'var', key: m[1].toLowerCase(), fallback: m[2] };
}

function invalidVariable(text: string, where: string): S3Error {
  return new S3Error('MalformedPolicy', `Policy has an invalid policy variable in ${where}: "${text}"`);
}

/** Replaces each variable by the key's value; undefined when a key is absent (no default). */
function resolveVariables(parts: readonly Part[], lookup: KeyLookup): Part[] | undefined {
  const out: Part[] = [];
  for (const p of parts) {
    if (p.kind !== 'var') {
      out.push(p);
      continue;
    }
    const values = lookup(p.key);
    // A multi-valued key has no single value to put in a string.
    const value = values?.length === 1 ? values[0] : p.fallback;
    if (value === undefined) return undefined;
    out.push({ kind: 'text', text: value });
  }
  return out;
}

function compile(parts: readonly Part[], flavour: Flavour): Matcher {
  const ignoreCase = flavour === 'ignoreCase' || flavour === 'globIgnoreCase';
  const texts = parts.filter((p): p is TextPart => p.kind === 'text');
  if (texts.length === parts.length) {
    const literal = texts.map((p) => p.text).join('');
    if (!ignoreCase) return (v) => v === literal;
    const lower = literal.toLowerCase();
    return (v) => v.toLowerCase() === lower;
  }
  const atoms = toAtoms(parts, flavour === 'arn', ignoreCase);
  return (v) => globMatch(atoms, ignoreCase ? v.toLowerCase() : v);
}

// An ARN is six parts (arn:partition:service:region:account:resource); the last may itself
// hold colons. Within ArnLike, a wildcard before the fifth colon stays within its part.
const ARN_COLONS = 5;

/** One step of a compiled pattern: a literal character, '*' or '?' (maybe not matching ':'). */
type Atom = { kind: 'char'; c: string } | { kind: 'star' | 'one'; noColon: boolean };

function toAtoms(parts: readonly Part[], arn: boolean, ignoreCase: boolean): Atom[] {
  const atoms: Atom[] = [];
  let colons = 0;
  for (const p of parts) {
    const noColon = arn && colons < ARN_COLONS;
    if (p.kind === 'star') {
      // '**' matches what '*' does: keep one, so the matcher's work stays pattern × value.
      const last = atoms[atoms.length - 1];
      if (!(last?.kind === 'star' && last.noColon === noColon)) atoms.push({ kind: 'star', noColon });
    } else if (p.kind === 'one') atoms.push({ kind: 'one', noColon });
    else if (p.kind === 'text') {
      for (const c of ignoreCase ? p.text.toLowerCase() : p.text) {
        for (let i = 0; i < c.length; i++) atoms.push({ kind: 'char', c: c[i]! });
      }
      colons += p.text.split(':').length - 1;
    }
  }
  return atoms;
}

/**
 * Whether the whole of `v` matches the atoms. A table over (atom, position) rather than a
 * backtracking regular expression: a regex of several '*' can take exponential time on a
 * value chosen to defeat it (a key of 1,000 '/' against "b/*\/*\/*\/*.jpg" took seconds and
 * blocked every request), while this takes atoms × characters steps whatever the input.
 */
function globMatch(atoms: readonly Atom[], v: string): boolean {
  const n = v.length;
  let cur = new Uint8Array(n + 1);
  let next = new Uint8Array(n + 1);
  cur[0] = 1;
  for (const a of atoms) {
    next.fill(0);
    let any = false;
    if (a.kind === 'star') {
      for (let i = 0; i <= n; i++) {
        if (cur[i] || (i > 0 && next[i - 1] && !(a.noColon && v[i - 1] === ':'))) {
          next[i] = 1;
          any = true;
        }
      }
    } else {
      for (let i = 0; i < n; i++) {
        if (!cur[i]) continue;
        const ch = v[i]!;
        const ok = a.kind === 'char' ? ch === a.c : !(a.noColon && ch === ':');
        if (ok) {
          next[i + 1] = 1;
          any = true;
        }
      }
    }
    if (!any) return false;
    [cur, next] = [next, cur];
  }
  return cur[n] === 1;
}
