// `tessera server`: load the configuration, open the storage engine, serve S3.

import { loadConfig, type Config } from '../config/config.js';
import { Identities } from '../auth/identities.js';
import { createApp } from '../http/app.js';
import { certificateWarning, listen, type CertificateInfo, type RunningServer } from '../http/server.js';
import { openEngine, type Engine } from '../object/engine.js';
import { createLogger, type Logger } from '../ops/log.js';
import { AuditLog } from '../ops/audit.js';
import { writeStdio } from '../ops/log.js';
import { InFlight } from '../http/in-flight.js';
import { assertMetaNotInUse } from '../meta/in-use.js';
import { sharedDeviceWarning, startupChecks, type StartupFindings } from './startup-checks.js';
import { serverOps } from '../ops/server-ops.js';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadMasterKey } from '../config/master-key.js';
import { makePrivate } from '../util/private-files.js';
import { Delivery } from '../notify/delivery.js';
import { makeTargets } from '../notify/targets.js';

export interface Started {
  config: Config;
  engine: Engine;
  http: RunningServer;
  log: Logger;
  audit?: AuditLog;
  /** Requests in flight (what a graceful shutdown waits for). */
  inFlight: InFlight;
  findings: StartupFindings;
  /** Stops at once: listeners closed, connections cut, engine closed. */
  stop(): Promise<void>;
  /**
   * Graceful stop: no new connections; requests in flight get up to `timeoutSeconds` to
   * finish, then are cut; then the engine and the audit log are closed. `cutNow()` (a second
   * signal) ends the wait early. Resolves when everything is closed.
   */
  shutdown(timeoutSeconds: number): Promise<void>;
  cutNow(): void;
}

/** Starts a server from an already loaded configuration (tests use this directly). */
export async function startServer(config: Config, log: Logger = createLogger(config.logLevel)): Promise<Started> {
  // Read (and its permissions checked) before anything opens: a bad key file stops start-up.
  const masterKey = config.sse.masterKeyFile !== undefined ? await loadMasterKey(config.sse.masterKeyFile) : undefined;
  // Before anything else opens: a second server on the same metadata stops with one line.
  await assertMetaNotInUse(config.metaDir, path.join(config.metaDir, 'leveldb'));
  const engine = await openEngine({
    masterKey,
    disks: config.disks,
    metaDir: path.join(config.metaDir, 'leveldb'),
    parity: config.parity,
    blockSize: config.blockSize,
    inlineThreshold: config.inlineThreshold,
    scannerBytesPerSecond: config.scannerBytesPerSecond,
    multipartExpirySeconds: config.multipartExpirySeconds,
    lifecycle: config.lifecycle,
    memoryBudget: config.limits.memoryBudget,
    diskReserve: config.diskReserve,
    log: (msg) => log('info', msg),
  });
  await makeDirectoriesPrivate(config, engine, log);
  const creds = config.credentials;
  const identities = new Identities(engine.store.meta, creds, config.users);
  try {
    await identities.load();
  } catch (e) {
    await engine.close();
    throw e;
  }
  if (identities.unreadablePolicies.length > 0) {
    log('warn', `stored policies that cannot be read deny everything until replaced: ${identities.unreadablePolicies.join(', ')}`);
  }
  if (identities.unreadableKeys > 0) {
    log('warn', `${identities.unreadableKeys} user access key(s) were sealed under another root secret and cannot sign until that root secret is configured again`);
  }
  let audit: AuditLog | undefined;
  try {
    if (config.auditFile !== undefined) audit = await AuditLog.open(config.auditFile, log);
  } catch (e) {
    await engine.close();
    throw e;
  }
  // Event notifications: the targets rules may name, and the loops that deliver to them.
  const targets = makeTargets(config.notify);
  const rootOwner = ownerId(creds.accessKeyId);
  engine.store.events.settings = {
    region: config.region,
    ownerId: (b) => b.owner ?? rootOwner,
    targets: new Map(targets.map((t) => [t.name, t.kind])),
  };
  const delivery = new Delivery(engine.store.meta, engine.store.events, targets, { retryMaxMs: config.notify.retryMaxSeconds * 1000, log });
  try {
    await engine.store.events.init(engine.store.meta);
    await delivery.start();
  } catch (e) {
    await audit?.close();
    await engine.close();
    throw e;
  }
  const ops = serverOps(engine, { scannerBytesPerSecond: config.scannerBytesPerSecond, metricsToken: config.metrics.token });
  const inFlight = new InFlight();
  const app = createApp({
    audit,
    inFlight,
    store: engine.store,
    region: config.region,
    domains: config.domains,
    identities,
    owner: { id: rootOwner, displayName: 'tessera' },
    log,
    limits: config.limits,
    jobs: engine.upkeep.jobs,
    ops,
  });
  let http: RunningServer;
  try {
    http = await listen(app, {
      host: config.address.host,
      port: config.address.port,
      ...(config.tls ? { tls: config.tls } : {}),
      ...(config.httpAddress ? { httpAddress: config.httpAddress } : {}),
      keepAliveTimeoutSeconds: config.limits.keepAliveTimeoutSeconds,
      headerTimeoutSeconds: config.limits.headerTimeoutSeconds,
      limits: config.limits,
      log,
    });
  } catch (e) {
    await audit?.close();
    await delivery.stop();
    await engine.close();
    throw e;
  }
  ops.metrics.attachConnections(http.connections);
  const warning = http.certificate && certificateWarning(http.certificate);
  if (warning) log('warn', warning, { cert: config.tls?.certFile });
  if (config.tls) await warnIfKeyReadable(config.tls.keyFile, log);
  const findings = await startupChecks(config, engine, log);
  let cut: () => void = () => undefined;
  const cutSignal = new Promise<void>((resolve) => (cut = resolve));
  return {
    config,
    engine,
    http,
    log,
    audit,
    inFlight,
    findings,
    async stop() {
      engine.store.events.live.closeAll();
      await http.close();
      await delivery.stop();
      await engine.close();
      await audit?.close();
    },
    cutNow: () => cut(),
    async shutdown(timeoutSeconds: number) {
      ops.health.stopping = true;
      // Live event streams never end by themselves: end them so they are not waited for.
      engine.store.events.live.closeAll();
      const closed = Promise.all(http.servers.map((srv) => new Promise<void>((resolve) => (srv.listening ? srv.close(() => resolve()) : resolve()))));
      // Keep-alive connections between requests hold nothing: closed at once, and again as
      // requests finish (their connections become idle).
      const sweep = setInterval(() => http.servers.forEach((srv) => srv.closeIdleConnections()), 100);
      http.servers.forEach((srv) => srv.closeIdleConnections());
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutSeconds * 1000)));
      const outcome = await Promise.race([inFlight.idle().then(() => 'done' as const), deadline, cutSignal.then(() => 'timeout' as const)]);
      clearTimeout(timer);
      if (outcome === 'timeout' && inFlight.count > 0) {
        log('warn', `shutdown: cutting ${inFlight.count} request(s) still in flight`, { inFlight: inFlight.count });
        http.servers.forEach((srv) => srv.closeAllConnections());
        // The cut requests unwind (an upload removes its temporary shard files) before the
        // engine closes under them; a handler stuck beyond this is abandoned.
        await Promise.race([inFlight.idle(), sleep(5000)]);
      }
      clearInterval(sweep);
      http.servers.forEach((srv) => srv.closeAllConnections());
      await closed;
      await delivery.stop();
      await engine.close();
      await audit?.close();
    },
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * The disk directories and the metadata directory hold every object and every secret: they
 * are made 0700 (directories from an older version were 0755). The engine already tightened
 * what it opened, quietly; this says so once, and warns where it cannot (not our directory).
 */
async function makeDirectoriesPrivate(config: Config, engine: Engine, log: Logger): Promise<void> {
  const dirs = [config.metaDir, ...config.disks.filter((_, i) => !engine.offlineDisks.includes(i))];
  for (const dir of dirs) {
    try {
      if (await makePrivate(dir)) log('info', `permissions of ${dir} set to 0700 (data at rest is readable by this user only)`);
    } catch (e) {
      log('warn', `cannot make ${dir} private (mode 0700): ${(e as Error).message}; other local users may be able to read it`);
    }
  }
}

/** A stable canonical-user-like id derived from the access key (S3 shows a 64-hex owner id). */
function ownerId(accessKey: string): string {
  let h = 0n;
  for (const c of accessKey) h = (h * 131n + BigInt(c.charCodeAt(0))) & ((1n << 256n) - 1n);
  return h.toString(16).padStart(64, '0');
}

function describeIndex(e: Engine): string {
  const r = e.metaIndex.report;
  switch (r.action) {
    case 'rebuilt': return `index rebuilt from the disks in ${r.ms} ms: ${r.reason}`;
    case 'caught-up': return `index caught up with ${r.replayed} journal record(s)`;
    case 'adopted': return 'index adopted and checkpointed onto the disks';
    case 'new': return 'new';
    default: return 'index checked against the disks';
  }
}

/** What the banner shows for the secret key, and why (see `print_secret` in the README). */
function shownSecret(c: Config): { value: string; hidden: boolean } {
  // The start that generated the pair is the only time anyone can learn it without reading
  // the credentials file, so it is shown then even with print_secret off.
  if (c.printSecret || c.credentials.generated) return { value: c.credentials.secretAccessKey, hidden: false };
  return { value: '<secret key>', hidden: true };
}

function describeReserve(r: Config['diskReserve']): string {
  const off = 'percent' in r ? r.percent === 0 : r.bytes === 0;
  if (off) return 'off (disk_reserve 0: a full disk fails the write that fills it)';
  return `${'percent' in r ? `${r.percent}%` : `${r.bytes} bytes`} of each disk's filesystem kept free (writes beyond it: 507 XTesseraStorageFull)`;
}

export function banner(s: Started): string {
  const c = s.config;
  const secret = shownSecret(c);
  const lines = [
    'Tessera S3 server',
    `  endpoint:    ${s.http.url}${s.http.secure ? ' (HTTPS, TLS 1.2+)' : ''}`,
  ];
  if (s.http.httpUrl) lines.push(`  plain HTTP:  ${s.http.httpUrl} (unencrypted: keep it on a trusted network)`);
  if (c.tls && s.http.certificate) lines.push(`  certificate: ${c.tls.certFile} (${describeCertificate(s.http.certificate)}; reloaded on SIGHUP)`);
  lines.push(
    `  region:      ${c.region}`,
    `  disks:       ${c.disks.join(', ')}`,
    `  metadata:    ${c.metaDir} (${describeIndex(s.engine)})`,
    `  erasure:     ${c.dataShards} data + ${c.parity} parity shards (survives ${c.parity} lost disk${c.parity === 1 ? '' : 's'})`,
    ...(c.diskReserve ? [`  reserve:     ${describeReserve(c.diskReserve)}`] : []),
    `  encryption:  ${c.sse?.masterKeyFile !== undefined ? `SSE-S3 available (master key ${c.sse.masterKeyFile})` : 'off (no sse.master_key_file: SSE-S3 refused; SSE-C over HTTPS only)'}`,
    `  access key:  ${c.credentials.accessKeyId}`,
    `  secret key:  ${secret.hidden ? `(hidden: print_secret is off${c.credentials.storedAt ? `; it is in ${c.credentials.storedAt}` : ''})` : secret.value}`,
  );
  if (c.credentials.storedAt) lines.push(`  (generated credentials are kept in ${c.credentials.storedAt})`);
  const clear = plainHttpOnNetwork(c);
  if (clear) lines.push(`  WARNING: plain HTTP on ${clear}: signatures, presigned URLs and data cross the network in clear; set tls.cert and tls.key (see HTTPS in the README)`);
  if (s.engine.replacedDisks.length) lines.push(`  healing onto blank disk(s): ${s.engine.replacedDisks.map((i) => c.disks[i]).join(', ')}`);
  if (s.engine.offlineDisks.length) lines.push(`  OFFLINE disk(s): ${s.engine.offlineDisks.map((i) => c.disks[i]).join(', ')}`);
  const shared = s.findings && sharedDeviceWarning(s.findings.sharedDevices, c.disks.length);
  if (shared) lines.push(`  WARNING: ${shared}`);
  // A private CA is the common case for a self-hosted server: show the flag that makes
  // aws-cli trust it. The server does not know which CA signed its certificate, so it names
  // the file by its role.
  const caBundle = c.tls ? ' --ca-bundle ca.pem' : '';
  lines.push('', '  Use it with aws-cli:');
  if (c.tls) lines.push('    # ca.pem: the CA certificate that signed the server certificate (or the certificate itself if self-signed)');
  lines.push(
    `    export AWS_ACCESS_KEY_ID=${c.credentials.accessKeyId} AWS_SECRET_ACCESS_KEY=${secret.value} AWS_DEFAULT_REGION=${c.region}`,
    `    aws --endpoint-url ${s.http.url}${caBundle} s3 mb s3://my-bucket`,
    `    aws --endpoint-url ${s.http.url}${caBundle} s3 cp ./file s3://my-bucket/`,
  );
  return lines.join('\n');
}

export async function runServer(argv: string[]): Promise<void> {
  const config = await loadConfig({ argv });
  const log = createLogger(config.logLevel);
  // The server must never die on one request's mistake: log, keep serving. (A failed write to
  // a closed stdout/stderr never gets here: ops/log.ts handles it without logging.)
  process.on('unhandledRejection', (e) => log('error', 'unhandled rejection', { error: String((e as Error)?.stack ?? e) }));
  process.on('uncaughtException', (e) => log('error', 'uncaught exception', { error: String(e?.stack ?? e) }));
  const s = await startServer(config, log);
  writeStdio(process.stdout, banner(s) + '\n');
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) {
      // A second signal: stop waiting for requests in flight.
      log('warn', `received ${sig} again: cutting requests in flight now`);
      s.cutNow();
      return;
    }
    stopping = true;
    const t0 = Date.now();
    const timeout = config.shutdownTimeoutSeconds;
    log('info', `${sig.startsWith('SIG') ? `received ${sig}` : sig}: shutting down; no new connections, ${s.inFlight.count} request(s) in flight get up to ${timeout} s to finish`, { signal: sig, inFlight: s.inFlight.count, timeoutSeconds: timeout });
    try {
      await s.shutdown(timeout);
    } catch (e) {
      log('error', `shutdown failed: ${(e as Error).message}`);
      process.exit(1);
    }
    log('info', `shutdown complete in ${Date.now() - t0} ms (metadata store closed)`, { ms: Date.now() - t0 });
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  watchNpmParent((why) => void stop(why));
  // SIGHUP reloads the certificate (after a renewal) without a restart; it never stops the
  // server, which is what it would do without a handler.
  process.on('SIGHUP', () => {
    s.audit?.reopen();
    void reloadCertificate(s);
  });
}

/**
 * `npx tessera server` runs the server under npm (through a shell), and npm 11 exits on
 * SIGTERM without passing the signal on. Started by npm (npm_command is set), the server
 * notes its nearest non-shell ancestor (npm) and stops gracefully when that process is gone,
 * so a SIGTERM to the PID npx gave still stops the server. (`npm start` execs straight into
 * node, which npm does signal; the watch then fires only if npm dies some other way.)
 */
export function watchNpmParent(stop: (why: string) => void): void {
  if (!process.env.npm_command || process.platform !== 'linux') return;
  const npm = npmAncestor();
  if (npm === undefined) return;
  const timer = setInterval(() => {
    try {
      process.kill(npm, 0);
    } catch {
      clearInterval(timer);
      stop(`npm (pid ${npm}), which started this server, has exited`);
    }
  }, 250);
  timer.unref();
}

function npmAncestor(): number | undefined {
  let pid = process.ppid;
  for (let depth = 0; depth < 4 && pid > 1; depth++) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!['sh', 'dash', 'bash', 'zsh'].includes(comm)) return pid;
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** True for addresses only this machine can reach. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** The plain-HTTP address that other machines can reach, if any (the banner warns about it). */
function plainHttpOnNetwork(c: Config): string | undefined {
  const plain = c.tls ? c.httpAddress : c.address;
  if (!plain || isLoopback(plain.host)) return undefined;
  return plain.host.includes(':') ? `[${plain.host}]:${plain.port}` : `${plain.host}:${plain.port}`;
}

/**
 * Warns (does not refuse: a key mounted from a secret store often arrives 0644 inside a
 * container that only this user runs in) when other local users could read the TLS key.
 */
async function warnIfKeyReadable(file: string, log: Logger): Promise<void> {
  try {
    const mode = (await fs.stat(file)).mode & 0o777;
    if ((mode & 0o077) !== 0) log('warn', `the TLS private key ${file} can be read by other users (mode ${mode.toString(8).padStart(3, '0')}); run: chmod 600 ${file}`);
  } catch {
    // It was just read successfully; a stat failing now is not worth a second message.
  }
}

function describeCertificate(info: CertificateInfo): string {
  const names = info.altNames || info.subject;
  return `for ${names}, valid until ${info.validTo.toISOString().slice(0, 10)}`;
}

async function reloadCertificate(s: Started): Promise<void> {
  const files = s.config.tls;
  if (!files) {
    s.log('info', 'received SIGHUP; no TLS certificate is configured, nothing to reload');
    return;
  }
  try {
    await s.http.reloadTls();
    const info = s.http.certificate!;
    s.log('info', `received SIGHUP; TLS certificate reloaded from ${files.certFile} (${describeCertificate(info)})`, { cert: files.certFile, key: files.keyFile });
    const warning = certificateWarning(info);
    if (warning) s.log('warn', warning, { cert: files.certFile });
    await warnIfKeyReadable(files.keyFile, s.log);
  } catch (e) {
    s.log('error', `received SIGHUP; TLS certificate NOT reloaded, the current one stays in use: ${(e as Error).message}`, { cert: files.certFile, key: files.keyFile });
  }
}
