// The Condition element of a policy statement: parsing (every value is checked when the policy
// is stored, so a bad number, date or CIDR is a MalformedPolicy then, not a silent mismatch
// later) and evaluation against the condition keys of a request.
//
// Semantics, as the IAM reference for condition operators gives them:
// - every operator of a block and every key under an operator must hold (AND); the values of
//   one key are alternatives (OR);
// - a key absent from the request makes a positive operator false and a negated one
//   (StringNotEquals, NotIpAddress, ...) true; `...IfExists` makes an absent key true;
//   `Null` tests presence itself;
// - `ForAnyValue:` holds when one request value matches, and is false for an absent key;
//   `ForAllValues:` holds when every request value matches, and is true for an absent key.
//   For a negated operator "matches" means "matches none of the condition's values".

import { S3Error } from '../errors.js';
import { cidrContains, parseCidr, parseIp } from '../util/cidr.js';
import { Pattern, type Flavour, type KeyLookup } from './policy-patterns.js';

export type ConditionFamily = 'string' | 'arn' | 'numeric' | 'date' | 'bool' | 'ip' | 'null';
export type SetQualifier = 'ForAnyValue' | 'ForAllValues';
type Compare = 'eq' | 'lt' | 'le' | 'gt' | 'ge';

interface OperatorSpec {
  family: ConditionFamily;
  negated: boolean;
  flavour?: Flavour;
  compare?: Compare;
}

const OPERATORS: Record<string, OperatorSpec> = {
  StringEquals: { family: 'string', negated: false, flavour: 'exact' },
  StringNotEquals: { family: 'string', negated: true, flavour: 'exact' },
  StringEqualsIgnoreCase: { family: 'string', negated: false, flavour: 'ignoreCase' },
  StringNotEqualsIgnoreCase: { family: 'string', negated: true, flavour: 'ignoreCase' },
  StringLike: { family: 'string', negated: false, flavour: 'glob' },
  StringNotLike: { family: 'string', negated: true, flavour: 'glob' },
  NumericEquals: { family: 'numeric', negated: false, compare: 'eq' },
  NumericNotEquals: { family: 'numeric', negated: true, compare: 'eq' },
  NumericLessThan: { family: 'numeric', negated: false, compare: 'lt' },
  NumericLessThanEquals: { family: 'numeric', negated: false, compare: 'le' },
  NumericGreaterThan: { family: 'numeric', negated: false, compare: 'gt' },
  NumericGreaterThanEquals: { family: 'numeric', negated: false, compare: 'ge' },
  DateEquals: { family: 'date', negated: false, compare: 'eq' },
  DateNotEquals: { family: 'date', negated: true, compare: 'eq' },
  DateLessThan: { family: 'date', negated: false, compare: 'lt' },
  DateLessThanEquals: { family: 'date', negated: false, compare: 'le' },
  DateGreaterThan: { family: 'date', negated: false, compare: 'gt' },
  DateGreaterThanEquals: { family: 'date', negated: false, compare: 'ge' },
  Bool: { family: 'bool', negated: false, flavour: 'ignoreCase' },
  IpAddress: { family: 'ip', negated: false },
  NotIpAddress: { family: 'ip', negated: true },
  // ArnEquals and ArnLike are the same operator: both take wildcards per ARN part.
  ArnEquals: { family: 'arn', negated: false, flavour: 'arn' },
  ArnLike: { family: 'arn', negated: false, flavour: 'arn' },
  ArnNotEquals: { family: 'arn', negated: true, flavour: 'arn' },
  ArnNotLike: { family: 'arn', negated: true, flavour: 'arn' },
  Null: { family: 'null', negated: false },
};

/** Operator names are matched case-insensitively; this maps the lower-case name to the spec. */
const BY_LOWER_NAME = new Map(Object.entries(OPERATORS).map(([name, spec]) => [name.toLowerCase(), { name, spec }]));

export const CONDITION_OPERATORS: readonly string[] = Object.keys(OPERATORS);

/** One operator applied to one key. */
export interface Condition {
  /** The operator as written, e.g. 'ForAnyValue:StringLikeIfExists'. */
  readonly operator: string;
  /** The base operator's canonical name, e.g. 'StringLike'. */
  readonly base: string;
  /** The condition key, lower-case. */
  readonly key: string;
  readonly family: ConditionFamily;
  readonly negated: boolean;
  readonly ifExists: boolean;
  readonly qualifier?: SetQualifier;
  /** The values as written (JSON numbers and booleans as their text). */
  readonly values: readonly string[];
  /** True when every value names one thing: no wildcard, no policy variable, no /0 block. */
  readonly fixedValues: boolean;
  /**
   * Whether one request value matches one of the values, in the operator's positive sense.
   * For Null, which looks at presence only, the "value" is 'true' or 'false': key present.
   */
  readonly test: (requestValue: string, lookup: KeyLookup) => boolean;
}

/** Parses a statement's Condition element; `where` names the statement for messages. */
export function parseConditions(raw: unknown, variables: boolean, where: string): Condition[] {
  if (!isObject(raw)) throw malformed(`Condition in ${where} must be a JSON object`);
  const out: Condition[] = [];
  for (const [operator, block] of Object.entries(raw)) {
    const op = parseOperator(operator, where);
    if (!isObject(block)) throw malformed(`Condition ${operator} in ${where} must be a JSON object of keys and values`);
    for (const [key, rawValues] of Object.entries(block)) {
      const at = `${operator} ${key} in ${where}`;
      if (key === '') throw malformed(`Condition ${operator} in ${where} has an empty key`);
      const values = valueList(rawValues, at);
      out.push({
        operator,
        base: op.name,
        key: key.toLowerCase(),
        family: op.spec.family,
        negated: op.spec.negated,
        ifExists: op.ifExists,
        qualifier: op.qualifier,
        values,
        ...valueTest(op.spec, values, variables, at),
      });
    }
  }
  return out;
}

/** Whether the condition holds for the request whose keys `lookup` gives. */
export function conditionHolds(c: Condition, lookup: KeyLookup): boolean {
  const requestValues = lookup(c.key) ?? [];
  const present = requestValues.length > 0;
  if (c.family === 'null') return c.test(String(present), lookup);
  if (!present) return absentKeyResult(c);
  const matches = (v: string): boolean => c.test(v, lookup) !== c.negated;
  switch (c.qualifier) {
    case 'ForAllValues':
      return requestValues.every(matches);
    case 'ForAnyValue':
      return requestValues.some(matches);
    default:
      // A negated operator is the negation of the positive one over all the key's values.
      return requestValues.some((v) => c.test(v, lookup)) !== c.negated;
  }
}

function absentKeyResult(c: Condition): boolean {
  if (c.ifExists) return true;
  if (c.qualifier === 'ForAllValues') return true;
  if (c.qualifier === 'ForAnyValue') return false;
  return c.negated;
}

interface ParsedOperator {
  name: string;
  spec: OperatorSpec;
  ifExists: boolean;
  qualifier?: SetQualifier;
}

function parseOperator(operator: string, where: string): ParsedOperator {
  const invalid = (): S3Error => malformed(`Policy has an invalid condition operator in ${where}: "${operator}"`);
  let rest = operator;
  let qualifier: SetQualifier | undefined;
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    const prefix = rest.slice(0, colon).toLowerCase();
    if (prefix === 'foranyvalue') qualifier = 'ForAnyValue';
    else if (prefix === 'forallvalues') qualifier = 'ForAllValues';
    else throw invalid();
    rest = rest.slice(colon + 1);
  }
  const ifExists = /ifexists$/i.test(rest);
  if (ifExists) rest = rest.slice(0, -'IfExists'.length);
  const found = BY_LOWER_NAME.get(rest.toLowerCase());
  if (!found) throw invalid();
  // Null tests presence itself: neither IfExists nor a set qualifier means anything on it.
  if (found.spec.family === 'null' && (ifExists || qualifier)) throw invalid();
  return { name: found.name, spec: found.spec, ifExists, qualifier };
}

function valueList(raw: unknown, at: string): string[] {
  const items = Array.isArray(raw) ? raw : [raw];
  if (items.length === 0) throw malformed(`Condition ${at} has no values`);
  return items.map((item) => {
    if (typeof item === 'string') return item;
    if (typeof item === 'number' || typeof item === 'boolean') return String(item);
    throw malformed(`Condition ${at} has a value that is not a string, number or boolean`);
  });
}

type ValueTest = Pick<Condition, 'test' | 'fixedValues'>;

function valueTest(spec: OperatorSpec, values: string[], variables: boolean, at: string): ValueTest {
  switch (spec.family) {
    case 'string':
    case 'arn':
      return patternTest(values.map((v) => new Pattern(v, spec.flavour!, variables, at)));
    case 'bool':
      return boolTest(values, variables, at);
    case 'numeric':
      return orderedTest(values.map((v) => parsed(parseNumber(v), v, at)), spec.compare!, parseNumber);
    case 'date':
      return orderedTest(values.map((v) => parsed(parseDate(v), v, at)), spec.compare!, parseDate);
    case 'ip':
      return ipTest(values, at);
    case 'null':
      return nullTest(values, at);
  }
}

function patternTest(patterns: Pattern[]): ValueTest {
  return {
    fixedValues: patterns.every((p) => p.isLiteral),
    test: (v, lookup) => patterns.some((p) => p.matches(v, lookup)),
  };
}

function boolTest(values: string[], variables: boolean, at: string): ValueTest {
  const patterns = values.map((v) => new Pattern(v, 'ignoreCase', variables, at));
  // A value with a variable is known only per request; any other must be a boolean now.
  for (const p of patterns) if (!p.hasVariables) parsed(parseBool(p.source), p.source, at);
  return patternTest(patterns);
}

function orderedTest(limits: number[], compare: Compare, parse: (text: string) => number | undefined): ValueTest {
  return {
    fixedValues: true,
    test: (v) => {
      const n = parse(v);
      return n !== undefined && limits.some((limit) => compareNumbers(n, compare, limit));
    },
  };
}

function ipTest(values: string[], at: string): ValueTest {
  const blocks = values.map((v) => parsed(parseCidr(v), v, at));
  return {
    // 0.0.0.0/0 or ::/0 let every address in: such a condition restricts nothing.
    fixedValues: blocks.every((b) => b.prefix > 0),
    test: (v) => {
      const address = parseIp(v);
      return address !== undefined && blocks.some((b) => cidrContains(b, address));
    },
  };
}

function nullTest(values: string[], at: string): ValueTest {
  // {"Null": {"key": "true"}} holds when the key is absent; "false" when it is present.
  const wantAbsent = values.map((v) => parsed(parseBool(v), v, at));
  return { fixedValues: true, test: (presentText) => wantAbsent.some((absent) => absent !== (presentText === 'true')) };
}

/** The request's value compared with the policy's: request <op> policy. */
function compareNumbers(request: number, compare: Compare, limit: number): boolean {
  switch (compare) {
    case 'eq': return request === limit;
    case 'lt': return request < limit;
    case 'le': return request <= limit;
    case 'gt': return request > limit;
    case 'ge': return request >= limit;
  }
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function parseNumber(text: string): number | undefined {
  return NUMBER.test(text.trim()) ? Number(text) : undefined;
}

const EPOCH_SECONDS = /^-?\d+$/;
// ISO 8601 as AWS writes it: a date, optionally a time, optionally a zone (UTC when absent).
const ISO_8601 = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** Milliseconds since the epoch, from ISO 8601 or epoch seconds; undefined when neither. */
function parseDate(text: string): number | undefined {
  const t = text.trim();
  if (EPOCH_SECONDS.test(t)) return Number(t) * 1000;
  const m = ISO_8601.exec(t);
  if (!m) return undefined;
  const [, day, time, zone] = m;
  if (time === undefined) return checkedTime(Date.parse(`${day}T00:00:00Z`));
  const offset = zone === undefined ? 'Z' : zone.toUpperCase().replace(/^([+-]\d{2})(\d{2})$/, '$1:$2');
  return checkedTime(Date.parse(`${day}T${time}${offset}`));
}

function checkedTime(ms: number): number | undefined {
  return Number.isNaN(ms) ? undefined : ms;
}

function parseBool(text: string): boolean | undefined {
  const t = text.toLowerCase();
  return t === 'true' ? true : t === 'false' ? false : undefined;
}

function parsed<T>(value: T | undefined, text: string, at: string): T {
  if (value === undefined) throw malformed(`Policy has an invalid condition value for ${at}: "${text}"`);
  return value;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function malformed(message: string): S3Error {
  return new S3Error('MalformedPolicy', message);
}
