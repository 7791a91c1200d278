// An HTTP server around the Koa app, with sane socket limits.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import { DEFAULTS, type Limits } from '../config/config.js';
import type { Logger } from '../ops/log.js';
import { ConnectionCounter, guardConnections, serverTimeouts } from './connections.js';

export interface RunningServer {
  server: http.Server;
  /** Open connections (shared by every listener of this process). */
  connections: ConnectionCounter;
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface ListenOptions {
  limits?: Limits;
  log?: Logger;
}

export async function listen(app: Koa<any>, host: string, port: number, o: ListenOptions = {}): Promise<RunningServer> {
  const limits = o.limits ?? DEFAULTS.limits;
  const server = http.createServer(serverTimeouts(limits), app.callback());
  // Large uploads may legitimately take long; idle sockets are closed by keepAliveTimeout and
  // the header timeout, stalled bodies by the body idle timeout.
  server.timeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const connections = guardConnections(server, limits, { log: o.log });
  const addr = server.address() as AddressInfo;
  const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    server,
    connections,
    port: addr.port,
    url: `http://${h}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
