// `tessera bench memory [options]`: starts its own server process (temp directories, loopback)
// and reports its RSS through a listing burst, concurrent large uploads and many concurrent
// uploads; see src/bench/memory-bench.ts. Exit status 1 when a goal is missed or a request
// failed, so a script can run it as a check.

import { parseSize } from '../config/values.js';
import { parseFlags, UsageError } from './bench.js';
import { MEMORY_BENCH_DEFAULTS, runMemoryBench, type MemoryBenchOptions, type MemoryBenchResult } from '../bench/memory-bench.js';
import { fmt, formatBytes, renderTable } from '../bench/stats.js';

const USAGE = `usage: tessera bench memory [options]

Starts a Tessera server process on 127.0.0.1 (temporary disks, removed afterwards) and measures
its RSS, phase after phase on the same process:
  (a) listing burst: C clients ListObjectsV2 a bucket of 1,000 keys; peak, and RSS after idle
  (b) concurrent large uploads (streamed, generated): peak RSS
  (c) many concurrent uploads: peak RSS and the memory budget's high-water mark

  --list-seconds N      length of the listing burst (default 15)
  --idle-seconds N      idle time before the RSS after the burst is read (default 10)
  --list-clients N      concurrent listing clients (default 4)
  --large-uploads N     concurrent large uploads (default 4)
  --large-size BYTES    size of each (default 1GiB)
  --small-uploads N     concurrent uploads in phase (c) (default 64)
  --small-size BYTES    size of each (default 16MiB)
  --memory-budget BYTES the server's limits.memory_budget (default: its own default, 256MiB)
  --json                print one JSON object instead of a table
`;

/** The goals of issue 12: peak RSS with the large uploads, budget never exceeded, memory returned. */
export const PEAK_RSS_GOAL = 300 * 1024 * 1024;

export function parseMemoryBenchArgs(argv: string[]): { opts: Partial<MemoryBenchOptions>; json: boolean } {
  const opts: Partial<MemoryBenchOptions> = {};
  const whole: Record<string, keyof MemoryBenchOptions> = {
    'list-seconds': 'listSeconds', 'idle-seconds': 'idleSeconds', 'list-clients': 'listClients',
    'large-uploads': 'largeUploads', 'small-uploads': 'smallUploads',
  };
  const sizes: Record<string, keyof MemoryBenchOptions> = { 'large-size': 'largeSize', 'small-size': 'smallSize', 'memory-budget': 'memoryBudget' };
  const parsed = parseFlags(argv, new Set([...Object.keys(whole), ...Object.keys(sizes)]));
  for (const [name, value] of parsed.flags) {
    if (name in whole) {
      if (!/^\d+$/.test(value) || Number(value) < (name === 'idle-seconds' ? 0 : 1)) throw new UsageError(`--${name} must be a whole number, got "${value}"`);
      (opts as Record<string, number>)[whole[name]!] = Number(value);
    } else {
      try {
        (opts as Record<string, number>)[sizes[name]!] = parseSize(value);
      } catch (e) {
        throw new UsageError(`--${name}: ${(e as Error).message}`);
      }
    }
  }
  return { opts, json: parsed.json };
}

const mib = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '-' : fmt(n / (1024 * 1024)));

/** Which goals a result misses (empty when all are met). */
export function missedGoals(r: MemoryBenchResult): string[] {
  const missed: string[] = [];
  if (r.large.peakRss > PEAK_RSS_GOAL) missed.push(`peak RSS with ${r.large.uploads} concurrent ${formatBytes(r.large.size)} uploads is ${mib(r.large.peakRss)} MiB, above ${mib(PEAK_RSS_GOAL)} MiB`);
  if (r.budget === undefined) missed.push('the server does not report its memory budget (GET /tessera/admin/v1/info)');
  else if ((r.small.budgetHighWater ?? Infinity) > r.budget) missed.push(`memory budget high-water ${mib(r.small.budgetHighWater)} MiB is above the budget ${mib(r.budget)} MiB`);
  // "Near idle": within 64 MiB or 50 % of what the server held before the burst.
  const allowed = Math.max(r.listing.rssBefore * 1.5, r.listing.rssBefore + 64 * 1024 * 1024);
  if (r.listing.rssAfterIdle > allowed) missed.push(`RSS ${r.listing.idleSeconds} s after the listing burst is ${mib(r.listing.rssAfterIdle)} MiB, was ${mib(r.listing.rssBefore)} MiB before it`);
  return missed;
}

export function formatMemoryResult(r: MemoryBenchResult): string {
  const rows = [
    ['server started', '-', '-', mib(r.startRss), '-', '-', '-'],
    [`(a) list ${r.listing.keys} keys × ${r.listing.clients}`, fmt(r.listing.seconds), `${r.listing.requests}/${r.listing.errors}`, mib(r.listing.rssBefore), mib(r.listing.peakRss), `${mib(r.listing.rssAfterIdle)} (${r.listing.idleSeconds} s idle)`, '-'],
    [`(b) ${r.large.uploads} × ${formatBytes(r.large.size)} PUT`, fmt(r.large.seconds), `${r.large.requests}/${r.large.errors}`, mib(r.large.rssBefore), mib(r.large.peakRss), '-', mib(r.large.budgetHighWater)],
    [`(c) ${r.small.uploads} × ${formatBytes(r.small.size)} PUT`, fmt(r.small.seconds), `${r.small.requests}/${r.small.errors}`, mib(r.small.rssBefore), mib(r.small.peakRss), '-', mib(r.small.budgetHighWater)],
  ];
  const lines = [
    `tessera bench memory (node ${r.node}, memory budget ${r.budget === undefined ? 'not reported' : `${mib(r.budget)} MiB`}); RSS in MiB`,
    renderTable(['phase', 'seconds', 'ok/errors', 'RSS before', 'peak RSS', 'RSS after', 'budget high-water'], rows),
  ];
  for (const p of [r.listing, r.large, r.small]) for (const m of p.errorMessages) lines.push(`  error: ${m}`);
  const missed = missedGoals(r);
  lines.push(missed.length === 0 ? 'goals: all met' : `goals missed:\n${missed.map((m) => `  - ${m}`).join('\n')}`);
  return lines.join('\n');
}

export async function runBenchMemory(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  let parsed: ReturnType<typeof parseMemoryBenchArgs>;
  try {
    parsed = parseMemoryBenchArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`tessera bench memory: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
  const result = await runMemoryBench({
    ...MEMORY_BENCH_DEFAULTS,
    ...parsed.opts,
    log: parsed.json ? undefined : (msg) => process.stderr.write(`tessera bench memory: ${msg}\n`),
  });
  process.stdout.write((parsed.json ? JSON.stringify({ ...result, missedGoals: missedGoals(result) }) : formatMemoryResult(result)) + '\n');
  const failed = result.listing.errors + result.large.errors + result.small.errors;
  if (failed > 0 || missedGoals(result).length > 0) process.exitCode = 1;
}
