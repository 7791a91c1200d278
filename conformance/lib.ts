// Shared pieces of the conformance run: the driver interface every client implements, a
// subprocess runner that can always be killed, errors that carry the command that failed, and
// small filesystem helpers. Nothing here knows about Tessera: the run works against any S3
// endpoint.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where and as whom the clients connect. */
export interface Endpoint {
  /** e.g. http://127.0.0.1:9000 (no trailing slash) */
  url: string;
  accessKey: string;
  secretKey: string;
  region: string;
}

/** What one check hands to the client operations it calls. */
export interface Op {
  /** Aborted when the check times out; every subprocess and request must stop then. */
  signal: AbortSignal;
  /** Records the command or API call being run, so a failure can show it. */
  note(command: string): void;
}

export interface HeadResult {
  size?: number;
  contentType?: string;
  /** User metadata, keys lower-case, without the x-amz-meta- prefix. */
  metadata: Record<string, string>;
  /** As the server sent it, quotes removed. Undefined when the client does not show it. */
  etag?: string;
}

export interface ListResult {
  /** Full object keys. */
  keys: string[];
  /** Full common prefixes, e.g. "list/b/" (only with a delimiter). */
  prefixes: string[];
}

/**
 * One client's way of doing the common things. Every method does what a user of that client
 * would type or write; the checks (conformance/checks.ts) decide whether the outcome is right.
 * Optional methods are missing when the client cannot do that at all; `na` says why.
 */
export interface Session {
  createBucket(op: Op, bucket: string): Promise<void>;
  listBuckets(op: Op): Promise<string[]>;
  /** Upload a small file with a content type and user metadata (keys lower-case). */
  putObject(op: Op, bucket: string, key: string, file: string, opts: { contentType: string; metadata: Record<string, string> }): Promise<void>;
  headObject(op: Op, bucket: string, key: string): Promise<HeadResult>;
  /** Download an object to a local file (the API-level GET where the client has one). */
  getObject(op: Op, bucket: string, key: string, dest: string): Promise<void>;
  /** Upload a big local file the way the client normally does (multipart where it switches). */
  uploadFile(op: Op, bucket: string, key: string, file: string): Promise<void>;
  /** Download a big object the way the client normally does (parallel ranged GETs for some). */
  downloadFile(op: Op, bucket: string, key: string, dest: string): Promise<void>;
  /** Bytes start..end inclusive of an object into a local file. */
  getRange?(op: Op, bucket: string, key: string, start: number, end: number, dest: string): Promise<void>;
  /** Without a delimiter: every key under the prefix. With one: keys and common prefixes. */
  list(op: Op, bucket: string, prefix: string, delimiter?: string): Promise<ListResult>;
  /** Server-side copy. */
  copy(op: Op, bucket: string, srcKey: string, dstKey: string): Promise<void>;
  /** Upload every file under `dir` as prefix + relative path ("/" separated). */
  uploadDir(op: Op, bucket: string, prefix: string, dir: string): Promise<void>;
  /** Download every object under prefix into `dir` (relative path = key without the prefix). */
  downloadDir(op: Op, bucket: string, prefix: string, dir: string): Promise<void>;
  /** A presigned GET URL valid for `seconds`. */
  presign?(op: Op, bucket: string, key: string, seconds: number): Promise<string>;
  deleteObject(op: Op, bucket: string, key: string): Promise<void>;
  /** Remove the bucket, and whatever objects are still in it, the way the client does that. */
  deleteBucket(op: Op, bucket: string): Promise<void>;
  /** Why an optional method is missing (shown for n/a). */
  na?: { getRange?: string; presign?: string };
  close(): Promise<void>;
}

export type Detection = { available: true; version: string; detail?: string } | { available: false; reason: string };

export interface Driver {
  /** Column name, also used in bucket names: lower-case letters, digits, '-'. */
  name: string;
  detect(): Promise<Detection>;
  /** Prepares a session (temp config files live in `dir`, which the runner removes). */
  open(endpoint: Endpoint, dir: string): Promise<Session>;
  /** True when the client's normal upload of a 20 MiB file is multipart (its threshold is lower). */
  multipartAt20MiB: boolean;
  /** Shown with the 20 MiB upload's result, e.g. why it is a single PUT, or why the part count is unknown. */
  uploadNote?: string;
}

/** A client command that failed: what was run, and what it said. */
export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly output: string,
    summary: string,
  ) {
    super(summary);
    this.name = 'CommandError';
  }
}

/** A check whose commands worked but whose outcome is wrong. */
export class CheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckError';
  }
}

export function fail(message: string): never {
  throw new CheckError(message);
}

/** Quotes one argument for display the way a POSIX shell would need it. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function showCommand(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map(shellQuote).join(' ');
}

export interface ExecOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer;
  /** What to show as "the command" instead of argv (e.g. a python one-liner's summary). */
  display?: string;
}

export interface ExecOutput {
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
}

const MAX_CAPTURE = 64 * 1024 * 1024;

/** Process groups of the client commands still running (so an interrupted run can end them). */
const running = new Set<number>();

/** Kills every client command this process started that is still running. */
export function killRunningCommands(): void {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
}

/**
 * Runs a client command. Resolves with its output when it exits 0; otherwise throws a
 * CommandError with the command and its output. The child gets its own process group so
 * that a timeout (op.signal) kills it and anything it started.
 */
export function exec(op: Op, cmd: string, args: string[], o: ExecOptions = {}): Promise<ExecOutput> {
  const display = o.display ?? showCommand(cmd, args);
  op.note(display);
  return new Promise((resolve, reject) => {
    if (op.signal.aborted) return reject(new CommandError(display, '', 'not started: the check had already timed out'));
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(cmd, args, { env: o.env ?? process.env, cwd: o.cwd, detached: true, stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    } catch (e) {
      return reject(new CommandError(display, String(e), `could not start ${cmd}`));
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let killed = false;
    const kill = () => {
      killed = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    op.signal.addEventListener('abort', kill, { once: true });
    const pid = child.pid;
    if (pid !== undefined) running.add(pid);
    child.stdout!.on('data', (d: Buffer) => {
      if (outLen < MAX_CAPTURE) out.push(d);
      outLen += d.length;
    });
    child.stderr!.on('data', (d: Buffer) => {
      if (errLen < 1024 * 1024) err.push(d);
      errLen += d.length;
    });
    child.on('error', (e) => {
      if (pid !== undefined) running.delete(pid);
      op.signal.removeEventListener('abort', kill);
      reject(new CommandError(display, String(e), `could not start ${cmd}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    });
    child.on('close', (code, sig) => {
      if (pid !== undefined) running.delete(pid);
      op.signal.removeEventListener('abort', kill);
      const stdoutBytes = Buffer.concat(out);
      const stdout = stdoutBytes.toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0 && !killed) return resolve({ stdout, stdoutBytes, stderr });
      const why = killed ? 'killed: the check timed out' : code === null ? `killed by ${sig}` : `exit code ${code}`;
      reject(new CommandError(display, stderr.trim() !== '' ? stderr : stdout, why));
    });
    if (o.input !== undefined) child.stdin!.end(o.input);
  });
}

/** Runs a command only to learn whether it exists and what version it is; never throws. */
export async function probe(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ ok: boolean; output: string }> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 30_000);
  try {
    const r = await exec({ signal: ac.signal, note: () => undefined }, cmd, args, { env });
    return { ok: true, output: (r.stdout + r.stderr).trim() };
  } catch (e) {
    return { ok: false, output: e instanceof CommandError ? `${e.message}: ${e.output.trim()}` : String(e) };
  } finally {
    clearTimeout(timer);
  }
}

/** Finds an executable on PATH (like `command -v`), or undefined. */
export function which(cmd: string): string | undefined {
  if (cmd.includes('/')) return existsSync(cmd) ? cmd : undefined;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * The environment for client subprocesses: ours, minus every AWS_* variable (so a user's
 * profile, region or keys never leak into the run), with Python told to speak UTF-8.
 * `keep` lists AWS_* variables that may stay (AWS_CA_BUNDLE for an HTTPS endpoint).
 */
export function clientEnv(keep: string[] = []): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('AWS_') && !keep.includes(k)) continue;
    env[k] = v;
  }
  env.PYTHONUTF8 = '1';
  env.PYTHONIOENCODING = 'utf-8';
  return env;
}

export async function md5File(file: string): Promise<string> {
  const h = createHash('md5');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Every regular file under dir, as "/"-separated paths relative to dir, sorted. */
export async function walkFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(d, e.name), r);
      else if (e.isFile()) out.push(r);
    }
  };
  if (existsSync(dir)) await walk(dir, '');
  return out.sort();
}

/** Resolves a package the way this file would import it; returns its directory, or undefined. */
export function packageDir(name: string, from: string[] = []): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const base of [here, ...from]) {
    let d = base;
    for (;;) {
      const candidate = path.join(d, 'node_modules', name, 'package.json');
      if (existsSync(candidate)) return path.dirname(candidate);
      const up = path.dirname(d);
      if (up === d) break;
      d = up;
    }
  }
  return undefined;
}

export function packageVersion(dir: string): string {
  try {
    return String((JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: unknown }).version ?? '?');
  } catch {
    return '?';
  }
}

/** The entry file (CommonJS resolution) of a package found by packageDir, for import() by URL. */
export function packageEntry(dir: string, name: string): string {
  const i = dir.lastIndexOf(`${path.sep}node_modules${path.sep}`);
  const base = i >= 0 ? dir.slice(0, i) : path.dirname(dir);
  return createRequire(path.join(base, 'conformance-resolve.js')).resolve(name);
}

/** host:port of an endpoint URL, with the default port filled in. */
export function hostPort(url: string): { host: string; port: number; https: boolean; hostPort: string } {
  const u = new URL(url);
  const https = u.protocol === 'https:';
  const port = u.port ? Number(u.port) : https ? 443 : 80;
  return { host: u.hostname, port, https, hostPort: u.port ? `${u.hostname}:${u.port}` : u.hostname };
}
