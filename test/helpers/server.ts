// Starts a real Tessera server for a test: temp disk directories, a temp metadata dir, real
// LevelDB, real HTTP on 127.0.0.1 port 0. Returns clients' settings and a stop function.

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config/config.js';
import { startServer, type Started } from '../../src/cli/server.js';
import type { Logger } from '../../src/ops/log.js';
import { makeCa, makeServerCert } from './tls.js';

export interface TestServer {
  started: Started;
  config: Config;
  endpoint: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  root: string;
  disks: string[];
  /** With `tls`: the CA certificate (PEM) clients must trust, and its file. */
  ca?: Buffer;
  caFile?: string;
  /** With `tls` and `plainHttp`: the plain-HTTP listener beside HTTPS. */
  httpEndpoint?: string;
  stop(): Promise<void>;
  /** Stops and deletes the temp directories. */
  destroy(): Promise<void>;
}

export interface TestServerOptions {
  disks?: number;
  parity?: number;
  env?: Record<string, string>;
  root?: string;
  /** Receives the server's log lines (none are kept otherwise). */
  log?: Logger;
  /** Serve HTTPS with a certificate for 127.0.0.1 signed by a test CA (made with openssl). */
  tls?: boolean;
  /** With `tls`, also a plain-HTTP listener on another free port. */
  plainHttp?: boolean;
}

export const TEST_ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';
export const TEST_SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

export async function startTestServer(o: TestServerOptions = {}): Promise<TestServer> {
  const root = o.root ?? (await mkdtemp(path.join(os.tmpdir(), 'tessera-test-')));
  const n = o.disks ?? 4;
  const disks = Array.from({ length: n }, (_, i) => path.join(root, `disk${i + 1}`));
  const tlsEnv: Record<string, string> = {};
  let ca: Awaited<ReturnType<typeof makeCa>> | undefined;
  if (o.tls) {
    const dir = path.join(root, 'tls');
    await mkdir(dir, { recursive: true });
    ca = await makeCa(dir);
    const cert = await makeServerCert(ca, 'server');
    tlsEnv.TESSERA_TLS_CERT = cert.certFile;
    tlsEnv.TESSERA_TLS_KEY = cert.keyFile;
    if (o.plainHttp) tlsEnv.TESSERA_HTTP_ADDRESS = '127.0.0.1:0';
  }
  const config = await loadConfig({
    argv: [],
    cwd: root,
    env: {
      TESSERA_ADDRESS: '127.0.0.1:0',
      TESSERA_DISKS: disks.join(','),
      TESSERA_PARITY: String(o.parity ?? Math.floor(n / 2)),
      TESSERA_ROOT_ACCESS_KEY: TEST_ACCESS_KEY,
      TESSERA_ROOT_SECRET_KEY: TEST_SECRET_KEY,
      TESSERA_LOG_LEVEL: 'error',
      TESSERA_SCANNER_BYTES_PER_SECOND: '0',
      ...tlsEnv,
      ...o.env,
    },
  });
  const started = await startServer(config, o.log ?? (() => undefined));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await started.stop();
  };
  return {
    started,
    config,
    endpoint: started.http.url,
    port: started.http.port,
    accessKeyId: TEST_ACCESS_KEY,
    secretAccessKey: TEST_SECRET_KEY,
    region: config.region,
    root,
    disks,
    ...(ca ? { ca: ca.ca, caFile: ca.caFile } : {}),
    ...(started.http.httpUrl ? { httpEndpoint: started.http.httpUrl } : {}),
    stop,
    async destroy() {
      await stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
