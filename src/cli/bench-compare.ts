// `npm run bench:compare [-- --duration S | --quick] [--json PATH] [--only IDS] [--profile DIR] [--strict]`
//
// Runs the same S3 workloads against Tessera and against s3rver (a plain single-file-per-object
// S3 emulator, the floor any real store should clear) in one run and prints a table of both,
// with the targets Tessera is held to:
//
//   4 KiB PUT ≥ 3× s3rver   4 KiB GET ≥ 3×   LIST 1000 ≥ 15×   64 MiB GET ≥ 1.5×
//   64 MiB PUT ≥ 0.8 × min(MD5 rate of one core, raw disk write rate × k/N)
//
// The 64 MiB PUT target is absolute, not relative: a PUT must compute MD5 over every byte (one
// core, as MD5 cannot be split) and write N/k bytes per object byte to disk, so whichever of
// those is slower is what the write path can reach at best; both are measured in this run.
//
// Both servers run as child processes, so neither shares an event loop with the other or
// with the load generator (this process). Rounds are interleaved, Tessera, s3rver, Tessera,
// s3rver, half the duration each, so slow drift during the run affects both alike; each
// workload starts with an uncounted warm-up of each server (JIT, caches, connections).
// Everything lives in one temp directory that is removed at the end, on error and on Ctrl-C.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { diskRates, md5Rate, type DiskRates } from '../bench/probes.js';
import { fmt, renderTable } from '../bench/stats.js';
import { Workload, type BenchOp, type WorkloadResult } from '../bench/workload.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** The erasure layout both the target and the server use: 4 disks, 2 data + 2 parity. */
const N = 4;
const K = 2;

interface WorkloadSpec {
  id: string;
  name: string;
  op: BenchOp;
  size: number;
  concurrency: number;
  /** Minimum Tessera/s3rver ops/s ratio; absent for the absolute 64 MiB PUT target. */
  minRatio?: number;
}

const WORKLOADS: WorkloadSpec[] = [
  { id: 'put-4k', name: '4KiB PUT', op: 'put', size: 4 * KiB, concurrency: 8, minRatio: 3 },
  { id: 'put-4k-16', name: '4KiB PUT x16', op: 'put', size: 4 * KiB, concurrency: 16, minRatio: 3 },
  { id: 'get-4k', name: '4KiB GET', op: 'get', size: 4 * KiB, concurrency: 8, minRatio: 3 },
  { id: 'list-1000', name: 'LIST 1000', op: 'list', size: 1, concurrency: 8, minRatio: 15 },
  { id: 'put-64m', name: '64MiB PUT', op: 'put', size: 64 * MiB, concurrency: 2 },
  { id: 'get-64m', name: '64MiB GET', op: 'get', size: 64 * MiB, concurrency: 2, minRatio: 1.5 },
];

interface CompareArgs {
  durationSec: number;
  quick: boolean;
  json?: string;
  only?: Set<string>;
  profileDir?: string;
  strict: boolean;
}

function parseArgs(argv: string[]): CompareArgs {
  const a: CompareArgs = { durationSec: 5, quick: false, strict: false };
  let durationGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--duration': {
        const v = value();
        a.durationSec = Number(v);
        if (!(a.durationSec > 0)) throw new Error(`--duration must be a number of seconds > 0, got "${v}"`);
        durationGiven = true;
        break;
      }
      case '--quick': a.quick = true; break;
      case '--strict': a.strict = true; break;
      case '--json': a.json = path.resolve(value()); break;
      case '--profile': a.profileDir = path.resolve(value()); break;
      case '--only': {
        a.only = new Set(value().split(',').map((s) => s.trim()).filter(Boolean));
        for (const id of a.only) if (!WORKLOADS.some((w) => w.id === id)) throw new Error(`--only: unknown workload "${id}" (one of ${WORKLOADS.map((w) => w.id).join(', ')})`);
        break;
      }
      case '-h':
      case '--help':
        process.stdout.write(
          'usage: bench-compare [--duration S (default 5) | --quick (1 s)] [--json PATH] [--only ' +
            WORKLOADS.map((w) => w.id).join(',') + '] [--profile DIR (node --cpu-prof of the Tessera server)] [--strict (exit 1 on a miss)]\n',
        );
        process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default:
        throw new Error(`unknown option ${arg}`);
    }
  }
  if (a.quick && !durationGiven) a.durationSec = 1;
  return a;
}

// ---------------------------------------------------------------------------------------------
// Child processes

interface Child {
  name: string;
  proc: ChildProcess;
  endpoint: string;
  accessKey: string;
  secretKey: string;
}

const children = new Set<ChildProcess>();
/** Set on Ctrl-C: requests cut off by the clean-up then fail, which is expected, not news. */
let interrupted = false;

/** Resolves with the first regexp match in the child's stdout; rejects if it exits first. */
function waitForLine(proc: ChildProcess, name: string, re: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => done(new Error(`${name} did not start within ${timeoutMs / 1000} s\n${err}`)), timeoutMs);
    const onOut = (d: Buffer) => {
      out += d.toString('utf8');
      const m = re.exec(out);
      if (m) done(undefined, m);
    };
    const onErr = (d: Buffer) => {
      err += d.toString('utf8');
    };
    const onExit = (code: number | null, sig: string | null) => done(new Error(`${name} exited (${sig ?? code}) before it was ready\n${err}${out}`));
    const done = (e?: Error, m?: RegExpExecArray) => {
      clearTimeout(timer);
      proc.stdout!.off('data', onOut);
      proc.off('exit', onExit);
      // Keep draining both pipes so a chatty child never blocks on a full pipe.
      proc.stdout!.resume();
      if (e) reject(e);
      else resolve(m!);
    };
    proc.stdout!.on('data', onOut);
    proc.stderr!.on('data', onErr);
    proc.on('exit', onExit);
  });
}

async function startTessera(root: string, profileDir?: string): Promise<Child> {
  const disks = Array.from({ length: N }, (_, i) => path.join(root, `disk${i + 1}`));
  const accessKey = `BENCH${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretKey = randomBytes(24).toString('base64url');
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const proc = spawn(process.execPath, [...nodeArgs, main, 'server'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      // Only our settings: a TESSERA_* variable of the caller's shell must not change the setup.
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TESSERA_'))),
      TESSERA_ADDRESS: '127.0.0.1:0',
      TESSERA_DISKS: disks.join(','),
      TESSERA_PARITY: String(N - K),
      TESSERA_ROOT_ACCESS_KEY: accessKey,
      TESSERA_ROOT_SECRET_KEY: secretKey,
      TESSERA_LOG_LEVEL: 'error',
      // The background bit-rot scanner would read back what the benchmark just wrote, on the
      // same disk, at a rate unrelated to the request path being measured.
      TESSERA_SCANNER_BYTES_PER_SECOND: '0',
    },
  });
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  const m = await waitForLine(proc, 'tessera server', /endpoint:\s+(http:\/\/\S+)/);
  return { name: 'Tessera', proc, endpoint: m[1]!, accessKey, secretKey };
}

/**
 * s3rver as a child: a few lines of CommonJS run with `node -e`, which print the port the OS
 * gave it and exit when our stdin closes, so it cannot outlive this process even on a crash.
 */
async function startS3rver(dir: string): Promise<Child> {
  const s3rverPath = createRequire(import.meta.url).resolve('s3rver');
  const script = `
    const S3rver = require(process.argv[1]);
    new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: process.argv[2], resetOnClose: true, vhostBuckets: false })
      .run()
      .then((a) => process.stdout.write('S3RVER_PORT=' + a.port + '\\n'))
      .catch((e) => { console.error(e); process.exit(1); });
    process.stdin.on('end', () => process.exit(0)).on('error', () => process.exit(0)).resume();
  `;
  const proc = spawn(process.execPath, ['-e', script, s3rverPath, dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  const m = await waitForLine(proc, 's3rver', /S3RVER_PORT=(\d+)/);
  // s3rver checks SigV4 requests only for a known access key; its built-in one is S3RVER.
  return { name: 's3rver', proc, endpoint: `http://127.0.0.1:${m[1]}`, accessKey: 'S3RVER', secretKey: 'S3RVER' };
}

/** Asks a child to stop (SIGTERM lets Tessera close its store and write a CPU profile), then insists. */
async function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------
// The comparison

interface Row {
  id: string;
  workload: string;
  tessera: WorkloadResult;
  s3rver: WorkloadResult;
  /** Tessera ops/s ÷ s3rver ops/s (equal to the MB/s ratio: both move the same bytes per op). */
  ratio: number;
  target: string;
  pass: boolean;
}

interface Probes {
  md5MBps: number;
  disk: DiskRates;
  /** 0.8 × min(MD5, disk × k/N): the 64 MiB PUT target in MB/s. */
  putTargetMBps: number;
}

async function compareWorkload(spec: WorkloadSpec, servers: [Child, Child], a: CompareArgs, probes: Probes): Promise<Row> {
  const log = (msg: string) => process.stderr.write(`  ${msg}\n`);
  const prepared: Workload[] = [];
  try {
    for (const s of servers) {
      log(`${spec.name}: preparing ${s.name}`);
      prepared.push(
        await Workload.prepare({
          endpoint: s.endpoint,
          accessKey: s.accessKey,
          secretKey: s.secretKey,
          op: spec.op,
          size: spec.size,
          concurrency: spec.concurrency,
          durationSec: a.durationSec,
          bucket: 'bench',
          prefix: `${spec.id}/`,
        }),
      );
    }
    // Uncounted warm-up of each server first, then the counted rounds.
    const warm = Math.min(1, a.durationSec / 4);
    for (let i = 0; i < servers.length; i++) await prepared[i]!.warmUp(warm);
    const rounds = 2;
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < servers.length; i++) {
        const res = await prepared[i]!.run(a.durationSec / rounds);
        log(`${spec.name}: ${servers[i]!.name} round ${r + 1}: ${fmt(res.opsPerSec)} ops/s, ${fmt(res.mbPerSec)} MB/s${res.errors ? `, ${res.errors} errors` : ''}`);
      }
    }
    const [t, s] = prepared.map((w) => w.totals()) as [WorkloadResult, WorkloadResult];
    const ratio = s.opsPerSec > 0 ? t.opsPerSec / s.opsPerSec : Number.POSITIVE_INFINITY;
    let target: string;
    let pass: boolean;
    if (spec.minRatio !== undefined) {
      target = `≥ ${spec.minRatio}x`;
      pass = ratio >= spec.minRatio;
    } else {
      target = `≥ ${fmt(probes.putTargetMBps)} MB/s`;
      pass = t.mbPerSec >= probes.putTargetMBps;
    }
    // A fast run that failed requests proves nothing.
    if (t.errors > 0) pass = false;
    return { id: spec.id, workload: spec.name, tessera: t, s3rver: s, ratio, target, pass };
  } finally {
    for (const w of prepared) w.close();
  }
}

function table(rows: Row[]): string {
  return renderTable(
    ['workload', 'Tessera ops/s', 'MB/s', 'p99 ms', 'err', 's3rver ops/s', 'MB/s', 'p99 ms', 'err', 'ratio', 'target', 'result'],
    rows.map((r) => [
      r.workload,
      fmt(r.tessera.opsPerSec),
      fmt(r.tessera.mbPerSec),
      fmt(r.tessera.latencyMs.p99),
      String(r.tessera.errors),
      fmt(r.s3rver.opsPerSec),
      fmt(r.s3rver.mbPerSec),
      fmt(r.s3rver.latencyMs.p99),
      String(r.s3rver.errors),
      `${fmt(r.ratio)}x`,
      r.target,
      r.pass ? 'pass' : 'MISS',
    ]),
  );
}

async function main(argv: string[]): Promise<void> {
  const a = parseArgs(argv);
  // Shown with the results: on a shared machine, other work skews every figure.
  const loadAtStart = os.loadavg()[0]!.toFixed(1);
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-compare-'));
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await Promise.all([...children].map(stopChild));
    await rm(root, { recursive: true, force: true });
  };
  // Last resort when the process ends without reaching cleanup (an uncaught error): no
  // orphaned servers and no gigabytes left in /tmp.
  process.on('exit', () => {
    for (const c of children) c.kill('SIGKILL');
    if (!cleaned) rmSync(root, { recursive: true, force: true });
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      interrupted = true;
      process.stderr.write(`\nbench-compare: ${sig}, cleaning up\n`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  try {
    const diskBytes = a.quick ? 256 * MiB : 1024 * MiB;
    process.stderr.write(`bench-compare: measuring MD5 and raw disk write (${diskBytes / MiB} MiB + fsync) in ${root}\n`);
    const md5MBps = await md5Rate(a.quick ? 0.5 : 2);
    const disk = await diskRates(path.join(root, 'disk-probe.bin'), diskBytes);
    const putTargetMBps = 0.8 * Math.min(md5MBps, (disk.writeMBps * K) / N);
    const probes: Probes = { md5MBps, disk, putTargetMBps };

    await mkdir(path.join(root, 's3rver'));
    if (a.profileDir) await mkdir(a.profileDir, { recursive: true });
    const servers: [Child, Child] = await Promise.all([startTessera(path.join(root, 'tessera'), a.profileDir), startS3rver(path.join(root, 's3rver'))]);
    process.stderr.write(`bench-compare: Tessera at ${servers[0].endpoint}, s3rver at ${servers[1].endpoint}; ${a.durationSec} s per workload per server\n`);

    const rows: Row[] = [];
    for (const spec of WORKLOADS) {
      if (a.only && !a.only.has(spec.id)) continue;
      rows.push(await compareWorkload(spec, servers, a, probes));
    }

    const head = [
      `Tessera (4 disks, ${K}+${N - K}) vs s3rver 3.7.1 — ${a.durationSec} s per workload per server (after a warm-up; 2 interleaved rounds), ` +
        `${os.cpus().length} CPU(s), Node ${process.version}, load average at start ${loadAtStart}`,
      `MD5 (one core): ${fmt(md5MBps)} MB/s   raw disk write (${disk.bytes / MiB} MiB, 1 MiB writes + fsync): ${fmt(disk.writeMBps)} MB/s` +
        `   disk × k/N: ${fmt((disk.writeMBps * K) / N)} MB/s   64MiB PUT target 0.8 × min = ${fmt(putTargetMBps)} MB/s`,
      '',
    ];
    process.stdout.write(head.join('\n') + table(rows) + '\n');
    const misses = rows.filter((r) => !r.pass);
    process.stdout.write(misses.length ? `missed: ${misses.map((r) => r.workload).join(', ')}\n` : 'all targets met\n');
    for (const r of rows) {
      for (const [who, res] of [['Tessera', r.tessera], ['s3rver', r.s3rver]] as const) {
        for (const m of res.errorMessages) process.stdout.write(`  ${r.workload} ${who} error: ${m}\n`);
      }
    }

    if (a.json) {
      const doc = {
        date: new Date().toISOString(),
        node: process.version,
        cpus: os.cpus().length,
        loadAverageAtStart: Number(loadAtStart),
        durationSec: a.durationSec,
        layout: { disks: N, dataShards: K, parityShards: N - K },
        probes: { md5MBps, diskWriteMBps: disk.writeMBps, diskReadMBps: disk.readMBps, diskBytes: disk.bytes, putTargetMBps },
        rows,
      };
      await writeFile(a.json, JSON.stringify(doc, null, 2) + '\n');
      process.stderr.write(`bench-compare: wrote ${a.json}\n`);
    }
    if (a.strict && misses.length) process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (interrupted) return;
  process.stderr.write(`bench-compare: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
