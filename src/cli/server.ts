// `tessera server`: load the configuration, open the storage engine, serve S3.

import { loadConfig, type Config } from '../config/config.js';
import { Identities } from '../auth/identities.js';
import { createApp } from '../http/app.js';
import { listen, type RunningServer } from '../http/server.js';
import { openEngine, type Engine } from '../object/engine.js';
import { createLogger, type Logger } from '../ops/log.js';
import path from 'node:path';

export interface Started {
  config: Config;
  engine: Engine;
  http: RunningServer;
  log: Logger;
  stop(): Promise<void>;
}

/** Starts a server from an already loaded configuration (tests use this directly). */
export async function startServer(config: Config, log: Logger = createLogger(config.logLevel)): Promise<Started> {
  const engine = await openEngine({
    disks: config.disks,
    metaDir: path.join(config.metaDir, 'leveldb'),
    parity: config.parity,
    blockSize: config.blockSize,
    inlineThreshold: config.inlineThreshold,
    scannerBytesPerSecond: config.scannerBytesPerSecond,
    multipartExpirySeconds: config.multipartExpirySeconds,
    log: (msg) => log('info', msg),
  });
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
  const app = createApp({
    store: engine.store,
    region: config.region,
    domains: config.domains,
    identities,
    owner: { id: ownerId(creds.accessKeyId), displayName: 'tessera' },
    log,
    limits: config.limits,
  });
  let http: RunningServer;
  try {
    http = await listen(app, config.address.host, config.address.port, { limits: config.limits, log });
  } catch (e) {
    await engine.close();
    throw e;
  }
  return {
    config,
    engine,
    http,
    log,
    async stop() {
      await http.close();
      await engine.close();
    },
  };
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

export function banner(s: Started): string {
  const c = s.config;
  const lines = [
    'Tessera S3 server',
    `  endpoint:    ${s.http.url}`,
    `  region:      ${c.region}`,
    `  disks:       ${c.disks.join(', ')}`,
    `  metadata:    ${c.metaDir} (${describeIndex(s.engine)})`,
    `  erasure:     ${c.dataShards} data + ${c.parity} parity shards (survives ${c.parity} lost disk${c.parity === 1 ? '' : 's'})`,
    `  access key:  ${c.credentials.accessKeyId}`,
    `  secret key:  ${c.credentials.secretAccessKey}`,
  ];
  if (c.credentials.storedAt) lines.push(`  (generated credentials are kept in ${c.credentials.storedAt})`);
  if (s.engine.replacedDisks.length) lines.push(`  healing onto blank disk(s): ${s.engine.replacedDisks.map((i) => c.disks[i]).join(', ')}`);
  if (s.engine.offlineDisks.length) lines.push(`  OFFLINE disk(s): ${s.engine.offlineDisks.map((i) => c.disks[i]).join(', ')}`);
  lines.push(
    '',
    '  Use it with aws-cli:',
    `    export AWS_ACCESS_KEY_ID=${c.credentials.accessKeyId} AWS_SECRET_ACCESS_KEY=${c.credentials.secretAccessKey} AWS_DEFAULT_REGION=${c.region}`,
    `    aws --endpoint-url ${s.http.url} s3 mb s3://my-bucket`,
    `    aws --endpoint-url ${s.http.url} s3 cp ./file s3://my-bucket/`,
  );
  return lines.join('\n');
}

export async function runServer(argv: string[]): Promise<void> {
  const config = await loadConfig({ argv });
  const s = await startServer(config);
  process.stdout.write(banner(s) + '\n');
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    s.log('info', `received ${sig}, shutting down`);
    await s.stop();
    process.exit(0);
  };
  // The server must never die on one request's mistake: log, keep serving.
  process.on('unhandledRejection', (e) => s.log('error', 'unhandled rejection', { error: String((e as Error)?.stack ?? e) }));
  process.on('uncaughtException', (e) => s.log('error', 'uncaught exception', { error: String(e?.stack ?? e) }));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
