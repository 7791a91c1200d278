// `tessera bench embed [--rounds N] [--reset-rounds N] [--json]`: embedded mode's cold start to
// the first acknowledged PUT and reset() time, beside s3rver's (src/bench/embed-bench.ts).
// Exit status 1 when a goal is missed: cold start under 1 s, reset() under 50 ms (medians).

import { parseFlags, UsageError } from './bench.js';
import { EMBED_BENCH_DEFAULTS, median, runEmbedBench, type ColdStart, type EmbedBenchResult, type ServerFigures } from '../bench/embed-bench.js';
import { fmt, renderTable } from '../bench/stats.js';

const USAGE = `usage: tessera bench embed [--rounds N] [--reset-rounds N] [--json]

Measures embedded mode (import { startTessera } from 'tessera') beside s3rver, in one run:
  cold start   a fresh Node process per round: import the server, start it on a fresh
               temporary directory, create a bucket, PUT 1 KiB; ms until the PUT is acknowledged
  reset()      three buckets with small, erasure-coded and versioned objects, emptied again
  --rounds N        cold starts per server (default ${EMBED_BENCH_DEFAULTS.rounds})
  --reset-rounds N  reset() calls per server (default ${EMBED_BENCH_DEFAULTS.resetRounds})
  --json            one JSON object instead of tables
Goals (medians): cold start < 1000 ms, reset() < 50 ms; exit status 1 when one is missed.
`;

export const COLD_START_GOAL_MS = 1000;
export const RESET_GOAL_MS = 50;

export function missedEmbedGoals(r: EmbedBenchResult): string[] {
  const missed: string[] = [];
  const cold = median(r.tessera.cold.map((c) => c.coldMs));
  const reset = median(r.tessera.resets);
  if (!(cold < COLD_START_GOAL_MS)) missed.push(`cold start to first PUT: median ${fmt(cold)} ms, goal < ${COLD_START_GOAL_MS} ms`);
  if (!(reset < RESET_GOAL_MS)) missed.push(`reset(): median ${fmt(reset)} ms, goal < ${RESET_GOAL_MS} ms`);
  return missed;
}

function coldRow(name: string, f: ServerFigures): string[] {
  if (!f.available) return [name, f.note ?? 'not available', '', '', '', '', '', ''];
  const m = (k: keyof ColdStart) => fmt(median(f.cold.map((c) => c[k])));
  const all = f.cold.map((c) => c.coldMs);
  return [name, m('coldMs'), fmt(Math.min(...all)), fmt(Math.max(...all)), m('importMs'), m('startMs'), m('firstPutMs'), m('wallMs')];
}

function resetRow(name: string, f: ServerFigures, what: string): string[] {
  if (!f.available) return [name, f.note ?? 'not available', '', '', ''];
  const s = [...f.resets].sort((a, b) => a - b);
  return [name, fmt(median(s)), fmt(s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]!), fmt(s[s.length - 1]!), what];
}

export function formatEmbedResult(r: EmbedBenchResult): string {
  const lines = [
    `tessera bench embed (node ${r.node}); medians of ${r.rounds} cold starts, ms`,
    renderTable(
      ['server', 'import+start+bucket+PUT', 'min', 'max', 'import', 'start', 'bucket+PUT', 'spawn to PUT (with node boot)'],
      [coldRow('Tessera', r.tessera), coldRow('s3rver', r.s3rver)],
    ),
    '',
    `reset() × ${r.resetRounds}, ms (3 buckets, 18 objects, one erasure-coded per bucket, versions and a delete marker)`,
    renderTable(
      ['server', 'median', 'p95', 'max', 'what it does'],
      [
        resetRow('Tessera', r.tessera, 'deletes every bucket and all in it (durably), creates the configured buckets again'),
        resetRow('s3rver', r.s3rver, 'deletes its whole directory (buckets are gone afterwards; no fsync)'),
      ],
    ),
  ];
  const missed = missedEmbedGoals(r);
  lines.push('', missed.length === 0 ? `goals: all met (cold start < ${COLD_START_GOAL_MS} ms, reset() < ${RESET_GOAL_MS} ms)` : `goals missed:\n${missed.map((m) => `  - ${m}`).join('\n')}`);
  return lines.join('\n');
}

export async function runBenchEmbed(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  const opts = { ...EMBED_BENCH_DEFAULTS };
  let json = false;
  try {
    const parsed = parseFlags(argv, new Set(['rounds', 'reset-rounds']));
    json = parsed.json;
    for (const [name, value] of parsed.flags) {
      if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`--${name} must be a whole number ≥ 1, got "${value}"`);
      if (name === 'rounds') opts.rounds = Number(value);
      else opts.resetRounds = Number(value);
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`tessera bench embed: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
  const result = await runEmbedBench({ ...opts, log: json ? undefined : (msg) => process.stderr.write(`tessera bench embed: ${msg}\n`) });
  process.stdout.write((json ? JSON.stringify({ ...result, missedGoals: missedEmbedGoals(result) }) : formatEmbedResult(result)) + '\n');
  if (missedEmbedGoals(result).length > 0) process.exitCode = 1;
}
