// The conformance run: for each S3 client installed on this machine, do the common things
// users do (conformance/checks.ts) against one endpoint, and print a matrix of checks × clients.
//
//   node dist/conformance/run.js [--endpoint URL --access-key K --secret-key S] [--region R]
//        [--clients aws-cli,boto3,sdk-js,s3cmd,rclone] [--json out.json] [--keep]
//        [--timeout SECONDS] [--parallel N] [--quiet]
//
// Without --endpoint a Tessera server is started in this process on temporary disks and
// stopped afterwards. Exit code: 0 when nothing failed, 1 when any check failed, 2 when the
// run could not be set up (bad arguments, no client at all, the server did not start).

import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { CHECKS, makeFixtures, type CheckDef, type Fixtures } from './checks.js';
import { CLIENT_NAMES, DRIVERS } from './clients/index.js';
import { CheckError, CommandError, killRunningCommands, type Driver, type Endpoint, type Op, type Session } from './lib.js';

export type Status = 'PASS' | 'FAIL' | 'n/a' | 'SKIP';

export interface CellResult {
  status: Status;
  ms?: number;
  /** Something worth knowing even when it passed (e.g. "multipart, 3 parts"), or why n/a / SKIP. */
  note?: string;
  /** For FAIL: the command or API call that failed (absent when the outcome, not a command, was wrong). */
  command?: string;
  /** For FAIL: every command or API call the check ran, in order. */
  commands?: string[];
  /** For FAIL: what went wrong (the client's error output, or the mismatch found). */
  error?: string;
}

export interface ClientReport {
  name: string;
  available: boolean;
  version?: string;
  detail?: string;
  /** Why the client is not available. */
  reason?: string;
  bucket?: string;
  results: Record<string, CellResult>;
  /** Problems removing the bucket when the client's own delete did not. */
  cleanup?: string;
}

export interface ConformanceReport {
  endpoint: string;
  region: string;
  /** True when the run started its own Tessera server. */
  inProcessServer: boolean;
  startedAt: string;
  durationMs: number;
  checks: Array<{ id: string; title: string }>;
  clients: ClientReport[];
  counts: Record<Status, number>;
  /** True when no check failed. */
  ok: boolean;
  /** Kept local files (with keep), else undefined. */
  workDir?: string;
}

export interface ConformanceOptions {
  /** S3 endpoint URL; when absent an in-process Tessera server is started. */
  endpoint?: string;
  accessKey?: string;
  secretKey?: string;
  /** Default us-east-1. */
  region?: string;
  /** Client names (see CLIENT_NAMES); default all of them. */
  clients?: string[];
  /** Leave the buckets (and the local temp directory) in place. */
  keep?: boolean;
  /** Per-check timeout; checks that move 20 MiB get three times as long. Default 60 s. */
  timeoutMs?: number;
  /** How many clients run at the same time (each has its own bucket). Default 1. */
  parallel?: number;
  /** Write the report as JSON to this file. */
  json?: string;
  /** Progress lines (one per check); default: none. */
  log?: (line: string) => void;
}

export class UsageError extends Error {}

const DEFAULT_TIMEOUT_MS = 60_000;
const PRESENT_LINES = 8;

/** Runs the whole matrix and returns the report (it never throws for a failing check). */
export async function runConformance(o: ConformanceOptions = {}): Promise<ConformanceReport> {
  const names = o.clients ?? CLIENT_NAMES;
  const unknown = names.filter((n) => !CLIENT_NAMES.includes(n));
  if (unknown.length) throw new UsageError(`unknown client ${unknown.join(', ')}; known: ${CLIENT_NAMES.join(', ')}`);
  const drivers = DRIVERS.filter((d) => names.includes(d.name));
  const log = o.log ?? (() => undefined);
  const region = o.region ?? 'us-east-1';
  const startedAt = new Date();
  const t0 = performance.now();

  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-conformance-'));
  let server: { endpoint: Endpoint; stop(): Promise<void> } | undefined;
  try {
    let ep: Endpoint;
    if (o.endpoint) {
      if (!o.accessKey || !o.secretKey) throw new UsageError('--endpoint needs --access-key and --secret-key (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)');
      ep = { url: o.endpoint.replace(/\/+$/, ''), accessKey: o.accessKey, secretKey: o.secretKey, region };
    } else {
      server = await startInProcessServer(path.join(root, 'server'), region, o.accessKey, o.secretKey);
      ep = server.endpoint;
      log(`started an in-process Tessera server at ${ep.url}`);
    }

    const fx = await makeFixtures(path.join(root, 'fixtures'));
    const reports: ClientReport[] = new Array(drivers.length);
    let next = 0;
    const worker = async () => {
      while (next < drivers.length) {
        const i = next++;
        reports[i] = await runClient(drivers[i]!, ep, fx, root, o, log);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.parallel ?? 1, drivers.length)) }, worker));

    const counts: Record<Status, number> = { PASS: 0, FAIL: 0, 'n/a': 0, SKIP: 0 };
    for (const r of reports) for (const c of Object.values(r.results)) counts[c.status]++;
    const report: ConformanceReport = {
      endpoint: ep.url,
      region,
      inProcessServer: server !== undefined,
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - t0),
      checks: CHECKS.map((c) => ({ id: c.id, title: c.title })),
      clients: reports,
      counts,
      ok: counts.FAIL === 0,
      workDir: o.keep ? root : undefined,
    };
    if (o.json) await writeFile(o.json, JSON.stringify(report, null, 2) + '\n');
    return report;
  } finally {
    await server?.stop().catch(() => undefined);
    if (!o.keep) await rm(root, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function runClient(driver: Driver, ep: Endpoint, fx: Fixtures, root: string, o: ConformanceOptions, log: (l: string) => void): Promise<ClientReport> {
  const det = await driver.detect();
  if (!det.available) {
    log(`[${driver.name}] not installed: ${det.reason}`);
    return { name: driver.name, available: false, reason: det.reason, results: {} };
  }
  const report: ClientReport = { name: driver.name, available: true, version: det.version, detail: det.detail, results: {} };
  const dir = path.join(root, driver.name);
  const work = path.join(dir, 'work');
  await mkdir(work, { recursive: true });
  await mkdir(path.join(dir, 'config'), { recursive: true });
  const bucket = `conf-${driver.name}-${randomBytes(4).toString('hex')}`;
  report.bucket = bucket;
  log(`[${driver.name}] ${det.detail ?? det.version}; bucket ${bucket}`);

  let session: Session;
  try {
    session = await driver.open(ep, path.join(dir, 'config'));
  } catch (e) {
    const err = describeError(e);
    for (const c of CHECKS) report.results[c.id] = { status: 'FAIL', command: 'setting up the client', error: err };
    return report;
  }

  const keep = o.keep ?? false;
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  try {
    for (const check of CHECKS) {
      const r = await runOne(check, session, driver, bucket, fx, work, keep, report.results, timeoutMs);
      report.results[check.id] = r;
      const extra = r.status === 'FAIL' ? `: ${firstLine(r.error)}` : r.note ? ` (${r.note})` : '';
      log(`[${driver.name}] ${check.title}: ${r.status}${r.ms !== undefined ? ` ${(r.ms / 1000).toFixed(2)}s` : ''}${extra}`);
    }
  } finally {
    await session.close().catch(() => undefined);
  }
  if (!keep && report.results['create-bucket']?.status === 'PASS' && report.results['delete-bucket']?.status !== 'PASS') {
    report.cleanup = await removeBucket(ep, bucket);
    if (report.cleanup) log(`[${driver.name}] cleanup: ${report.cleanup}`);
  }
  return report;
}

async function runOne(
  check: CheckDef,
  s: Session,
  driver: Driver,
  bucket: string,
  fx: Fixtures,
  work: string,
  keep: boolean,
  done: Record<string, CellResult>,
  timeoutMs: number,
): Promise<CellResult> {
  const na = check.na?.({ s, driver, keep });
  if (na) return { status: 'n/a', note: na };
  const missing = check.needs.filter((n) => done[n]?.status !== 'PASS');
  if (missing.length) return { status: 'SKIP', note: `needs ${missing.join(', ')}` };

  const ms = check.slow ? timeoutMs * 3 : timeoutMs;
  const ac = new AbortController();
  const commands: string[] = [];
  const op: Op = { signal: ac.signal, note: (c) => commands.push(c) };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort();
      reject(new CheckError(`timed out after ${ms / 1000} s`));
    }, ms);
  });
  const t0 = performance.now();
  try {
    const note = await Promise.race([check.run({ s, op, driver, bucket, fx, work, keep }), timeout]);
    return { status: 'PASS', ms: Math.round(performance.now() - t0), note: note || undefined };
  } catch (e) {
    // A failed command is the culprit; for a wrong outcome, any command the check ran may be.
    const command = e instanceof CommandError ? e.command : undefined;
    return { status: 'FAIL', ms: Math.round(performance.now() - t0), command, commands: [...commands], error: describeError(e) };
  } finally {
    clearTimeout(timer);
  }
}

/** The error as text: the client's own output for a command, the S3 error for an SDK call. */
function describeError(e: unknown): string {
  if (e instanceof CommandError) return `${e.message}\n${e.output.trim()}`.trim().slice(0, 8000);
  if (e instanceof CheckError) return e.message;
  if (e instanceof Error) {
    const meta = (e as { $metadata?: { httpStatusCode?: number } }).$metadata;
    const status = meta?.httpStatusCode !== undefined ? ` (HTTP ${meta.httpStatusCode})` : '';
    return `${e.name}${status}: ${e.message}`;
  }
  return String(e);
}

function firstLine(s: string | undefined): string {
  return (s ?? '').split('\n').find((l) => l.trim() !== '')?.trim().slice(0, 160) ?? '';
}

/** Empties and removes a bucket with the AWS SDK, for buckets a client left behind. Returns a problem, or undefined. */
async function removeBucket(ep: Endpoint, bucket: string): Promise<string | undefined> {
  let s3: typeof import('@aws-sdk/client-s3');
  try {
    s3 = await import('@aws-sdk/client-s3');
  } catch {
    return `bucket ${bucket} may be left behind (no @aws-sdk/client-s3 to remove it)`;
  }
  const client = new s3.S3Client({ endpoint: ep.url, region: ep.region, forcePathStyle: true, credentials: { accessKeyId: ep.accessKey, secretAccessKey: ep.secretKey } });
  const opts = { abortSignal: AbortSignal.timeout(60_000) };
  try {
    try {
      await client.send(new s3.HeadBucketCommand({ Bucket: bucket }), opts);
    } catch (e) {
      if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
      throw e;
    }
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    do {
      const r = await client.send(new s3.ListObjectVersionsCommand({ Bucket: bucket, KeyMarker: keyMarker, VersionIdMarker: versionMarker }), opts);
      const objects = [...(r.Versions ?? []), ...(r.DeleteMarkers ?? [])].map((v) => ({ Key: v.Key!, VersionId: v.VersionId }));
      if (objects.length) await client.send(new s3.DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }), opts);
      keyMarker = r.IsTruncated ? r.NextKeyMarker : undefined;
      versionMarker = r.IsTruncated ? r.NextVersionIdMarker : undefined;
    } while (keyMarker);
    const uploads = await client.send(new s3.ListMultipartUploadsCommand({ Bucket: bucket }), opts);
    for (const u of uploads.Uploads ?? []) await client.send(new s3.AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! }), opts);
    await client.send(new s3.DeleteBucketCommand({ Bucket: bucket }), opts);
    return `the runner removed ${bucket}, which the client's own delete left behind`;
  } catch (e) {
    return `could not remove ${bucket}: ${describeError(e)}`;
  } finally {
    client.destroy();
  }
}

/** A Tessera server in this process, on four temporary disks, with a fresh root key pair. */
async function startInProcessServer(dir: string, region: string, accessKey?: string, secretKey?: string): Promise<{ endpoint: Endpoint; stop(): Promise<void> }> {
  const { loadConfig } = await import('../src/config/config.js');
  const { startServer } = await import('../src/cli/server.js');
  const disks = [1, 2, 3, 4].map((i) => path.join(dir, `disk${i}`));
  const key = accessKey ?? `CONF${randomBytes(8).toString('hex').toUpperCase()}`;
  const secret = secretKey ?? randomBytes(30).toString('base64');
  const config = await loadConfig({
    argv: [],
    cwd: dir,
    env: {
      TESSERA_ADDRESS: '127.0.0.1:0',
      TESSERA_DISKS: disks.join(','),
      TESSERA_ROOT_ACCESS_KEY: key,
      TESSERA_ROOT_SECRET_KEY: secret,
      TESSERA_REGION: region,
      TESSERA_LOG_LEVEL: 'error',
    },
  });
  const started = await startServer(config);
  return { endpoint: { url: started.http.url, accessKey: key, secretKey: secret, region }, stop: () => started.stop() };
}

// ---------------------------------------------------------------------------------------
// Output

/** The matrix (checks × clients), then notes, n/a reasons and every failure in full. */
export function formatReport(r: ConformanceReport): string {
  const out: string[] = [];
  out.push(`S3 conformance: ${r.endpoint}${r.inProcessServer ? ' (in-process Tessera)' : ''}, region ${r.region}, ${(r.durationMs / 1000).toFixed(1)} s`);
  out.push('');
  const cell = (c: ClientReport, id: string): string => (c.available ? (c.results[id]?.status ?? '') : '-');
  const header = ['check', ...r.clients.map((c) => c.name)];
  const rows: string[][] = [['client version', ...r.clients.map((c) => (c.available ? (c.version ?? '?') : 'not installed'))]];
  for (const ch of r.checks) rows.push([ch.title, ...r.clients.map((c) => cell(c, ch.id))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  out.push(line(header));
  out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) out.push(line(row));
  out.push('');
  const k = r.counts;
  const installed = r.clients.filter((c) => c.available).length;
  out.push(`${k.PASS} PASS, ${k.FAIL} FAIL, ${k['n/a']} n/a, ${k.SKIP} SKIP; ${installed} of ${r.clients.length} clients installed`);

  const title = (id: string) => r.checks.find((c) => c.id === id)?.title ?? id;
  const notes: string[] = [];
  for (const c of r.clients) {
    if (!c.available) {
      notes.push(`  ${c.name}: not installed (${c.reason})`);
      continue;
    }
    for (const [id, res] of Object.entries(c.results)) {
      if ((res.status === 'PASS' || res.status === 'n/a') && res.note) notes.push(`  ${c.name}, ${title(id)}: ${res.status === 'PASS' ? '' : `${res.status}, `}${res.note}`);
    }
    if (c.cleanup) notes.push(`  ${c.name}: ${c.cleanup}`);
  }
  if (notes.length) out.push('', 'Notes:', ...notes);

  const fails: string[] = [];
  for (const c of r.clients) {
    for (const [id, res] of Object.entries(c.results)) {
      if (res.status !== 'FAIL') continue;
      fails.push(`  [${c.name}] ${title(id)}`);
      if (res.command) fails.push(`    command: ${res.command}`);
      else if (res.commands?.length) {
        const last = res.commands.slice(-4);
        fails.push(`    ${res.commands.length > last.length ? `last ${last.length} commands` : 'commands'}: ${last[0]}`, ...last.slice(1).map((c) => `              ${c}`));
      }
      const { shown, omitted } = excerpt(res.error ?? '', PRESENT_LINES);
      for (const l of shown) fails.push(`    | ${l.length > 300 ? l.slice(0, 300) + '…' : l}`);
      if (omitted) fails.push(`    | … (${omitted} more lines in the --json report)`);
    }
  }
  if (fails.length) out.push('', 'Failures:', ...fails);
  if (r.workDir) out.push('', `Local files kept in ${r.workDir}`);
  return out.join('\n') + '\n';
}

/**
 * The first lines of an error, or, when it is long, its first line and the lines that say
 * what went wrong (a Python traceback's last line, "ERROR: …", "An error occurred (Code)").
 */
export function excerpt(text: string, max: number): { shown: string[]; omitted: number } {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
  if (lines.length <= max) return { shown: lines, omitted: 0 };
  const rest = lines.slice(1).filter((l) => !/^\s*File "/.test(l));
  const strong = rest.filter((l) => /^\s*(ERROR|FATAL|Problem|[\w.]*(Error|Exception))\b[^:]*:|An error occurred \(|HTTP \d{3}/.test(l));
  const weak = rest.filter((l) => !strong.includes(l) && /error|exception|fail|denied|invalid|refused|timed out|not found|no such|\([A-Z]\w+\)/i.test(l));
  const telling = strong.length ? strong : weak;
  const shown = telling.length ? [lines[0]!, ...telling.slice(0, max - 1)] : lines.slice(0, max);
  return { shown, omitted: lines.length - shown.length };
}

// ---------------------------------------------------------------------------------------
// Command line

const USAGE = `usage: node dist/conformance/run.js [options]

  --endpoint URL        S3 endpoint to test (default: start a Tessera server in-process)
  --access-key KEY      (default $AWS_ACCESS_KEY_ID with --endpoint; generated without)
  --secret-key SECRET   (default $AWS_SECRET_ACCESS_KEY with --endpoint; generated without)
  --region REGION       region to sign for (default us-east-1)
  --clients LIST        comma-separated, from ${CLIENT_NAMES.join(',')} (default all)
  --json FILE           also write the full report as JSON
  --keep                keep the buckets and local temp files
  --timeout SECONDS     per check (checks moving 20 MiB get 3x), default ${DEFAULT_TIMEOUT_MS / 1000}
  --parallel N          clients run at the same time, default 1
  --quiet               no progress lines on stderr
`;

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ConformanceOptions & { quiet: boolean; help: boolean } {
  const o: ConformanceOptions & { quiet: boolean; help: boolean } = { quiet: false, help: false };
  const valued = new Set(['--endpoint', '--access-key', '--secret-key', '--region', '--clients', '--json', '--timeout', '--parallel']);
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (valued.has(arg) && value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`${arg} needs a value`);
    }
    switch (arg) {
      case '--endpoint':
        if (!/^https?:\/\/[^/]+/.test(value!)) throw new UsageError(`--endpoint must be an http:// or https:// URL, got ${value}`);
        o.endpoint = value;
        break;
      case '--access-key':
        o.accessKey = value;
        break;
      case '--secret-key':
        o.secretKey = value;
        break;
      case '--region':
        o.region = value;
        break;
      case '--clients':
        o.clients = value!.split(',').map((s) => s.trim()).filter(Boolean);
        break;
      case '--json':
        o.json = value;
        break;
      case '--timeout': {
        const n = Number(value);
        if (!(n > 0)) throw new UsageError(`--timeout must be a positive number of seconds, got ${value}`);
        o.timeoutMs = n * 1000;
        break;
      }
      case '--parallel': {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1) throw new UsageError(`--parallel must be a whole number ≥ 1, got ${value}`);
        o.parallel = n;
        break;
      }
      case '--keep':
        o.keep = true;
        break;
      case '--quiet':
        o.quiet = true;
        break;
      case '--help':
      case '-h':
        o.help = true;
        break;
      default:
        throw new UsageError(`unknown argument ${argv[i]}`);
    }
  }
  if (o.endpoint) {
    o.accessKey ??= env.AWS_ACCESS_KEY_ID;
    o.secretKey ??= env.AWS_SECRET_ACCESS_KEY;
  }
  return o;
}

export async function main(argv: string[]): Promise<number> {
  let o: ReturnType<typeof parseArgs>;
  try {
    o = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`conformance: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  // The SDK's notice that future versions need Node 22 is noise in a report about the endpoint.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const onSignal = () => {
    killRunningCommands();
    process.stderr.write('conformance: interrupted\n');
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let report: ConformanceReport;
  try {
    report = await runConformance({ ...o, log: o.quiet ? undefined : (l) => process.stderr.write(l + '\n') });
  } catch (e) {
    process.stderr.write(`conformance: ${e instanceof UsageError ? e.message : ((e as Error)?.stack ?? String(e))}\n`);
    return 2;
  }
  process.stdout.write('\n' + formatReport(report));
  if (!report.clients.some((c) => c.available)) {
    process.stderr.write('conformance: none of the requested clients is installed\n');
    return 2;
  }
  return report.ok ? 0 : 1;
}

function invokedDirectly(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`conformance: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exit(2);
    },
  );
}
