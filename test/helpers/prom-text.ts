// A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: every
// line must be a well-formed HELP, TYPE or sample line; every sample must belong to a family
// declared by TYPE before it (histograms as _bucket/_sum/_count); no series may repeat; the
// text ends with a newline. It throws on the first violation, naming the line.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** Family name → type (counter, gauge, histogram, summary, untyped). */
  types: Map<string, string>;
  help: Map<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parseExposition(text: string): Exposition {
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) {
        if (/^# (HELP|TYPE)\b/.test(line)) throw new Error(`malformed ${where}`);
        return; // a plain comment
      }
      const [, kind, name, rest] = m;
      if (!NAME.test(name!)) throw new Error(`bad metric name in ${where}`);
      if (kind === 'TYPE') {
        if (!TYPES.has(rest!)) throw new Error(`unknown type in ${where}`);
        if (types.has(name!)) throw new Error(`second TYPE for ${name} at ${where}`);
        if (samples.some((s) => familyOf(s.name, types) === name)) throw new Error(`TYPE after samples of ${name} at ${where}`);
        types.set(name!, rest!);
      } else {
        if (help.has(name!)) throw new Error(`second HELP for ${name} at ${where}`);
        help.set(name!, rest!);
      }
      return;
    }
    const s = parseSample(line, where);
    const family = familyOf(s.name, types);
    if (family === undefined) throw new Error(`sample without a TYPE before it at ${where}`);
    const type = types.get(family)!;
    if (type === 'histogram') {
      if (s.name === `${family}_bucket` && s.labels.le === undefined) throw new Error(`histogram bucket without le at ${where}`);
    } else if (s.name !== family && !(type === 'summary' && (s.name === `${family}_sum` || s.name === `${family}_count`))) {
      throw new Error(`sample name does not match its family ${family} at ${where}`);
    }
    if (type === 'counter' && !(s.value >= 0)) throw new Error(`negative or NaN counter at ${where}`);
    const key = seriesKey(s.name, s.labels);
    if (seen.has(key)) throw new Error(`duplicate series at ${where}`);
    seen.add(key);
    samples.push(s);
  });
  return { samples, types, help };
}

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      const t = types.get(base);
      if (t === 'histogram' || (t === 'summary' && suffix !== '_bucket')) return base;
    }
  }
  return undefined;
}

function parseSample(line: string, where: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( -?\d+)?$/.exec(line);
  if (!m) throw new Error(`malformed sample ${where}`);
  const labels: Record<string, string> = {};
  if (m[2]) {
    let rest = m[2].slice(1, -1);
    while (rest.length > 0) {
      const lm = /^([^=]+)="((?:[^"\\\n]|\\[\\"n])*)"(,?)/.exec(rest);
      if (!lm || !LABEL_NAME.test(lm[1]!)) throw new Error(`malformed labels in ${where}`);
      if (labels[lm[1]!] !== undefined) throw new Error(`repeated label ${lm[1]} in ${where}`);
      labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(lm[0].length);
      if (lm[3] === '' && rest.length > 0) throw new Error(`malformed labels in ${where}`);
    }
  }
  const raw = m[3]!;
  // Prometheus reads values with Go's ParseFloat, which takes NaN and Inf in any letter case
  // (prom-client writes "Nan" for an event-loop lag not yet measured).
  if (!/^([-+]?inf|nan|[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)$/i.test(raw)) throw new Error(`bad value in ${where}`);
  const value = /^nan$/i.test(raw) ? NaN : /^[-+]?inf$/i.test(raw) ? (raw.startsWith('-') ? -Infinity : Infinity) : Number(raw);
  return { name: m[1]!, labels, value };
}

function seriesKey(name: string, labels: Record<string, string>): string {
  return name + JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Sum of the samples named `name` whose labels include `match`. */
export function total(e: Exposition, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of e.samples) {
    if (s.name !== name) continue;
    if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** The one sample named `name` with exactly these labels, or undefined. */
export function sample(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = seriesKey(name, labels);
  return e.samples.find((s) => seriesKey(s.name, s.labels) === want)?.value;
}
