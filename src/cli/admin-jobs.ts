// `tessera admin info | heal | scan`: server state, and the heal and scan jobs with progress.
//
// The server runs heal and scan as jobs (object/maintenance.ts); this starts one and polls its
// status once a second until it ends. What is shown depends on where stdout goes: a terminal
// gets a progress bar redrawn in place, anything else one plain line per poll, and --json one
// JSON object per line ({"type":"progress",…} per poll, then {"type":"summary",…} with the whole
// job status). Ctrl-C (or --detach) leaves the job running; `--status` reattaches.
//
// Exit status: 0 clean; 3 when a scan (or a heal --dry-run) found damage, or a heal left objects
// it could not heal, or a disk was offline; 1 on any error (and for a job that failed or was stopped).

import type { FullServerInfo } from '../http/admin-api.js';
import type { JobKind, JobStatus } from '../object/maintenance.js';
import { ApiError, call, CliError, parseBytes, type Options } from './admin-remote.js';

export const DAMAGE_EXIT_CODE = 3;
const BAR_WIDTH = 24;

type Out = (s: string) => void;

export async function runJobCommand(o: Options, out: Out): Promise<number> {
  const [group, ...rest] = o.words;
  if (rest.length > 0) throw new CliError(`unexpected argument(s) after ${group}: ${rest.join(' ')}`);
  if (group === 'info') {
    const info = (await call(o, 'GET', 'info')) as FullServerInfo;
    out(o.json ? JSON.stringify(info) + '\n' : formatInfo(info));
    return 0;
  }
  const kind = group as JobKind;
  if (o.stop) {
    const job = (await call(o, 'DELETE', kind)) as JobStatus;
    out(o.json ? JSON.stringify(job) + '\n' : `asked ${kind} job ${job.id} to stop after the object it is on\n`);
    return 0;
  }
  let job: JobStatus;
  if (o.status) {
    job = (await call(o, 'GET', kind)) as JobStatus;
  } else {
    const body: Record<string, unknown> = {};
    if (o.bucket !== undefined) body.bucket = o.bucket;
    if (o.prefix !== undefined) body.prefix = o.prefix;
    if (o.dryRun) {
      if (kind !== 'heal') throw new CliError('--dry-run is for heal; a scan never changes anything');
      body.dryRun = true;
    }
    if (o.rate !== undefined) body.bytesPerSecond = parseBytes(o.rate, '--rate');
    try {
      job = (await call(o, 'POST', kind, JSON.stringify(body))) as JobStatus;
    } catch (e) {
      if (e instanceof ApiError && e.code === 'XTesseraJobRunning') throw new CliError(e.message.replace(/^XTesseraJobRunning: /, ''));
      throw e;
    }
    if (!o.json) process.stderr.write(`${kind} job ${job.id} started${scopeText(job)}\n`);
  }
  if (o.detach || job.state !== 'running') return finish(o, job, out);
  return follow(o, job, out);
}

async function follow(o: Options, first: JobStatus, out: Out): Promise<number> {
  const intervalMs = o.interval !== undefined ? Number(o.interval) * 1000 : 1000;
  if (!(intervalMs > 0)) throw new CliError(`--interval: expected a number of seconds, got ${o.interval}`);
  const tty = !o.json && process.stdout.isTTY === true;
  let job = first;
  let detached = false;
  let wake: (() => void) | undefined;
  const onSigint = () => {
    detached = true;
    wake?.();
  };
  process.on('SIGINT', onSigint);
  try {
    for (;;) {
      if (tty) out(`\r${progressBar(job)}\x1b[K`);
      else out(o.json ? JSON.stringify({ type: 'progress', ...withoutDamage(job) }) + '\n' : progressLine(job) + '\n');
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, intervalMs);
      });
      if (detached) break;
      const now = (await call(o, 'GET', job.kind)) as JobStatus;
      if (now.id !== job.id) throw new CliError(`${job.kind} job ${job.id} ended and ${now.id} started since; \`tessera admin ${job.kind} --status\` shows it`);
      job = now;
      if (job.state !== 'running') break;
    }
  } finally {
    process.off('SIGINT', onSigint);
    if (tty) out('\n');
  }
  if (detached) {
    process.stderr.write(`detached: ${job.kind} job ${job.id} goes on in the server; \`tessera admin ${job.kind} --status\` reattaches, \`--stop\` stops it\n`);
    if (o.json) out(JSON.stringify({ type: 'detached', ...withoutDamage(job) }) + '\n');
    return 0;
  }
  return finish(o, job, out);
}

/** Prints what a job found (or, still running, where it is) and picks the exit status. */
function finish(o: Options, job: JobStatus, out: Out): number {
  if (o.json) out(JSON.stringify({ type: job.state === 'running' ? 'progress' : 'summary', ...job }) + '\n');
  else if (job.state === 'running') out(progressLine(job) + '\n');
  else {
    for (const d of job.damage) {
      out(`DAMAGE ${d.bucket}/${d.key} version ${d.versionId}${d.part ? ` part ${d.part}` : ''}: shard ${d.shard} on disk ${d.disk} (${d.diskPath}): ${d.problem}, ${d.detail}\n`);
    }
    if (job.damageCount > job.damage.length) out(`… and ${job.damageCount - job.damage.length} more damaged shard(s)\n`);
    out(summaryLine(job) + '\n');
  }
  if (job.state === 'running') return 0;
  if (job.state === 'failed' || job.state === 'stopped') return 1;
  const damaged = job.kind === 'scan' || job.dryRun ? job.damageCount > 0 || job.errors > 0 : job.errors > 0;
  return damaged || job.offlineDisks.length > 0 ? DAMAGE_EXIT_CODE : 0;
}

function withoutDamage(job: JobStatus): Omit<JobStatus, 'damage'> {
  const { damage: _damage, ...rest } = job;
  return rest;
}

function scopeText(job: JobStatus): string {
  const parts = [job.bucket ? `bucket ${job.bucket}` : 'all buckets'];
  if (job.prefix) parts.push(`prefix ${job.prefix}`);
  if (job.dryRun) parts.push('dry run');
  parts.push(job.bytesPerSecond > 0 ? `at most ${bytes(job.bytesPerSecond)}/s` : 'unpaced');
  return ` (${parts.join(', ')})`;
}

function counts(job: JobStatus): string {
  const objects = job.total ? `${job.objectsChecked}/${job.total.objects} objects` : `${job.objectsChecked} objects`;
  const size = job.total ? `${bytes(job.bytesChecked)}/${bytes(job.total.bytes)}` : bytes(job.bytesChecked);
  const found = job.kind === 'scan' || job.dryRun
    ? `${job.objectsDamaged} damaged`
    : `${job.objectsHealed} healed (${job.shardsRebuilt} shards)`;
  return `${objects}, ${size}, ${found}, ${job.errors} errors`;
}

/** One line per poll when stdout is not a terminal. */
export function progressLine(job: JobStatus): string {
  return `${job.kind} ${job.id}: ${counts(job)}, ${bytes(job.rate)}/s, ETA ${eta(job.etaSeconds)}`;
}

function progressBar(job: JobStatus): string {
  const fraction = job.total ? (job.total.bytes > 0 ? job.bytesChecked / job.total.bytes : job.total.objects > 0 ? job.objectsChecked / job.total.objects : 1) : undefined;
  if (fraction === undefined) return `${job.kind} ${counts(job)}  ${bytes(job.rate)}/s`;
  const f = Math.min(1, Math.max(0, fraction));
  const filled = Math.round(f * BAR_WIDTH);
  return `${job.kind} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${(f * 100).toFixed(0).padStart(3)}%  ${counts(job)}  ${bytes(job.rate)}/s  ETA ${eta(job.etaSeconds)}`;
}

function summaryLine(job: JobStatus): string {
  const what = job.kind === 'scan' || job.dryRun
    ? job.damageCount > 0 ? `DAMAGE: ${job.damageCount} shard(s) in ${job.objectsDamaged} object(s)${job.dryRun ? ' would be healed' : ''}` : 'no damage found'
    : `${job.objectsHealed} object(s) healed, ${job.shardsRebuilt} shard(s) rewritten`;
  const offline = job.offlineDisks.length ? `; OFFLINE disk(s) ${job.offlineDisks.join(', ')}: their shards were not ${job.kind === 'heal' && !job.dryRun ? 'healed' : 'checked'}` : '';
  const errors = job.errors ? `; ${job.errors} object(s) could not be ${job.kind === 'heal' && !job.dryRun ? 'healed' : 'checked'}: ${job.error ?? ''}` : job.error ? `; ${job.error}` : '';
  return `${job.kind} ${job.id}${job.auto ? ' (started by the server)' : ''} ${job.state} in ${job.elapsedSeconds} s: ${job.objectsChecked} object(s), ${bytes(job.bytesChecked)} checked (${bytes(job.bytesRead)} read from disks); ${what}${offline}${errors}`;
}

function eta(seconds: number | null): string {
  if (seconds === null) return '?';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 → "1.5 KiB". */
export function bytes(n: number | null): string {
  if (n === null) return '-';
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[u]}`;
}

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return `${d ? `${d}d ` : ''}${h}h ${String(m).padStart(2, '0')}m ${String(seconds % 60).padStart(2, '0')}s`;
}

/** A column-aligned table, header first. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => '  ' + r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')).join('\n') + '\n';
}

export function formatInfo(i: FullServerInfo): string {
  const e = i.erasure;
  const lines = [
    `Tessera ${i.version}, up ${duration(i.uptime)}`,
    `memory:  rss ${bytes(i.memory.rss)}, heap ${bytes(i.memory.heapUsed)}; stripe buffers ${bytes(i.memory.budgetInUse)} in use of ${Number.isFinite(i.memory.budget) && i.memory.budget !== null ? bytes(i.memory.budget) : 'no limit'} (high water ${bytes(i.memory.budgetHighWater)})`,
    `erasure: ${e.dataShards} data + ${e.parityShards} parity shards per object, block size ${bytes(e.blockSize)}, inline up to ${bytes(e.inlineThreshold)}; reads need ${e.readQuorum} disks, writes ${e.writeQuorum}`,
  ];
  const offline = i.disks.filter((d) => d.state !== 'ok').length;
  lines.push(`disks:   ${i.disks.length} (${i.disks.length - offline} ok${i.disks.some((d) => d.state === 'offline') ? `, ${i.disks.filter((d) => d.state === 'offline').length} OFFLINE` : ''}${i.disks.some((d) => d.state === 'healing') ? `, ${i.disks.filter((d) => d.state === 'healing').length} healing` : ''})`);
  let text = lines.join('\n') + '\n';
  text += table([
    ['DISK', 'STATE', 'TOTAL', 'USED', 'FREE', 'PATH'],
    ...i.disks.map((d) => [String(d.disk), d.state === 'ok' ? 'ok' : d.state.toUpperCase(), bytes(d.totalBytes), bytes(d.usedBytes), bytes(d.freeBytes), d.path]),
  ]);
  const u = i.usage;
  text += `usage:   ${u.buckets} bucket(s), ${u.objects} object version(s), ${bytes(u.bytes)}${u.bucketsWithoutUsage ? ` (${u.bucketsWithoutUsage} bucket(s) made before usage was kept are not counted)` : ''}\n`;
  if (u.perBucket.length > 0) {
    text += table([
      ['BUCKET', 'OBJECTS', 'BYTES'],
      ...u.perBucket.map((b) => [b.bucket, b.objects === null ? '-' : String(b.objects), b.bytes === null ? 'not kept' : bytes(b.bytes)]),
    ]);
  }
  if (i.job) text += `job:     ${progressLine(i.job)}\n`;
  return text;
}
