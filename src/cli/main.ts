#!/usr/bin/env node
// The `tessera` command: `tessera server [--config PATH]`, `tessera bench …`, `tessera admin …`.

import { CONFIG_EXIT_CODE, ConfigError, formatConfigError } from '../config/config.js';
import { DiskSetError } from '../disk/disk-set.js';
import { MetaIndexError } from '../object/meta-errors.js';
import { TlsSetupError } from '../http/server.js';
import { runServer } from './server.js';
import { MetaInUseError } from '../meta/in-use.js';
import { guardStdio } from '../ops/log.js';
import { VERSION } from '../version.js';

// First of all: a closed stdout/stderr must never turn into an exception loop (ops/log.ts).
guardStdio();

const USAGE = `usage: tessera <command> [options]

commands:
  server [--config PATH]   serve S3 (configuration: --config, TESSERA_CONFIG, TESSERA_* variables)
  server --ephemeral [--port N] [--json]
                           a throwaway server on a temporary directory for test suites: prints
                           one JSON line (endpoint, keys), removes its data on SIGTERM/SIGINT
  bench  --endpoint URL --access-key K --secret-key S --op put|get|list [--size N] [--concurrency N] [--duration S]
  bench memory [--json]    server RSS through a listing burst and concurrent uploads (own server)
  bench embed [--json]     embedded mode: cold start to first acknowledged PUT and reset() time,
                           beside s3rver's
  --version                print the version
  (every command takes --help)
  admin meta verify|rebuild [--config PATH] [--json]
                           check or rebuild the metadata index against the disks (server stopped)
  admin [--endpoint URL] user|key|policy …
                           manage users, access keys and policies of a running server
                           (tessera admin --help for the commands)
  admin [--endpoint URL] info | heal … | scan …
                           server state (disks, space, layout, usage); heal or verify every shard
                           as a server-side job with progress (scan exits 3 when damage is found)
  watch s3://BUCKET[/PREFIX] [--events put,delete] [--json]
                           print a bucket's changes as they happen (live event stream;
                           endpoint and credentials as for admin)
`;

const SERVER_USAGE = `usage: tessera server [--config PATH]
       tessera server --ephemeral [--port N] [--host H] [--json]

Serves S3 (and the admin API) until SIGTERM or SIGINT, which stop it gracefully: no new
connections, requests in flight get shutdown_timeout seconds (default 30) to finish, then the
metadata store is closed and the process exits 0. SIGHUP reloads the TLS certificate and
reopens the audit log.

Configuration, each layer overriding the one before: built-in defaults, the YAML file named by
--config or TESSERA_CONFIG, then TESSERA_* environment variables (config.example.yaml lists
every setting with its variable).

--ephemeral starts a throwaway server for test suites instead (tessera server --ephemeral
--help): a fresh temporary directory, one JSON line with the endpoint and keys on stdout, the
directory removed on exit.
`;

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'server':
      if (rest.includes('--ephemeral')) {
        const { EPHEMERAL_USAGE, runEphemeral } = await import('./ephemeral.js');
        if (rest.includes('--help') || rest.includes('-h')) {
          process.stdout.write(EPHEMERAL_USAGE);
          return;
        }
        return runEphemeral(rest);
      }
      if (rest.includes('--help') || rest.includes('-h')) {
        process.stdout.write(SERVER_USAGE);
        return;
      }
      return runServer(rest);
    case '--version':
    case '-v':
    case 'version':
      process.stdout.write(`tessera ${VERSION}\n`);
      return;
    case 'admin': {
      const { runAdmin } = await import('./admin.js');
      return runAdmin(rest);
    }
    case 'watch': {
      const { runWatch } = await import('./watch.js');
      const { CliError } = await import('./admin-remote.js');
      try {
        process.exitCode = await runWatch(rest);
      } catch (e) {
        if (!(e instanceof CliError)) throw e;
        process.stderr.write(`tessera watch: ${e.message}\n`);
        process.exitCode = 1;
      }
      return;
    }
    case 'bench': {
      const { runBench } = await import('./bench.js');
      return runBench(rest);
    }
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`tessera: unknown command "${cmd}"\n${USAGE}`);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof ConfigError) {
    process.stderr.write(formatConfigError(e) + '\n');
    process.exit(CONFIG_EXIT_CODE);
  }
  if (e instanceof DiskSetError) {
    process.stderr.write(`tessera: disks: ${e.message}\n`);
    process.exit(CONFIG_EXIT_CODE);
  }
  if (e instanceof MetaInUseError) {
    process.stderr.write(`tessera: ${e.message}\n`);
    process.exit(CONFIG_EXIT_CODE);
  }
  if (e instanceof MetaIndexError) {
    process.stderr.write(`tessera: metadata: ${e.message}\n`);
    process.exit(CONFIG_EXIT_CODE);
  }
  if (e instanceof TlsSetupError) {
    process.stderr.write(`tessera: tls: ${e.message}\n`);
    process.exit(CONFIG_EXIT_CODE);
  }
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'EADDRINUSE' || err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL') {
    process.stderr.write(`tessera: cannot listen: ${err.message}\n`);
    process.exit(CONFIG_EXIT_CODE);
  }
  process.stderr.write(`tessera: ${err.stack ?? String(e)}\n`);
  process.exit(1);
});
