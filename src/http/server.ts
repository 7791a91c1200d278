// An HTTP server around the Koa app, with sane socket limits.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { Logger } from '../ops/log.js';
import { attachWireHandlers } from './wire.js';

export interface RunningServer {
  server: http.Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function listen(app: Koa<any>, host: string, port: number, log?: Logger): Promise<RunningServer> {
  const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 60_000 }, app.callback());
  // Malformed requests, Expect headers and hang-ups answered in S3's terms (wire.ts).
  attachWireHandlers(server, app, log);
  // Large uploads may legitimately take long; idle sockets are closed by keepAliveTimeout.
  server.timeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    server,
    port: addr.port,
    url: `http://${h}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
