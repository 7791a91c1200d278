// `tessera bench`: a load generator for any S3 endpoint (Tessera or another), e.g.
//   tessera bench --endpoint http://127.0.0.1:9000 --access-key K --secret-key S \
//     --op put --size 64MiB --concurrency 2 --duration 10 [--json]
// It writes objects under a fresh "bench-…/" prefix in the bucket (created when missing) and
// leaves them there, so what it claims to have written can be checked afterwards.

import { parseSize } from '../config/values.js';
import { BENCH_OPS, runWorkload, type BenchOp, type WorkloadResult } from '../bench/workload.js';
import { fmt, formatBytes } from '../bench/stats.js';

const USAGE = `usage: tessera bench --endpoint URL --access-key K --secret-key S [options]
       tessera bench memory [options]   (server RSS under listings and uploads; --help for options)
       tessera bench embed [options]    (embedded mode: cold start to first PUT, reset(); beside s3rver)

  --op put|get|list|mixed   workload (default put); mixed = 60% GET, 30% PUT, 10% LIST
  --size BYTES              object size for put/get, e.g. 4096, 4KiB, 64MiB (default 4KiB)
  --concurrency N           requests in flight (default 8)
  --duration SECONDS        length of the timed loop (default 10)
  --region R                region to sign for (default us-east-1)
  --bucket NAME             bucket to use, created when missing (default tessera-bench)
  --keys N                  objects GET cycles over (default: 256 MiB worth, 8..64)
  --json                    print one JSON object instead of text
`;

export interface BenchArgs {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
  op: BenchOp;
  size: number;
  concurrency: number;
  durationSec: number;
  bucket?: string;
  keys?: number;
  json: boolean;
}

export class UsageError extends Error {}

/**
 * Parses `--name value` and `--name=value` flags (names in `takesValue`) and a bare `--json`;
 * unknown flags are an error, not ignored. Shared by the bench commands.
 */
export function parseFlags(argv: string[], takesValue: ReadonlySet<string>): { flags: Map<string, string>; json: boolean } {
  const flags = new Map<string, string>();
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (name === 'json' && eq < 0) {
      json = true;
      continue;
    }
    if (!takesValue.has(name)) throw new UsageError(`unknown option --${name}`);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    flags.set(name, value);
  }
  return { flags, json };
}

export function parseBenchArgs(argv: string[]): BenchArgs {
  const { flags, json } = parseFlags(argv, new Set(['endpoint', 'access-key', 'secret-key', 'region', 'op', 'size', 'concurrency', 'duration', 'bucket', 'keys']));
  const need = (name: string) => {
    const v = flags.get(name);
    if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
    return v;
  };
  const whole = (name: string, dflt: number, min: number) => {
    const v = flags.get(name);
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`--${name} must be a whole number ≥ ${min}, got "${v}"`);
    return Number(v);
  };
  const op = (flags.get('op') ?? 'put') as BenchOp;
  if (!BENCH_OPS.includes(op)) throw new UsageError(`--op must be one of ${BENCH_OPS.join(', ')}, got "${op}"`);
  let size = 4096;
  if (flags.has('size')) {
    try {
      size = parseSize(flags.get('size'));
    } catch (e) {
      throw new UsageError(`--size: ${(e as Error).message}`);
    }
  }
  const duration = Number(flags.get('duration') ?? '10');
  if (!Number.isFinite(duration) || duration <= 0) throw new UsageError(`--duration must be a number of seconds > 0, got "${flags.get('duration')}"`);
  const endpoint = need('endpoint');
  try {
    new URL(endpoint);
  } catch {
    throw new UsageError(`--endpoint must be a URL such as http://127.0.0.1:9000, got "${endpoint}"`);
  }
  return {
    endpoint,
    accessKey: need('access-key'),
    secretKey: need('secret-key'),
    region: flags.get('region') ?? 'us-east-1',
    op,
    size,
    concurrency: whole('concurrency', 8, 1),
    durationSec: duration,
    bucket: flags.get('bucket'),
    keys: flags.has('keys') ? whole('keys', 1, 1) : undefined,
    json,
  };
}

export function formatResult(r: WorkloadResult): string {
  const l = r.latencyMs;
  const lines = [
    `${r.op} ${r.op === 'list' ? '1000 keys' : formatBytes(r.size)} × ${r.concurrency} against ${r.endpoint} (bucket ${r.bucket}, prefix ${r.prefix})`,
    `  ops:        ${r.ops} in ${r.elapsedSec.toFixed(2)} s`,
    `  ops/s:      ${fmt(r.opsPerSec)}`,
    `  MB/s:       ${fmt(r.mbPerSec)}  (10^6 bytes of object data${r.op === 'list' ? ', here: listing XML' : ''})`,
    `  latency ms: p50 ${fmt(l.p50)}  p90 ${fmt(l.p90)}  p99 ${fmt(l.p99)}  max ${fmt(l.max)}`,
    `  errors:     ${r.errors}`,
  ];
  if (r.op === 'mixed') lines.push(`  by op:      get ${r.byOp.get}, put ${r.byOp.put}, list ${r.byOp.list}`);
  for (const m of r.errorMessages) lines.push(`    ${m}`);
  return lines.join('\n');
}

export async function runBench(argv: string[]): Promise<void> {
  if (argv[0] === 'memory') {
    const { runBenchMemory } = await import('./bench-memory.js');
    return runBenchMemory(argv.slice(1));
  }
  if (argv[0] === 'embed') {
    const { runBenchEmbed } = await import('./bench-embed.js');
    return runBenchEmbed(argv.slice(1));
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  let args: BenchArgs;
  try {
    args = parseBenchArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`tessera bench: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
  const result = await runWorkload({
    ...args,
    log: args.json ? undefined : (msg) => process.stderr.write(`tessera bench: ${msg}\n`),
  });
  process.stdout.write((args.json ? JSON.stringify(result) : formatResult(result)) + '\n');
  // Errors are a result worth reporting, and a reason for a non-zero status in scripts.
  if (result.errors > 0) process.exitCode = 1;
}
