// Embedded mode: `import { startTessera } from 'tessera'` starts the same server `tessera
// server` runs (same engine, same S3 handlers, same durability) inside the caller's process,
// typically from a test suite's `before` hook.
//
// What differs from the CLI, on purpose:
// - Every setting comes from the options. The process environment is not read: TESSERA_*
//   variables (or TESSERA_CONFIG) that an application sets for its own server must not
//   reconfigure the one its tests embed.
// - Nothing process-wide is touched: no signal handlers, no uncaughtException or
//   unhandledRejection handlers, no process.exit, nothing written to stdout. The host owns
//   the process; errors inside a request end that request (500) and never reach it.
// - The background bit-rot scanner is off (short-lived data; `tessera admin scan` still works).
// - Without `dir`, the data lives in a fresh temporary directory that close() removes.

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../config/config.js';
import { startServer, type Started } from '../cli/server.js';
import { createLogger, type Logger } from '../ops/log.js';
import { isS3Error } from '../errors.js';
import { removeBucket } from '../object/purge.js';
import { validateBucketName } from '../s3/names.js';

export interface StartTesseraOptions {
  /**
   * Directory for the data: disk directories `disk1..N` and the metadata directory `meta`
   * inside it. Kept by close(), so a later start on the same directory finds the same buckets
   * (and the same generated keys). Default: a fresh temporary directory, removed by close().
   */
  dir?: string;
  /** Port to listen on; 0 (the default) takes any free port (see `endpoint`). */
  port?: number;
  /** Address to listen on. Default 127.0.0.1: only this machine can connect. */
  host?: string;
  /**
   * Root credentials. Both or neither: without them a random pair is generated (and kept in
   * `dir`, so a persistent directory keeps its keys). Use the returned values in clients.
   */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Region clients sign for. Default us-east-1. */
  region?: string;
  /** Buckets created at start (when missing) and created again, empty, by every reset(). */
  buckets?: string[];
  /** Number of disk directories (1 to 16). Default 1: no erasure coding, fastest start. */
  disks?: number;
  /** Parity shards (0 to disks-1). Default: half of the disks, rounded down (1 disk: 0). */
  parity?: number;
  /** No log lines at all (the default). With `quiet: false`, JSON lines go to stderr, never stdout. */
  quiet?: boolean;
  /** Lowest level logged when not quiet. Default 'warn'. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

/** What `new S3Client(clientConfig)` needs; S3ClientConfig-compatible without importing the SDK. */
export interface TesseraClientConfig {
  endpoint: string;
  region: string;
  forcePathStyle: true;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface CloseOptions {
  /** Milliseconds requests in flight get to finish before their connections are cut. Default 1000. */
  graceMs?: number;
}

export interface Tessera {
  /** http://host:port of the S3 endpoint. */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Pass as is to `new S3Client(...)` (AWS SDK for JavaScript v3). */
  clientConfig: TesseraClientConfig;
  /** The data directory (the temporary one when no `dir` was given). */
  dir: string;
  /**
   * Deletes every bucket with all its objects, versions and unfinished uploads, then creates
   * the `buckets` of the options again, empty: the server is as startTessera left it. Users,
   * keys and policies made through the admin API are kept.
   */
  reset(): Promise<void>;
  /**
   * Stops listening, lets requests in flight finish (up to `graceMs`, then cuts them), closes
   * the storage engine, and removes the temporary directory if one was made. Safe to call twice.
   */
  close(o?: CloseOptions): Promise<void>;
}

export async function startTessera(o: StartTesseraOptions = {}): Promise<Tessera> {
  const disks = o.disks ?? 1;
  if (!Number.isInteger(disks) || disks < 1 || disks > 16) throw new ConfigError(`disks: expected a whole number from 1 to 16, got ${String(o.disks)}`);
  if (o.parity !== undefined && (!Number.isInteger(o.parity) || o.parity < 0 || o.parity >= disks)) {
    throw new ConfigError(`parity: expected a whole number from 0 to ${disks - 1} (disks - 1), got ${String(o.parity)}`);
  }
  if ((o.accessKeyId === undefined) !== (o.secretAccessKey === undefined)) {
    throw new ConfigError('accessKeyId and secretAccessKey: give both or neither (then a pair is generated)');
  }
  for (const b of o.buckets ?? []) {
    try {
      validateBucketName(b);
    } catch (e) {
      throw new ConfigError(`buckets: ${JSON.stringify(b)} is not a valid bucket name (${(e as Error).message})`);
    }
  }
  const temp = o.dir === undefined;
  const dir = temp ? await mkdtemp(path.join(os.tmpdir(), 'tessera-embed-')) : path.resolve(o.dir!);
  try {
    if (dir.includes(',')) throw new ConfigError(`dir: ${dir}: a directory path with a comma is not supported`);
    await mkdir(dir, { recursive: true });
    const server = await start(o, dir, disks);
    return handle(server, o, dir, temp);
  } catch (e) {
    if (temp) await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Option names as the caller wrote them, for configuration errors. */
const OPTION_OF: Record<string, string> = {
  TESSERA_ADDRESS: 'host/port',
  TESSERA_REGION: 'region',
  TESSERA_ROOT_ACCESS_KEY: 'accessKeyId',
  TESSERA_ROOT_SECRET_KEY: 'secretAccessKey',
  TESSERA_PARITY: 'parity',
  TESSERA_DISKS: 'dir',
};

async function start(o: StartTesseraOptions, dir: string, disks: number): Promise<Started> {
  const host = o.host ?? '127.0.0.1';
  const env: Record<string, string> = {
    TESSERA_ADDRESS: `${host.includes(':') ? `[${host}]` : host}:${o.port ?? 0}`,
    TESSERA_DISKS: Array.from({ length: disks }, (_, i) => path.join(dir, `disk${i + 1}`)).join(','),
    TESSERA_META_DIR: path.join(dir, 'meta'),
    TESSERA_SCANNER_BYTES_PER_SECOND: '0',
    TESSERA_LOG_LEVEL: o.logLevel ?? 'warn',
  };
  if (o.parity !== undefined) env.TESSERA_PARITY = String(o.parity);
  if (o.region !== undefined) env.TESSERA_REGION = o.region;
  if (o.accessKeyId !== undefined) env.TESSERA_ROOT_ACCESS_KEY = o.accessKeyId;
  if (o.secretAccessKey !== undefined) env.TESSERA_ROOT_SECRET_KEY = o.secretAccessKey;
  let config;
  try {
    // An explicit env (never process.env) and no argv: see the top of this file.
    config = await loadConfig({ argv: [], env, cwd: dir });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    throw new ConfigError(e.message.replace(/\bTESSERA_[A-Z_]+\b/g, (v) => OPTION_OF[v] ?? v));
  }
  const log: Logger = o.quiet === false ? createLogger(config.logLevel, undefined, { pretty: false }) : () => undefined;
  return startServer(config, log);
}

async function handle(s: Started, o: StartTesseraOptions, dir: string, temp: boolean): Promise<Tessera> {
  const store = s.engine.store;
  const region = s.config.region;
  const buckets = [...new Set(o.buckets ?? [])];
  const createBuckets = () =>
    Promise.all(
      buckets.map((b) =>
        store.createBucket(b, region).catch((e: unknown) => {
          if (!(isS3Error(e) && e.code === 'BucketAlreadyOwnedByYou')) throw e;
        }),
      ),
    );
  try {
    await createBuckets();
  } catch (e) {
    await s.stop();
    throw e;
  }
  const { accessKeyId, secretAccessKey } = s.config.credentials;
  const endpoint = reachableUrl(s.http.url);
  let closing: Promise<void> | undefined;
  let resetting: Promise<void> = Promise.resolve();
  return {
    endpoint,
    region,
    accessKeyId,
    secretAccessKey,
    clientConfig: { endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } },
    dir,
    reset() {
      if (closing) return Promise.reject(new Error('tessera: reset() after close()'));
      // One reset at a time; a second one waits for the first and then runs too.
      const run = resetting.catch(() => undefined).then(async () => {
        const names = (await store.listBuckets()).map((b) => b.name);
        await Promise.all(names.map((name) => removeBucket(store, name)));
        await createBuckets();
      });
      resetting = run;
      return run;
    },
    close(c: CloseOptions = {}) {
      closing ??= (async () => {
        await resetting.catch(() => undefined);
        try {
          await s.shutdown((c.graceMs ?? 1000) / 1000);
        } finally {
          if (temp) await rm(dir, { recursive: true, force: true, maxRetries: 3 });
        }
      })();
      return closing;
    },
  };
}

/** A server listening on every address (0.0.0.0, ::) is reached on loopback. */
function reachableUrl(url: string): string {
  const u = new URL(url);
  if (u.hostname === '0.0.0.0') u.hostname = '127.0.0.1';
  else if (u.hostname === '[::]') u.hostname = '[::1]';
  return u.origin;
}
