// Loads Tessera's configuration: built-in defaults, then the YAML file named by --config or
// TESSERA_CONFIG, then TESSERA_* environment variables, each layer overriding the one before.
// Everything is validated before the server touches a disk, and the first problem found is
// reported as one ConfigError line that says where the bad value came from.

import { promises as fs, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, YAMLParseError } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import { parseUsers, type ConfigUser } from './users.js';
import { loadOrCreateKeyPair, type RandomBytes } from './credentials.js';
import {
  ConfigError,
  editDistance,
  parseAccessKey,
  parseAddress,
  parseDomain,
  parseLogLevel,
  parseRegion,
  parseSecretKey,
  parseSize,
  parseStringList,
  parseWholeNumber,
  show,
  type LogLevel,
} from './values.js';

export { ConfigError, parseAddress, parseSize } from './values.js';
export type { LogLevel } from './values.js';
export { CREDENTIALS_FILE, generateKeyPair } from './credentials.js';
export type { ConfigUser } from './users.js';

export interface Config {
  /** Where the S3 endpoint listens. Host without IPv6 brackets; port 0 means "any free port". */
  address: { host: string; port: number };
  /** Absolute paths of the disk directories, in the configured order (the order is the shard order). */
  disks: string[];
  /** Absolute path of the metadata directory (LevelDB, generated credentials). Never a disk. */
  metaDir: string;
  /** Parity shards per stripe (m). Up to m disks may be lost. */
  parity: number;
  /** Data shards per stripe (k = disks.length - parity). */
  dataShards: number;
  region: string;
  /** Domains for virtual-host style (bucket.DOMAIN), lower-case, longest first so the first suffix match is the most specific. */
  domains: string[];
  /** Bytes per erasure block; a stripe holds dataShards × blockSize bytes of object data. */
  blockSize: number;
  /** Objects smaller than this many bytes are kept inside their metadata record. */
  inlineThreshold: number;
  /** Read rate of the background bit-rot scanner in bytes per second; 0 disables it. */
  scannerBytesPerSecond: number;
  /** Unfinished multipart uploads older than this are removed; 0 keeps them forever. */
  multipartExpirySeconds: number;
  /**
   * Bucket lifecycle rules: `daySeconds` makes one lifecycle day last that many seconds (tests,
   * demos; absent = a real day); the worker examines at most `objectsPerSecond` versions and
   * uploads per second (0 = no pacing).
   */
  lifecycle: { daySeconds?: number; objectsPerSecond: number };
  logLevel: LogLevel;
  /** Append-only JSON lines of every mutating request and every auth failure (log.audit_file). */
  auditFile?: string;
  /** Seconds in-flight requests get to finish after SIGTERM/SIGINT before they are cut. */
  shutdownTimeoutSeconds: number;
  credentials: {
    accessKeyId: string;
    secretAccessKey: string;
    /** True only on the start that generated the pair, so the CLI can print it once. */
    generated: boolean;
    /** The file holding the pair when it was generated (now or earlier); absent when configured. */
    storedAt?: string;
  };
  /** Users declared in the config (`users:`); they cannot be changed through the admin API. */
  users: ConfigUser[];
  /** HTTPS: PEM certificate chain and private key files; with both set, `address` serves HTTPS. */
  tls?: { certFile: string; keyFile: string };
  /** An optional plain-HTTP listener beside the HTTPS one (only meaningful with `tls`). */
  httpAddress?: { host: string; port: number };
  /** Server-side encryption: the file holding the 32-byte master key that wraps per-object data keys. */
  sse: { masterKeyFile?: string };
  limits: Limits;
  /** Free space each disk keeps: writes that would go below it are refused. */
  diskReserve: DiskReserve;
  /** False hides the root secret from the start-up banner when it came from config or env. */
  printSecret: boolean;
  /** GET /metrics: with a token, scrapes must send `Authorization: Bearer <token>`. */
  metrics: { token?: string };
  /** Event notification targets and delivery (notify/). */
  notify: NotifyConfig;
  /** The config file that was read, if any. */
  configFile?: string;
}

/** Where bucket event notifications can go, and how their delivery retries. */
export interface NotifyConfig {
  /** Webhook targets by name (lower case): an ARN arn:tessera:sqs::NAME:webhook names one. */
  webhooks: Record<string, { endpoint: string; authToken?: string }>;
  /** Longest pause between delivery attempts while a target is down (backoff doubles up to it). */
  retryMaxSeconds: number;
}

/** Overload protection. 0 means "no limit" for every cap and rate. */
export interface Limits {
  /** Open client connections at once; 0 picks a cap from the process's file-descriptor limit. */
  maxConnections: number;
  /** Open connections from one client address; 0 = only the global cap applies. */
  maxConnectionsPerIp: number;
  /** Seconds a client may take to send the request line and headers. */
  headerTimeoutSeconds: number;
  /** Seconds an idle keep-alive connection is held open between requests. */
  keepAliveTimeoutSeconds: number;
  /** Seconds without a byte of request body before the request is aborted. */
  bodyIdleTimeoutSeconds: number;
  /** Bytes per second a request body must average over each body_idle_timeout window; 0 = no floor. */
  bodyMinRate: number;
  /** Requests per second per access key (anonymous requests share one bucket per client address). */
  requestsPerSecondPerKey: number;
  /** Requests in flight per access key. */
  concurrentRequestsPerKey: number;
  /** Request-body bytes per second per access key (all its requests together). */
  uploadBytesPerSecond: number;
  /** Response-body bytes per second per access key (all its requests together). */
  downloadBytesPerSecond: number;
  /** Bytes of in-flight stripe and hash buffers for all requests together. */
  memoryBudget: number;
}

/** A free-space reserve: a share of the disk's size, or a fixed number of bytes. */
export type DiskReserve = { percent: number } | { bytes: number };

export interface LoadConfigOptions {
  /** Command-line arguments, searched for `--config PATH` / `--config=PATH`. Default: process.argv.slice(2). */
  argv?: string[];
  /** Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Relative paths from the command line and the environment are resolved against this. Default: process.cwd(). */
  cwd?: string;
  /** Randomness for generated credentials (tests may fix it). Default: crypto.randomBytes. */
  randomBytes?: RandomBytes;
}

/** The exit status for a configuration error, so scripts can tell it from a crash. */
export const CONFIG_EXIT_CODE = 2;

/** More shards than this makes every stripe touch too many disks to be worth it. */
export const MAX_DISKS = 16;
export const MAX_BLOCK_SIZE = 64 * 1024 * 1024;
export const MAX_INLINE_THRESHOLD = 16 * 1024 * 1024;

export const DEFAULTS = {
  address: '127.0.0.1:9000',
  disks: ['data/disk1', 'data/disk2', 'data/disk3', 'data/disk4'],
  region: 'us-east-1',
  blockSize: 1024 * 1024,
  inlineThreshold: 128 * 1024,
  scannerBytesPerSecond: 8 * 1024 * 1024,
  multipartExpirySeconds: 7 * 24 * 60 * 60,
  lifecycleObjectsPerSecond: 10_000,
  logLevel: 'info' as LogLevel,
  shutdownTimeoutSeconds: 30,
  limits: {
    maxConnections: 0,
    maxConnectionsPerIp: 0,
    headerTimeoutSeconds: 30,
    keepAliveTimeoutSeconds: 5,
    bodyIdleTimeoutSeconds: 60,
    bodyMinRate: 1024,
    requestsPerSecondPerKey: 0,
    concurrentRequestsPerKey: 0,
    uploadBytesPerSecond: 0,
    downloadBytesPerSecond: 0,
    memoryBudget: 256 * 1024 * 1024,
  } satisfies Limits,
  diskReserve: { percent: 2 } as DiskReserve,
  printSecret: true,
} as const;

/** Default parity for N disks: half of them, rounded down (4 disks → 2+2, 1 disk → no parity). */
export function defaultParity(diskCount: number): number {
  return Math.floor(diskCount / 2);
}

/**
 * Every key of the YAML file and the environment variable that overrides it. Mostly flat, one
 * line per setting, so the file reads like a list of answers; a dotted key ("tls.cert") is
 * written in the file as a key inside its section ("tls:" then "  cert: …").
 */
export const CONFIG_KEYS = {
  address: 'TESSERA_ADDRESS',
  disks: 'TESSERA_DISKS',
  meta_dir: 'TESSERA_META_DIR',
  parity: 'TESSERA_PARITY',
  region: 'TESSERA_REGION',
  domains: 'TESSERA_DOMAIN',
  block_size: 'TESSERA_BLOCK_SIZE',
  inline_threshold: 'TESSERA_INLINE_THRESHOLD',
  scanner_bytes_per_second: 'TESSERA_SCANNER_BYTES_PER_SECOND',
  multipart_expiry_seconds: 'TESSERA_MULTIPART_EXPIRY_SECONDS',
  'lifecycle.day_seconds': 'TESSERA_LIFECYCLE_DAY_SECONDS',
  'lifecycle.objects_per_second': 'TESSERA_LIFECYCLE_OBJECTS_PER_SECOND',
  log_level: 'TESSERA_LOG_LEVEL',
  'log.audit_file': 'TESSERA_AUDIT_LOG',
  shutdown_timeout: 'TESSERA_SHUTDOWN_TIMEOUT',
  root_access_key: 'TESSERA_ROOT_ACCESS_KEY',
  root_secret_key: 'TESSERA_ROOT_SECRET_KEY',
  users: 'TESSERA_USERS',
  'tls.cert': 'TESSERA_TLS_CERT',
  'tls.key': 'TESSERA_TLS_KEY',
  http_address: 'TESSERA_HTTP_ADDRESS',
  'sse.master_key_file': 'TESSERA_SSE_MASTER_KEY_FILE',
  'limits.max_connections': 'TESSERA_MAX_CONNECTIONS',
  'limits.max_connections_per_ip': 'TESSERA_MAX_CONNECTIONS_PER_IP',
  'limits.header_timeout': 'TESSERA_HEADER_TIMEOUT',
  'limits.keep_alive_timeout': 'TESSERA_KEEP_ALIVE_TIMEOUT',
  'limits.body_idle_timeout': 'TESSERA_BODY_IDLE_TIMEOUT',
  'limits.body_min_rate': 'TESSERA_BODY_MIN_RATE',
  'limits.requests_per_second_per_key': 'TESSERA_REQUESTS_PER_SECOND_PER_KEY',
  'limits.concurrent_requests_per_key': 'TESSERA_CONCURRENT_REQUESTS_PER_KEY',
  'limits.upload_bytes_per_second': 'TESSERA_UPLOAD_BYTES_PER_SECOND',
  'limits.download_bytes_per_second': 'TESSERA_DOWNLOAD_BYTES_PER_SECOND',
  'limits.memory_budget': 'TESSERA_MEMORY_BUDGET',
  disk_reserve: 'TESSERA_DISK_RESERVE',
  print_secret: 'TESSERA_PRINT_SECRET',
  'metrics.token': 'TESSERA_METRICS_TOKEN',
  'notify.retry_max_seconds': 'TESSERA_NOTIFY_RETRY_MAX_SECONDS',
  // Targets by name (`notify: {webhook: {NAME: {endpoint, auth_token}}}`); from the environment
  // as TESSERA_NOTIFY_WEBHOOK_<NAME>=URL and TESSERA_NOTIFY_WEBHOOK_<NAME>_AUTH_TOKEN (parseNotify).
  'notify.webhook': '',
} as const;

/**
 * Variables that carry a secret. Each may instead be given as `<VARIABLE>_FILE`, naming a file
 * that holds the value: Docker and Kubernetes mount secrets as files, and a file keeps the
 * secret out of `docker inspect`, `ps e` and the process environment. A secret-bearing setting
 * added to CONFIG_KEYS gets its `_FILE` variant by being listed here.
 */
export const FILE_VARIABLES: ReadonlySet<string> = new Set([
  'TESSERA_ROOT_ACCESS_KEY',
  'TESSERA_ROOT_SECRET_KEY',
  'TESSERA_USERS',
  'TESSERA_METRICS_TOKEN',
]);

/** A secret file larger than this is surely the wrong file. */
const MAX_SECRET_FILE_BYTES = 1024 * 1024;

/** The sections of the file: the part of a dotted key before its dot. */
const SECTIONS = new Set(Object.keys(CONFIG_KEYS).filter((k) => k.includes('.')).map((k) => k.slice(0, k.indexOf('.'))));

export type ConfigKey = keyof typeof CONFIG_KEYS;

/** One raw setting and where it came from, which every error message names. */
interface Setting {
  value: unknown;
  /** "TESSERA_PARITY", "/etc/tessera.yaml:3: parity" … */
  origin: string;
  /** Relative paths in this setting are resolved against this directory. */
  baseDir: string;
}

/** The one-line text the CLI prints before exiting with CONFIG_EXIT_CODE. */
export function formatConfigError(err: unknown): string {
  const message = err instanceof ConfigError ? err.message : `unexpected error: ${err instanceof Error ? err.message : String(err)}`;
  // One line whatever happens, so log scrapers and humans both see the whole problem.
  return `tessera: config: ${message.replace(/\s*\n\s*/g, ' ').trim()}`;
}

/**
 * Finds the config file: `--config PATH` / `--config=PATH` on the command line wins over
 * TESSERA_CONFIG. Returns an absolute path, or undefined when neither is given (then only
 * defaults and the environment apply; there is no implicit file, so what runs is what is asked).
 */
export function findConfigFile(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  let fromArgv: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    let value: string | undefined;
    if (arg === '--config') {
      value = argv[i + 1];
      if (value === undefined || value === '' || value.startsWith('--')) throw new ConfigError('--config needs a file path, such as --config /etc/tessera.yaml');
      i++;
    } else if (arg.startsWith('--config=')) {
      value = arg.slice('--config='.length);
      if (value === '') throw new ConfigError('--config= needs a file path, such as --config=/etc/tessera.yaml');
    } else {
      continue;
    }
    if (fromArgv !== undefined) throw new ConfigError('--config is given more than once');
    fromArgv = value;
  }
  const chosen = fromArgv ?? nonEmpty(env.TESSERA_CONFIG);
  return chosen === undefined ? undefined : path.resolve(cwd, chosen);
}

export async function loadConfig(opts: LoadConfigOptions = {}): Promise<Config> {
  const env = opts.env ?? process.env;
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const argv = opts.argv ?? process.argv.slice(2);

  const configFile = findConfigFile(argv, env, cwd);
  const settings = new Map<ConfigKey, Setting>();
  if (configFile !== undefined) {
    for (const [key, setting] of await readConfigFile(configFile)) settings.set(key, setting);
  }
  for (const [key, variable] of Object.entries(CONFIG_KEYS) as [ConfigKey, string][]) {
    const setting = await readEnvSetting(env, variable, cwd);
    if (setting !== undefined) settings.set(key, setting);
  }

  // Each parser's complaint is prefixed with where the value came from.
  const get = <T>(key: ConfigKey, parse: (value: unknown, s: Setting) => T, fallback: () => T): T => {
    const s = settings.get(key);
    if (s === undefined) return fallback();
    try {
      return parse(s.value, s);
    } catch (err) {
      if (err instanceof ConfigError) throw new ConfigError(`${s.origin}: ${err.message}`);
      throw err;
    }
  };
  const originOf = (key: ConfigKey): string => settings.get(key)?.origin ?? `${key} (default)`;

  const address = get('address', parseAddress, () => parseAddress(DEFAULTS.address));

  const disks = get(
    'disks',
    (v, s) => parseStringList(v, 'disk directories').map((d) => path.resolve(s.baseDir, d)),
    () => DEFAULTS.disks.map((d) => path.resolve(cwd, d)),
  );
  const disksOrigin = originOf('disks');
  if (disks.length === 0) throw new ConfigError(`${disksOrigin}: at least one disk directory is needed`);
  if (disks.length > MAX_DISKS) throw new ConfigError(`${disksOrigin}: at most ${MAX_DISKS} disks are supported, got ${disks.length}`);
  checkDisksDistinct(disks, disksOrigin);

  const metaDir = get(
    'meta_dir',
    (v, s) => {
      if (typeof v !== 'string') throw new ConfigError(`expected a directory path, got ${show(v)}`);
      return path.resolve(s.baseDir, v.trim());
    },
    () => path.join(path.dirname(disks[0]!), 'meta'),
  );
  const metaOrigin = originOf('meta_dir');
  checkMetaApart(metaDir, disks, metaOrigin);

  const parity = get('parity', parseWholeNumber, () => defaultParity(disks.length));
  if (parity > disks.length - 1) {
    throw new ConfigError(
      `${originOf('parity')}: parity ${parity} is too high for ${disks.length} disk${disks.length === 1 ? '' : 's'}; ` +
        `it must be between 0 and ${disks.length - 1} so that at least one disk holds data`,
    );
  }

  const region = get('region', parseRegion, () => DEFAULTS.region);
  const domains = get(
    'domains',
    (v) => [...new Set(parseStringList(v, 'domain names').map(parseDomain))].sort((a, b) => b.length - a.length),
    () => [],
  );

  const blockSize = get('block_size', (v) => {
    const n = parseSize(v);
    if (n < 1 || n > MAX_BLOCK_SIZE) throw new ConfigError(`block size must be between 1 byte and 64MiB, got ${show(v)}`);
    return n;
  }, () => DEFAULTS.blockSize);
  const inlineThreshold = get('inline_threshold', (v) => {
    const n = parseSize(v);
    if (n > MAX_INLINE_THRESHOLD) throw new ConfigError(`inline threshold must be at most 16MiB (objects that large belong on the disks), got ${show(v)}`);
    return n;
  }, () => DEFAULTS.inlineThreshold);
  const scannerBytesPerSecond = get('scanner_bytes_per_second', parseSize, () => DEFAULTS.scannerBytesPerSecond);
  const multipartExpirySeconds = get('multipart_expiry_seconds', parseWholeNumber, () => DEFAULTS.multipartExpirySeconds);
  const lifecycleDaySeconds = get('lifecycle.day_seconds', (v) => {
    const n = parseWholeNumber(v);
    if (n < 1) throw new Error('must be at least 1 (one lifecycle day in seconds); leave it unset for real days');
    return n;
  }, () => undefined);
  const lifecycleObjectsPerSecond = get('lifecycle.objects_per_second', parseWholeNumber, () => DEFAULTS.lifecycleObjectsPerSecond);
  const logLevel = get('log_level', parseLogLevel, () => DEFAULTS.logLevel);

  const accessKey = get('root_access_key', (v) => parseAccessKey(v), () => undefined);
  const secretKey = get('root_secret_key', (v) => parseSecretKey(v), () => undefined);
  if ((accessKey === undefined) !== (secretKey === undefined)) {
    const [given, missing] = accessKey !== undefined ? (['root_access_key', 'root_secret_key'] as const) : (['root_secret_key', 'root_access_key'] as const);
    throw new ConfigError(
      `${originOf(given)}: ${given} is set but ${missing} is not; set both (${CONFIG_KEYS.root_access_key} and ${CONFIG_KEYS.root_secret_key}) or neither to have a pair generated`,
    );
  }

  const users = get('users', parseUsers, () => []);
  for (const u of users) {
    if (u.accessKeyId === accessKey) throw new ConfigError(`${originOf('users')}: user ${u.name} has the root access key`);
  }

  const filePath = (v: unknown, s: Setting): string => {
    if (typeof v !== 'string' || v.trim() === '') throw new ConfigError(`expected a file path, got ${show(v)}`);
    return path.resolve(s.baseDir, v.trim());
  };
  const certFile = get('tls.cert', filePath, () => undefined);
  const keyFile = get('tls.key', filePath, () => undefined);
  if ((certFile === undefined) !== (keyFile === undefined)) {
    const [given, missing] = certFile !== undefined ? (['tls.cert', 'tls.key'] as const) : (['tls.key', 'tls.cert'] as const);
    throw new ConfigError(`${originOf(given)}: ${given} is set but ${missing} is not; HTTPS needs both (${CONFIG_KEYS['tls.cert']} and ${CONFIG_KEYS['tls.key']})`);
  }
  const tls = certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : undefined;
  const httpAddress = get('http_address', parseAddress, () => undefined);
  if (httpAddress !== undefined && tls === undefined) {
    throw new ConfigError(`${originOf('http_address')}: http_address adds a plain-HTTP listener beside HTTPS; it needs tls.cert and tls.key (without them, address already serves plain HTTP)`);
  }
  if (httpAddress !== undefined && httpAddress.port !== 0 && httpAddress.port === address.port && httpAddress.host === address.host) {
    throw new ConfigError(`${originOf('http_address')}: http_address is the same as address`);
  }
  const masterKeyFile = get('sse.master_key_file', filePath, () => undefined);
  const auditFile = get('log.audit_file', filePath, () => undefined);

  const D = DEFAULTS.limits;
  const seconds = (key: ConfigKey, fallback: number, min: number): number =>
    get(key, (v) => {
      const n = parseWholeNumber(v);
      if (n < min) throw new ConfigError(`expected at least ${min} second${min === 1 ? '' : 's'}, got ${show(v)}`);
      return n;
    }, () => fallback);
  const limits: Limits = {
    maxConnections: get('limits.max_connections', parseWholeNumber, () => D.maxConnections),
    maxConnectionsPerIp: get('limits.max_connections_per_ip', parseWholeNumber, () => D.maxConnectionsPerIp),
    headerTimeoutSeconds: seconds('limits.header_timeout', D.headerTimeoutSeconds, 1),
    keepAliveTimeoutSeconds: seconds('limits.keep_alive_timeout', D.keepAliveTimeoutSeconds, 1),
    bodyIdleTimeoutSeconds: seconds('limits.body_idle_timeout', D.bodyIdleTimeoutSeconds, 1),
    bodyMinRate: get('limits.body_min_rate', parseSize, () => D.bodyMinRate),
    requestsPerSecondPerKey: get('limits.requests_per_second_per_key', parseWholeNumber, () => D.requestsPerSecondPerKey),
    concurrentRequestsPerKey: get('limits.concurrent_requests_per_key', parseWholeNumber, () => D.concurrentRequestsPerKey),
    uploadBytesPerSecond: get('limits.upload_bytes_per_second', parseSize, () => D.uploadBytesPerSecond),
    downloadBytesPerSecond: get('limits.download_bytes_per_second', parseSize, () => D.downloadBytesPerSecond),
    memoryBudget: get('limits.memory_budget', (v) => {
      const n = parseSize(v);
      if (n < 16 * 1024 * 1024) throw new ConfigError(`memory budget must be at least 16MiB, got ${show(v)}`);
      return n;
    }, () => D.memoryBudget),
  };
  if (limits.maxConnectionsPerIp > 0 && limits.maxConnections > 0 && limits.maxConnectionsPerIp > limits.maxConnections) {
    throw new ConfigError(`${originOf('limits.max_connections_per_ip')}: max_connections_per_ip (${limits.maxConnectionsPerIp}) is above max_connections (${limits.maxConnections})`);
  }
  const diskReserve = get('disk_reserve', parseReserve, () => DEFAULTS.diskReserve);
  // 0 is allowed: cut in-flight requests at once.
  const shutdownTimeoutSeconds = get('shutdown_timeout', parseWholeNumber, () => DEFAULTS.shutdownTimeoutSeconds);
  const printSecret = get('print_secret', parseBoolean, () => DEFAULTS.printSecret);
  const metricsToken = get('metrics.token', parseMetricsToken, () => undefined);
  const notify: NotifyConfig = {
    webhooks: parseWebhooks(settings.get('notify.webhook'), env),
    retryMaxSeconds: get('notify.retry_max_seconds', (v) => {
      const n = parseWholeNumber(v);
      if (n < 1) throw new ConfigError(`expected at least 1 second, got ${show(v)}`);
      return n;
    }, () => 30),
  };

  // Only now, with every value known to be sound, touch the filesystem.
  await prepareDirectories([
    ...disks.map((d) => ({ path: d, label: `disk ${d}`, origin: disksOrigin })),
    { path: metaDir, label: `meta_dir ${metaDir}`, origin: metaOrigin },
  ]);

  let credentials: Config['credentials'];
  if (accessKey !== undefined && secretKey !== undefined) {
    credentials = { accessKeyId: accessKey, secretAccessKey: secretKey, generated: false };
  } else {
    const mirrors = disks.map((d) => path.join(d, 'meta'));
    const stored = await loadOrCreateKeyPair(metaDir, opts.randomBytes ? { randomBytes: opts.randomBytes, mirrors } : { mirrors });
    credentials = { accessKeyId: stored.accessKeyId, secretAccessKey: stored.secretAccessKey, generated: stored.generated, storedAt: stored.file };
  }

  return {
    address,
    disks,
    metaDir,
    parity,
    dataShards: disks.length - parity,
    region,
    domains,
    blockSize,
    inlineThreshold,
    scannerBytesPerSecond,
    multipartExpirySeconds,
    lifecycle: { ...(lifecycleDaySeconds !== undefined ? { daySeconds: lifecycleDaySeconds } : {}), objectsPerSecond: lifecycleObjectsPerSecond },
    logLevel,
    ...(auditFile !== undefined ? { auditFile } : {}),
    shutdownTimeoutSeconds,
    credentials,
    users,
    ...(tls !== undefined ? { tls } : {}),
    ...(httpAddress !== undefined ? { httpAddress } : {}),
    sse: masterKeyFile !== undefined ? { masterKeyFile } : {},
    limits,
    diskReserve,
    printSecret,
    metrics: metricsToken !== undefined ? { token: metricsToken } : {},
    notify,
    ...(configFile !== undefined ? { configFile } : {}),
  };
}

/** Reads and checks the shape of the YAML file; values are checked later, with the env ones. */
async function readConfigFile(file: string): Promise<Map<ConfigKey, Setting>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(`config file ${file} does not exist`);
    if (code === 'EISDIR') throw new ConfigError(`config file ${file} is a directory, not a file`);
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  const firstError = doc.errors[0];
  if (firstError) {
    const pos = firstError instanceof YAMLParseError && firstError.linePos ? `:${firstError.linePos[0].line}` : '';
    const reason = firstError.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?\s*$/, '');
    throw new ConfigError(`${file}${pos}: not valid YAML: ${reason}`);
  }

  const settings = new Map<ConfigKey, Setting>();
  const baseDir = path.dirname(file);
  const contents = doc.contents;
  // An empty file (or one with only comments) means "all defaults".
  if (contents === null || (isScalar(contents) && contents.value === null)) return settings;
  if (!isMap(contents)) {
    throw new ConfigError(`${file}: expected "key: value" settings at the top level, such as "address: 127.0.0.1:9000"`);
  }
  const readPairs = (items: ReadonlyArray<{ key: unknown; value: unknown }>, section: string | undefined): void => {
    for (const pair of items) {
      const keyNode = pair.key as YamlNode | null;
      const line = keyNode?.range ? lineCounter.linePos(keyNode.range[0]).line : undefined;
      const where = line === undefined ? file : `${file}:${line}`;
      const bare = isScalar(keyNode) ? keyNode.value : undefined;
      const key = typeof bare === 'string' && section !== undefined ? `${section}.${bare}` : bare;
      const valueNode = pair.value as YamlNode | null;
      if (section === undefined && typeof key === 'string' && SECTIONS.has(key)) {
        // "tls:" with nothing under it means "all defaults"; anything else must be a map of keys.
        if (valueNode === null || (isScalar(valueNode) && (valueNode.value === null || valueNode.value === ''))) continue;
        if (!isMap(valueNode)) throw new ConfigError(`${where}: ${key} is a section: expected its settings indented under it, such as "${key}:" then "  ${firstKeyOf(key)}: …"`);
        readPairs(valueNode.items, key);
        continue;
      }
      if (typeof key !== 'string' || !(key in CONFIG_KEYS)) {
        const name = typeof key === 'string' || typeof key === 'number' ? String(key) : '(complex key)';
        const hint = suggestKey(name);
        throw new ConfigError(`${where}: unknown key ${JSON.stringify(name)}${hint ? ` (did you mean "${hint}"?)` : ''}`);
      }
      const value: unknown = valueNode === null ? null : valueNode.toJS(doc, { maxAliasCount: 100 });
      // "key:" with nothing after it, or "", means "use the default", so the example file can
      // list every key without pinning the derived ones.
      if (value === null || (typeof value === 'string' && value.trim() === '')) continue;
      settings.set(key as ConfigKey, { value, origin: `${where}: ${key}`, baseDir });
    }
  };
  readPairs(contents.items, undefined);
  return settings;
}

function firstKeyOf(section: string): string {
  const k = Object.keys(CONFIG_KEYS).find((key) => key.startsWith(`${section}.`))!;
  return k.slice(section.length + 1);
}

/** "5%" of each disk's size, or a size such as "10GiB". */
function parseReserve(value: unknown): DiskReserve {
  if (typeof value === 'string' && value.trim().endsWith('%')) {
    const text = value.trim().slice(0, -1).trim();
    const n = Number(text);
    if (!/^\d+(\.\d+)?$/.test(text) || !(n >= 0 && n < 100)) throw new ConfigError(`expected a percentage from 0% to 99%, got ${show(value)}`);
    return { percent: n };
  }
  return { bytes: parseSize(value) };
}

function parseBoolean(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (['true', 'yes', 'on', '1'].includes(v)) return true;
    if (['false', 'no', 'off', '0'].includes(v)) return false;
  }
  throw new ConfigError(`expected true or false, got ${show(value)}`);
}

/** The known key an unknown one was most likely meant to be, if any is close. */
function suggestKey(name: string): string | undefined {
  const normal = name.toLowerCase().replace(/-/g, '_').replace(/^tessera_/, '');
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const [key, variable] of Object.entries(CONFIG_KEYS)) {
    if (normal === key || name.toUpperCase() === variable) return key;
    const d = editDistance(normal, key);
    if (d < bestDistance) [best, bestDistance] = [key, d];
  }
  // Accept up to two edits, or one per four letters for long keys, so "inline_treshold" still matches.
  return bestDistance <= Math.max(2, Math.floor(normal.length / 4)) ? best : undefined;
}

/**
 * One setting from the environment: the variable itself, or for FILE_VARIABLES the content of
 * the file `<VARIABLE>_FILE` names, less one trailing newline (what `echo` and most editors
 * add). Both at once is an error rather than a silent choice, and so is an unreadable or empty
 * file: falling back to a generated key pair would lock every client out. The file's content
 * never appears in a message.
 */
async function readEnvSetting(env: NodeJS.ProcessEnv, variable: string, cwd: string): Promise<Setting | undefined> {
  const direct = nonEmpty(env[variable]);
  const fileVariable = `${variable}_FILE`;
  const named = FILE_VARIABLES.has(variable) ? nonEmpty(env[fileVariable]) : undefined;
  if (named === undefined) return direct === undefined ? undefined : { value: direct, origin: variable, baseDir: cwd };
  if (direct !== undefined) throw new ConfigError(`${variable} and ${fileVariable} are both set; set only one of them`);
  const file = path.resolve(cwd, named.trim());
  let text: string;
  try {
    const st = await fs.stat(file);
    if (st.isDirectory()) throw new ConfigError(`${fileVariable}: ${file} is a directory, not a file`);
    if (st.size > MAX_SECRET_FILE_BYTES) throw new ConfigError(`${fileVariable}: ${file} is ${st.size} bytes long; a secret file holds one value`);
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(`${fileVariable}: file ${file} does not exist`);
    if (code === 'EACCES' || code === 'EPERM') throw new ConfigError(`${fileVariable}: file ${file} cannot be read by this user (check its owner and mode)`);
    throw new ConfigError(`${fileVariable}: cannot read ${file}: ${(err as Error).message}`);
  }
  const value = text.replace(/\r?\n$/, '');
  if (value.trim() === '') throw new ConfigError(`${fileVariable}: file ${file} is empty`);
  return { value, origin: fileVariable, baseDir: cwd };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** True when `child` is strictly below `parent`. */
function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/**
 * Two disks in one directory would put two shards of a stripe in one place (one failure then
 * loses two shards), and a disk inside another would be swept up when that one is replaced.
 */
function checkDisksDistinct(disks: string[], origin: string): void {
  for (let i = 0; i < disks.length; i++) {
    for (let j = 0; j < disks.length; j++) {
      const a = disks[i]!;
      const b = disks[j]!;
      if (j > i && a === b) throw new ConfigError(`${origin}: disk ${a} is listed twice`);
      if (isInside(a, b)) throw new ConfigError(`${origin}: disk ${a} is inside disk ${b}; disks must be separate directories`);
    }
  }
}

/** The metadata outlives any disk, so it must not sit on one, nor hold one. */
function checkMetaApart(metaDir: string, disks: string[], origin: string): void {
  for (const disk of disks) {
    if (metaDir === disk) throw new ConfigError(`${origin}: meta_dir ${metaDir} is also a disk; the metadata directory must be separate from the disks`);
    if (isInside(metaDir, disk)) throw new ConfigError(`${origin}: meta_dir ${metaDir} is inside disk ${disk}; disks must stay replaceable, so keep metadata elsewhere`);
    if (isInside(disk, metaDir)) throw new ConfigError(`${origin}: disk ${disk} is inside meta_dir ${metaDir}; keep disks outside the metadata directory`);
  }
}

interface DirectoryToPrepare {
  path: string;
  label: string;
  origin: string;
}

/**
 * Creates missing directories and checks that they are usable. Looks at all of them before
 * creating any, so a config that names a file as a disk does not leave half of the other
 * directories behind.
 */
async function prepareDirectories(dirs: DirectoryToPrepare[]): Promise<void> {
  for (const d of dirs) {
    try {
      const st = await fs.stat(d.path);
      if (!st.isDirectory()) throw new ConfigError(`${d.origin}: ${d.label} exists but is not a directory`);
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue; // created below
      if (code === 'ENOTDIR') throw new ConfigError(`${d.origin}: ${d.label} cannot be created: part of its path is a file, not a directory`);
      throw new ConfigError(`${d.origin}: ${d.label} cannot be used: ${(err as Error).message}`);
    }
  }
  for (const d of dirs) {
    try {
      // 0700: object data and metadata are the server user's alone (existing directories
      // are tightened when the server opens them).
      await fs.mkdir(d.path, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new ConfigError(`${d.origin}: ${d.label} cannot be created: ${(err as Error).message}`);
    }
    try {
      await fs.access(d.path, fsConstants.R_OK | fsConstants.W_OK | fsConstants.X_OK);
    } catch {
      throw new ConfigError(`${d.origin}: ${d.label} is not readable and writable by this user`);
    }
  }
  // Symbolic links can make two differently spelled paths one directory; compare real paths.
  const real = await Promise.all(dirs.map(async (d) => ({ ...d, real: await fs.realpath(d.path) })));
  for (let i = 0; i < real.length; i++) {
    for (let j = i + 1; j < real.length; j++) {
      const a = real[i]!;
      const b = real[j]!;
      if (a.real === b.real) throw new ConfigError(`${b.origin}: ${b.label} and ${a.label} are the same directory (${a.real})`);
      if (isInside(a.real, b.real)) throw new ConfigError(`${a.origin}: ${a.label} is inside ${b.label} (${b.real})`);
      if (isInside(b.real, a.real)) throw new ConfigError(`${b.origin}: ${b.label} is inside ${a.label} (${a.real})`);
    }
  }
}

const TARGET_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const WEBHOOK_ENV = 'TESSERA_NOTIFY_WEBHOOK_';

/**
 * Webhook targets: the file's `notify.webhook` map ({NAME: {endpoint, auth_token}}), then
 * TESSERA_NOTIFY_WEBHOOK_<NAME>=URL variables (a variable replaces a file entry of the same
 * name). Names are case-insensitive (kept lower case), since variables are usually upper case.
 */
function parseWebhooks(fromFile: Setting | undefined, env: NodeJS.ProcessEnv): NotifyConfig['webhooks'] {
  const out: NotifyConfig['webhooks'] = {};
  const add = (name: string, endpoint: unknown, token: unknown, origin: string) => {
    if (!TARGET_NAME.test(name)) throw new ConfigError(`${origin}: a target name may hold letters, digits, "_" and "-" (1 to 64 of them), got ${show(name)}`);
    if (typeof endpoint !== 'string' || !/^https?:\/\/[^\s]+$/.test(endpoint.trim())) throw new ConfigError(`${origin}: expected an http:// or https:// URL for the endpoint, got ${show(endpoint)}`);
    try {
      new URL(endpoint.trim());
    } catch {
      throw new ConfigError(`${origin}: not a valid URL: ${show(endpoint)}`);
    }
    if (token !== undefined && (typeof token !== 'string' || !/^[\x21-\x7e]+$/.test(token))) throw new ConfigError(`${origin}: auth_token must be visible ASCII characters without spaces`);
    out[name.toLowerCase()] = { endpoint: endpoint.trim(), ...(token !== undefined ? { authToken: token as string } : {}) };
  };
  if (fromFile) {
    const v = fromFile.value;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${fromFile.origin}: expected targets by name, such as "webhook:" then "  mytarget: {endpoint: http://…}"`);
    for (const [name, t] of Object.entries(v as Record<string, unknown>)) {
      const origin = `${fromFile.origin}.${name}`;
      if (typeof t === 'string') add(name, t, undefined, origin);
      else if (typeof t === 'object' && t !== null && !Array.isArray(t)) {
        const { endpoint, auth_token: token, ...rest } = t as Record<string, unknown>;
        const extra = Object.keys(rest)[0];
        if (extra !== undefined) throw new ConfigError(`${origin}: unknown key ${JSON.stringify(extra)} (a webhook has endpoint and auth_token)`);
        add(name, endpoint, token, origin);
      } else throw new ConfigError(`${origin}: expected {endpoint: URL, auth_token: TOKEN}`);
    }
  }
  for (const [variable, value] of Object.entries(env)) {
    if (!variable.startsWith(WEBHOOK_ENV) || variable.endsWith('_AUTH_TOKEN') || nonEmpty(value) === undefined) continue;
    const name = variable.slice(WEBHOOK_ENV.length);
    add(name, value, nonEmpty(env[`${variable}_AUTH_TOKEN`]), variable);
  }
  return out;
}

/** A bearer token: it travels in an HTTP header, so visible ASCII only, and long enough not to guess. */
function parseMetricsToken(value: unknown): string {
  if (typeof value !== 'string') throw new ConfigError(`expected a string, got ${show(value)}`);
  if (value.length < 16) throw new ConfigError(`the metrics token must be at least 16 characters long, got ${value.length}`);
  if (!/^[\x21-\x7e]+$/.test(value)) throw new ConfigError('the metrics token may hold only visible ASCII characters (no spaces or control characters)');
  return value;
}
