// The listening sockets around the Koa app: plain HTTP, or HTTPS (TLS 1.2 and newer) with an
// optional plain-HTTP listener beside it. Every server is made by `makeServer`, so whatever
// must hold for each listening socket (timeouts, connection guards, wire handlers) is added
// there once.

import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { promises as fs } from 'node:fs';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { Limits } from '../config/config.js';
import type { Logger } from '../ops/log.js';
import { ConnectionCounter, guardConnections, reportAcceptErrors, serverTimeouts } from './connections.js';
import { attachWireHandlers } from './wire.js';

export type AnyServer = http.Server | https.Server;

export interface ListenOptions {
  host: string;
  port: number;
  /** PEM files; with them, host:port serves HTTPS. */
  tls?: { certFile: string; keyFile: string };
  /** A plain-HTTP listener beside the HTTPS one (ignored without `tls`). */
  httpAddress?: { host: string; port: number };
  /** Seconds an idle keep-alive connection is held between requests. */
  keepAliveTimeoutSeconds?: number;
  /** Seconds a client may take to send the request line and headers. */
  headerTimeoutSeconds?: number;
  /** Connection caps (max_connections, max_connections_per_ip); 0 or absent: the default cap. */
  limits?: Pick<Limits, 'maxConnections' | 'maxConnectionsPerIp'>;
  /** For what happens below the app (malformed requests, hang-ups): logged at debug. */
  log?: Logger;
}

export interface RunningServer {
  /** The main server (HTTPS when TLS is configured). */
  server: AnyServer;
  /** Every listening server: the main one first, then the plain-HTTP one if any. */
  servers: AnyServer[];
  /** Open connections, counted over every listener (they share one global cap). */
  connections: ConnectionCounter;
  /** The main endpoint: https://… with TLS, else http://… */
  url: string;
  port: number;
  secure: boolean;
  /** The certificate in use (updated by reloadTls), when TLS is on. */
  certificate?: CertificateInfo;
  /** The plain-HTTP listener beside HTTPS, when `httpAddress` is set. */
  httpUrl?: string;
  httpPort?: number;
  /**
   * Reads the certificate and key files again and uses them for new TLS handshakes. Open
   * connections keep the session they have. A pair that cannot be used is refused (the promise
   * rejects with TlsSetupError) and the current one stays. Without TLS it does nothing.
   */
  reloadTls(): Promise<void>;
  close(): Promise<void>;
}

/** The certificate or key cannot be read or used; the message names the files and the reason. */
export class TlsSetupError extends Error {}

/**
 * TLS 1.0 and 1.1 are broken enough that no current client needs them (S3 itself requires
 * 1.2 since 2024); refusing them is what "TLS 1.2+" means.
 */
const MIN_TLS_VERSION = 'TLSv1.2' as const;

/** Without a configured value: long enough for slow clients on a LAN, short enough to free sockets. */
const DEFAULT_KEEP_ALIVE_SECONDS = 65;
const DEFAULT_HEADER_TIMEOUT_SECONDS = 60;

/** What an operator wants to see of the server certificate: who it is for and until when. */
export interface CertificateInfo {
  subject: string;
  /** The subjectAltName entries ("DNS:s3.example.lan, IP Address:192.0.2.10"), or '' when it has none. */
  altNames: string;
  validFrom: Date;
  validTo: Date;
}

interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  info: CertificateInfo;
}

/**
 * A line to log about the certificate's validity period, or undefined when it is fine. An
 * expired certificate is still served (refusing to start would not help the clients either),
 * but every start and reload says so.
 */
export function certificateWarning(info: CertificateInfo, now = new Date(), soonDays = 14): string | undefined {
  const day = 24 * 60 * 60 * 1000;
  if (info.validTo.getTime() <= now.getTime()) return `the TLS certificate EXPIRED on ${info.validTo.toISOString()}; clients will refuse it`;
  if (info.validFrom.getTime() > now.getTime()) return `the TLS certificate is not valid before ${info.validFrom.toISOString()}; clients will refuse it until then`;
  const left = Math.floor((info.validTo.getTime() - now.getTime()) / day);
  if (left < soonDays) return `the TLS certificate expires in ${left} day${left === 1 ? '' : 's'} (${info.validTo.toISOString()}); renew it and send SIGHUP`;
  return undefined;
}

/**
 * Reads and checks a certificate/key pair. createSecureContext parses both and fails when the
 * key does not belong to the certificate, so a bad pair is caught here, never in a handshake.
 */
export async function loadTlsMaterial(files: { certFile: string; keyFile: string }): Promise<TlsMaterial> {
  const read = async (file: string, what: string): Promise<Buffer> => {
    try {
      return await fs.readFile(file);
    } catch (e) {
      throw new TlsSetupError(`cannot read the TLS ${what} ${file}: ${(e as Error).message}`);
    }
  };
  const cert = await read(files.certFile, 'certificate');
  const key = await read(files.keyFile, 'private key');
  let info: CertificateInfo;
  try {
    tls.createSecureContext({ cert, key, minVersion: MIN_TLS_VERSION });
    // The first certificate of the chain is the server's own.
    const x = new X509Certificate(cert);
    info = { subject: x.subject.replace(/\n/g, ', '), altNames: x.subjectAltName ?? '', validFrom: new Date(x.validFrom), validTo: new Date(x.validTo) };
  } catch (e) {
    throw new TlsSetupError(`the TLS certificate ${files.certFile} and key ${files.keyFile} cannot be used: ${describeTlsError(e)}`);
  }
  return { cert, key, info };
}

/** OpenSSL's messages are terse ("error:0480006C:PEM routines::no start line"); add what it means. */
function describeTlsError(e: unknown): string {
  const msg = (e as Error).message ?? String(e);
  if (/no start line/i.test(msg)) return `${msg} (not a PEM file, or a PEM file of another kind)`;
  if (/key values mismatch/i.test(msg)) return `${msg} (the private key does not belong to the certificate)`;
  return msg;
}

export async function listen(app: Koa<any>, opts: ListenOptions): Promise<RunningServer> {
  const handler = app.callback();
  let material = opts.tls ? await loadTlsMaterial(opts.tls) : undefined;
  const connections = new ConnectionCounter(opts.limits ?? { maxConnections: 0, maxConnectionsPerIp: 0 }, opts.log);
  const main = makeServer(handler, opts, material, connections);
  const servers: AnyServer[] = [main];
  if (material && opts.httpAddress) servers.push(makeServer(handler, opts, undefined, connections));

  const addresses: AddressInfo[] = [];
  try {
    addresses.push(await bind(main, opts.host, opts.port));
    if (servers[1]) addresses.push(await bind(servers[1], opts.httpAddress!.host, opts.httpAddress!.port));
  } catch (e) {
    await closeAll(servers);
    throw e;
  }
  for (const s of servers) reportAcceptErrors(s, opts.log);

  const running: RunningServer = {
    server: main,
    servers,
    connections,
    url: urlOf(material ? 'https' : 'http', addresses[0]!),
    port: addresses[0]!.port,
    secure: material !== undefined,
    async reloadTls() {
      if (!opts.tls || !material) return;
      const next = await loadTlsMaterial(opts.tls);
      // Only new handshakes use the new context; established connections are left alone.
      (main as https.Server).setSecureContext({ cert: next.cert, key: next.key, minVersion: MIN_TLS_VERSION });
      material = next;
      running.certificate = next.info;
    },
    close: () => closeAll(servers),
  };
  if (material) running.certificate = material.info;
  if (addresses[1]) {
    running.httpUrl = urlOf('http', addresses[1]);
    running.httpPort = addresses[1].port;
  }
  return running;
}

/** The one place a listening server is made: HTTPS when `material` is given, else plain HTTP. */
function makeServer(handler: http.RequestListener, opts: ListenOptions, material: TlsMaterial | undefined, connections: ConnectionCounter): AnyServer {
  // Large uploads may legitimately take long: no limit on a whole request (connections.ts).
  const timeouts = serverTimeouts({
    keepAliveTimeoutSeconds: opts.keepAliveTimeoutSeconds ?? DEFAULT_KEEP_ALIVE_SECONDS,
    headerTimeoutSeconds: opts.headerTimeoutSeconds ?? DEFAULT_HEADER_TIMEOUT_SECONDS,
  });
  const server: AnyServer = material
    ? https.createServer({
        ...timeouts,
        cert: material.cert,
        key: material.key,
        minVersion: MIN_TLS_VERSION,
        // The header timeout's clock only starts once the handshake is done; without this, a
        // socket that never sends a ClientHello would be held for Node's default 120 s.
        handshakeTimeout: timeouts.headersTimeout,
      }, handler)
    : http.createServer(timeouts, handler);
  // Malformed requests, Expect headers and hang-ups answered in S3's terms (wire.ts).
  attachWireHandlers(server, handler, opts.log);
  // Connection caps, shared by every listener; TLS sockets over the cap never get a handshake.
  guardConnections(server, connections, material !== undefined);
  server.timeout = 0;
  return server;
}

function bind(server: AnyServer, host: string, port: number): Promise<AddressInfo> {
  return new Promise<AddressInfo>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

function urlOf(scheme: 'http' | 'https', addr: AddressInfo): string {
  const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `${scheme}://${h}:${addr.port}`;
}

async function closeAll(servers: AnyServer[]): Promise<void> {
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          if (!server.listening) return resolve();
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    ),
  );
}
