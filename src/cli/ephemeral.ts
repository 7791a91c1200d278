// `tessera server --ephemeral [--port N] [--json]`: a throwaway server for test suites in any
// language. It runs embedded mode's startTessera in this process on a fresh temporary
// directory, prints one JSON line (endpoint, region, accessKeyId, secretAccessKey, dir, pid)
// on stdout, and removes the directory when it stops (SIGTERM, SIGINT, or npx's npm exiting).
//
// Like embedded mode it ignores the configuration file and almost every TESSERA_* variable:
// what runs is a fresh one-disk server on 127.0.0.1. Only TESSERA_ROOT_ACCESS_KEY with
// TESSERA_ROOT_SECRET_KEY (fixed keys for a CI script), TESSERA_REGION and TESSERA_LOG_LEVEL
// are read; without keys a random pair is generated and printed.

import { rmSync } from 'node:fs';
import { ConfigError } from '../config/config.js';
import { parseLogLevel } from '../config/values.js';
import { startTessera, type Tessera } from '../embed/start-tessera.js';
import { writeStdio } from '../ops/log.js';
import { watchNpmParent } from './server.js';

export const EPHEMERAL_USAGE = `usage: tessera server --ephemeral [--port N] [--host H] [--json]

Starts a throwaway server on a fresh temporary directory (one disk, no parity), prints one
JSON line on stdout:
  {"endpoint":"http://127.0.0.1:PORT","region":"us-east-1","accessKeyId":"…","secretAccessKey":"…","dir":"…","pid":N}
and serves until SIGTERM or SIGINT, then removes the directory and exits 0.
  --port N    port to listen on (default 0: any free port; read it from "endpoint")
  --host H    address to listen on (default 127.0.0.1)
  --json      stdout and stderr carry JSON only (without it, a readable summary goes to stderr)
The config file and TESSERA_* variables are ignored, except TESSERA_ROOT_ACCESS_KEY and
TESSERA_ROOT_SECRET_KEY (fixed keys; default: a random pair), TESSERA_REGION and
TESSERA_LOG_LEVEL (default warn).
`;

interface EphemeralArgs {
  port: number;
  host: string;
  json: boolean;
}

function parseArgs(argv: string[]): EphemeralArgs {
  const a: EphemeralArgs = { port: 0, host: '127.0.0.1', json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    const value = () => {
      const v = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (v === undefined || v === '') throw new ConfigError(`${name} needs a value`);
      return v;
    };
    if (arg === '--ephemeral') continue;
    else if (arg === '--json') a.json = true;
    else if (name === '--port') {
      const v = value();
      if (!/^\d+$/.test(v) || Number(v) > 65535) throw new ConfigError(`--port: expected a port number (0-65535), got "${v}"`);
      a.port = Number(v);
    } else if (name === '--host') a.host = value();
    else if (name === '--config') throw new ConfigError('--ephemeral does not read a config file (it always starts fresh); leave out --config');
    else throw new ConfigError(`--ephemeral: unknown option ${arg} (see tessera server --help)`);
  }
  return a;
}

export async function runEphemeral(argv: string[]): Promise<void> {
  const a = parseArgs(argv);
  const env = process.env;
  // As `tessera server`: one request's mistake is reported, never the end of the server.
  const report = (what: string) => (e: unknown) => writeStdio(process.stderr, `${JSON.stringify({ level: 'error', msg: what, error: String((e as Error)?.stack ?? e) })}\n`);
  process.on('unhandledRejection', report('unhandled rejection'));
  process.on('uncaughtException', report('uncaught exception'));
  const t = await startTessera({
    port: a.port,
    host: a.host,
    accessKeyId: env.TESSERA_ROOT_ACCESS_KEY || undefined,
    secretAccessKey: env.TESSERA_ROOT_SECRET_KEY || undefined,
    region: env.TESSERA_REGION || undefined,
    quiet: false,
    logLevel: env.TESSERA_LOG_LEVEL ? parseLogLevel(env.TESSERA_LOG_LEVEL) : 'warn',
  });
  // Whatever ends the process from here on, the temporary directory goes with it.
  process.on('exit', () => rmSync(t.dir, { recursive: true, force: true }));
  const info = { endpoint: t.endpoint, region: t.region, accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey, dir: t.dir, pid: process.pid };
  writeStdio(process.stdout, JSON.stringify(info) + '\n');
  if (!a.json) writeStdio(process.stderr, summary(t));
  let stopping = false;
  const stop = (why: string) => {
    if (stopping) {
      // A second signal: do not wait for requests in flight; 'exit' still removes the directory.
      process.exit(1);
    }
    stopping = true;
    t.close({ graceMs: 2000 }).then(
      () => process.exit(0),
      (e: unknown) => {
        writeStdio(process.stderr, `tessera: stopping (${why}) failed: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  watchNpmParent((why) => stop(why));
}

function summary(t: Tessera): string {
  return [
    'Tessera ephemeral S3 server (data is removed when it stops)',
    `  endpoint:    ${t.endpoint}`,
    `  region:      ${t.region}`,
    `  access key:  ${t.accessKeyId}`,
    `  secret key:  ${t.secretAccessKey}`,
    `  directory:   ${t.dir}`,
    '',
  ].join('\n');
}
