// Connection-level overload protection for each listening server: timeouts that free idle
// sockets, and caps on how many connections are open at once (in all, and per client address).
//
// Every open socket is a file descriptor. Without a cap, a client that opens sockets and sends
// nothing exhausts the process's descriptors, and then nothing else can open a file: shard
// reads, journal appends, even the disk monitor's format check. So connections above the cap
// are answered at once with a minimal 503 SlowDown and closed (TLS ones are dropped before the
// handshake, which costs nothing), and the cap by default sits well below the descriptor limit.

import fs from 'node:fs';
import type { Server } from 'node:net';
import type { Socket } from 'node:net';
import type { Limits } from '../config/config.js';
import { slowDown } from '../errors.js';
import type { Logger } from '../ops/log.js';
import { errorXml } from '../s3/xml.js';
import { isResourceError } from '../util/process-errors.js';
import { newRequestId } from './request-id.js';

type TimeoutLimits = Pick<Limits, 'headerTimeoutSeconds' | 'keepAliveTimeoutSeconds'>;

/** Options for http(s).createServer from the configured limits. */
export function serverTimeouts(limits: TimeoutLimits): {
  headersTimeout: number;
  keepAliveTimeout: number;
  requestTimeout: number;
  connectionsCheckingInterval: number;
} {
  const headersTimeout = limits.headerTimeoutSeconds * 1000;
  return {
    // A client gets this long from connecting (or from its previous reply) to the end of its
    // request headers; a socket that sends nothing is closed after it too. (Over TLS the
    // handshake gets the same time: Node's default would hold a silent socket for 120 s.)
    headersTimeout,
    keepAliveTimeout: limits.keepAliveTimeoutSeconds * 1000,
    // No limit on a whole request: a large upload may take hours. A stalled body is caught by
    // the body idle timeout (body-guard.ts) instead.
    requestTimeout: 0,
    // Node checks the header timeout on this period (30 s by default, which would let an idle
    // socket live up to 30 s past its timeout).
    connectionsCheckingInterval: Math.min(1000, headersTimeout),
  };
}

/** The soft limit on open files of this process (Linux), or undefined where it cannot be read. */
function fileDescriptorLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\S+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    if (!m) return undefined;
    return m[1] === 'unlimited' ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** Used when the descriptor limit cannot be read (not Linux): systemd's default soft limit. */
const FALLBACK_FD_LIMIT = 1024;

/**
 * The global cap in force: the configured one, or half the descriptor limit, so the other
 * half stays for shard files, the journal, LevelDB and the sockets being refused.
 */
export function effectiveMaxConnections(maxConnections: number, fdLimit = fileDescriptorLimit()): number {
  if (maxConnections > 0) return maxConnections;
  return Math.max(16, Math.floor((fdLimit ?? FALLBACK_FD_LIMIT) / 2));
}

/** How long a refused plain-HTTP socket may stay to receive its 503 before it is destroyed. */
const REFUSED_LINGER_MS = 250;
/** Refusals are logged at most once per this period (a flood must not flood the log too). */
const LOG_EVERY_MS = 5000;


/** Open connections in all and per client address, shared by every guarded server. */
export class ConnectionCounter {
  open = 0;
  readonly perIp = new Map<string, number>();
  /** Connections refused since the last log line. */
  refused = 0;
  /** Connections refused since start (metrics). */
  refusedTotal = 0;
  private lastLog = 0;
  readonly max: number;
  readonly maxPerIp: number;

  constructor(limits: Pick<Limits, 'maxConnections' | 'maxConnectionsPerIp'>, private readonly log: Logger = () => undefined) {
    this.max = effectiveMaxConnections(limits.maxConnections);
    this.maxPerIp = limits.maxConnectionsPerIp;
  }

  /** Counts a new connection in, or returns why it is refused. */
  admit(ip: string): 'ok' | 'total' | 'ip' {
    if (this.open >= this.max) return this.refuse('total', ip);
    const n = this.perIp.get(ip) ?? 0;
    if (this.maxPerIp > 0 && n >= this.maxPerIp) return this.refuse('ip', ip);
    this.open++;
    this.perIp.set(ip, n + 1);
    return 'ok';
  }

  release(ip: string): void {
    this.open--;
    const n = (this.perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, n);
  }

  private refuse(why: 'total' | 'ip', ip: string): 'total' | 'ip' {
    this.refused++;
    this.refusedTotal++;
    const now = Date.now();
    if (now - this.lastLog >= LOG_EVERY_MS) {
      this.lastLog = now;
      const limit = why === 'total' ? `the connection limit (${this.max})` : `the per-address connection limit (${this.maxPerIp}) for ${ip}`;
      this.log('warn', `refusing connections: ${limit} is reached`, { open: this.open, refused: this.refused });
      this.refused = 0;
    }
    return why;
  }
}

/** Client address as one key per host (IPv4-mapped IPv6 and plain IPv4 are the same client). */
function clientAddress(socket: Socket): string {
  const a = socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** The whole reply to a refused plain-HTTP connection, written before any request is read. */
function refusalBytes(): Buffer {
  const { requestId, hostId } = newRequestId();
  const body = errorXml(slowDown('Too many connections; please retry.'), '', requestId, hostId);
  const head = [
    'HTTP/1.1 503 Service Unavailable',
    'Content-Type: application/xml',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Retry-After: 1',
    'Connection: close',
    'Server: Tessera',
    `x-amz-request-id: ${requestId}`,
    `x-amz-id-2: ${hostId}`,
  ];
  return Buffer.from(head.join('\r\n') + '\r\n\r\n' + body, 'utf8');
}

/**
 * Puts the connection caps in front of a listening server (http.Server or https.Server): the
 * server's own 'connection' handling (HTTP parser, TLS handshake) only runs for admitted
 * sockets. One counter is shared by every listener (HTTPS and plain HTTP), so they obey one
 * global cap. On a TLS server (`tls`), refused sockets are dropped before the handshake.
 */
export function guardConnections(server: Server, counter: ConnectionCounter, tls: boolean): void {
  const inner = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    const ip = clientAddress(socket);
    if (counter.admit(ip) !== 'ok') {
      socket.on('error', () => undefined);
      if (tls) {
        socket.destroy();
        return;
      }
      // Read and drop whatever the client sends, so closing does not reset the connection
      // before the client has read the 503.
      socket.resume();
      socket.end(refusalBytes());
      setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
      return;
    }
    socket.once('close', () => counter.release(ip));
    for (const l of inner) l.call(server, socket);
  });
}

/**
 * Logs a listening server's errors instead of letting them escape (call it once the server
 * listens, so that a failed listen rejects its caller alone). accept() itself can fail with
 * EMFILE when descriptors run out despite the cap (other files open): an overload to report,
 * never a reason to stop listening or crash.
 */
export function reportAcceptErrors(server: Server, log: Logger = () => undefined): void {
  let lastLog = 0;
  server.on('error', (e: Error) => {
    if (isResourceError(e)) {
      const now = Date.now();
      if (now - lastLog < LOG_EVERY_MS) return;
      lastLog = now;
      log('warn', 'cannot accept connections: the process is out of file descriptors', { error: e.message });
      return;
    }
    log('error', 'server error', { error: e.message });
  });
}
