// What happens on a connection before (or beside) the Koa app: requests Node's HTTP parser
// refuses, Expect headers, and clients that hang up. Attached to every server that serves the
// app (HTTP and HTTPS alike), so each of them answers malformed input in S3 XML.
//
// - A request the parser cannot accept (header section too large, bad framing, a NUL in a
//   header, a timeout before the headers were complete) gets a minimal S3 XML 400 with a
//   request id, then the connection closes. Nothing is logged above debug and never a stack:
//   any client on the network can send these.
// - Expect: 100-continue: the app runs first (routing, signature, validation), and the 100
//   goes out only when a handler starts reading the body. A request refused on its headers
//   gets its error without the client ever sending the body.
// - Any other Expect value is ignored, as S3 does (Node would answer 417).
// - An HTTP/1.1 request without Host reaches the app, which refuses it in S3 XML.

import http from 'node:http';
import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type Koa from 'koa';
import { S3Error } from '../errors.js';
import type { Logger } from '../ops/log.js';
import { errorXml } from '../s3/xml.js';
import { newRequestId } from './request-id.js';

// An https.Server is an http.Server as far as these events go.
type Server = http.Server | import('node:https').Server;
type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** Errors that only mean the peer went away: routine on any network, logged at debug. */
const HANG_UP_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END', 'ECANCELED']);

/**
 * Request body bytes read and discarded after an early answer, so that closing the connection
 * does not reset it under the answer (app.ts for refused requests; the parser's refusals here).
 * Beyond it the connection is closed at once.
 */
export const DRAIN_LIMIT = 4 * 1024 * 1024;

/** True when `err` says the client closed the connection (or the request was aborted). */
export function isHangUp(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const e = err as NodeJS.ErrnoException;
  if (e.code !== undefined && HANG_UP_CODES.has(e.code)) return true;
  // Node's IncomingMessage reports a client that vanished mid-body as Error('aborted') with code ECONNRESET;
  // some stream layers rewrap it with the message only.
  return e.message === 'aborted' || e.message === 'Premature close' || e.code === 'HPE_INVALID_EOF_STATE';
}

/** `app`: the Koa app, or the request handler already made from it (app.callback()). */
export function attachWireHandlers(server: Server, app: Koa<any> | Handler, log: Logger = () => undefined): void {
  const handle: Handler = typeof app === 'function' ? app : app.callback();
  // Node answers an HTTP/1.1 request without Host with a bare 400 of its own; the app answers
  // it in S3 XML instead (app.ts).
  (server as { requireHostHeader?: boolean }).requireHostHeader = false;

  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    continueOnFirstRead(req, res);
    handle(req, res);
  });
  // Node answers 417 to any Expect but 100-continue; S3 ignores such a header.
  server.on('checkExpectation', (req: http.IncomingMessage, res: http.ServerResponse) => handle(req, res));

  // Sockets answered below, with their byte count then: Node's parser reports the same error
  // again for every later chunk of the refused request (a body still on its way).
  const answered = new WeakMap<Duplex, number>();
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const at = answered.get(socket);
    if (at !== undefined) {
      // Those chunks are discarded while the answer goes out: closing under unread bytes
      // would reset the connection, and the client could lose the answer. A body past the
      // limit is not worth that.
      if ((socket as Socket).bytesRead - at > DRAIN_LIMIT) socket.destroy();
      return;
    }
    const code = err.code ?? '';
    // https.Server hands failed TLS handshakes (timeouts, TLS 1.1, plain HTTP on the HTTPS
    // port) to 'clientError' too; there is no TLS session to answer through, so close now.
    // Except plain HTTP on the HTTPS port: that client reads plain HTTP, so it gets a plain
    // 400 saying what went wrong (curl and browsers show it) instead of an empty reply.
    if (code === 'ERR_SSL_HTTP_REQUEST' && answerPlainHttp(socket)) {
      log('debug', 'plain HTTP request on the HTTPS port refused', { code });
      return;
    }
    if (/^ERR_(SSL|TLS)_/.test(code)) {
      log('debug', 'TLS handshake failed', { code });
      socket.destroy();
      return;
    }
    const busy = (socket as Duplex & { _httpMessage?: http.ServerResponse })._httpMessage;
    // A peer that is gone, or a response already under way on this connection: nothing to say.
    // Nor after a TLS failure (a handshake that timed out or spoke another protocol): there is
    // no secure channel to answer on, and a reply queued on it would keep the socket open.
    if (isHangUp(err) || !socket.writable || busy?.headersSent || /^ERR_(TLS|SSL)_/.test(code)) {
      log('debug', 'client connection closed', { code });
      socket.destroy();
      return;
    }
    const e = wireError(code, server, (err as { rawPacket?: Buffer }).rawPacket);
    log('debug', 'malformed request refused', { code, status: e.status, s3Code: e.code });
    answered.set(socket, (socket as Socket).bytesRead);
    endWith(socket, errorReply(e));
  });
}

/** A whole S3 XML error reply with `Connection: close`, written without the HTTP machinery. */
function errorReply(e: S3Error): Buffer {
  const { requestId, hostId } = newRequestId();
  const body = Buffer.from(errorXml(e, '', requestId, hostId), 'utf8');
  const head =
    `HTTP/1.1 ${e.status} ${http.STATUS_CODES[e.status] ?? 'Bad Request'}\r\n` +
    `Content-Type: application/xml\r\n` +
    `Content-Length: ${body.length}\r\n` +
    `x-amz-request-id: ${requestId}\r\n` +
    `x-amz-id-2: ${hostId}\r\n` +
    `Server: Tessera\r\n` +
    `Connection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

function endWith(socket: Duplex, reply: Buffer): void {
  socket.end(reply);
  // end() flushes then closes; a peer that never reads must not keep the socket open.
  setTimeout(() => socket.destroy(), 5_000).unref();
}

/**
 * Answers a plain-HTTP request that arrived on the HTTPS port, in plain text on the TCP socket
 * under the failed TLS socket (`_parent`: Node's TLSSocket keeps the socket it wraps there, on
 * Node 20, 22 and 24 alike). Returns false when that socket is not at hand or not writable; the
 * caller then just closes, as for any failed handshake.
 */
function answerPlainHttp(tlsSocket: Duplex): boolean {
  const raw = (tlsSocket as Duplex & { _parent?: unknown })._parent;
  if (!(raw instanceof net.Socket) || !raw.writable || raw.destroyed) return false;
  endWith(raw, errorReply(new S3Error('BadRequest', 'The plain HTTP request was sent to the HTTPS port: this endpoint is https://.')));
  return true;
}

/** The S3 error for a request Node's parser refused, by llhttp / Node error code. */
function wireError(code: string, server: Server, raw: Buffer | undefined): S3Error {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new S3Error('RequestHeaderSectionTooLarge', 'Your request header section exceeds the maximum allowed size.', {
        MaxSizeAllowed: String((server as Server & { maxHeaderSize?: number }).maxHeaderSize ?? http.maxHeaderSize),
      });
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'HPE_HEADERS_TIMEOUT':
      return new S3Error('RequestTimeout', 'Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.');
    case 'HPE_INVALID_CONTENT_LENGTH':
      // A length too large for the parser's 64 bits is a proposed upload far beyond 5 TiB.
      if (raw && /\r\ncontent-length[ \t]*:[ \t]*\d{17,}[ \t]*\r\n/i.test(raw.toString('latin1'))) {
        return new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');
      }
      return new S3Error('BadRequest', 'The Content-Length header of the request is not valid.');
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return new S3Error('BadRequest', 'The Content-Length header of the request is not valid.');
    default:
      return new S3Error('BadRequest', 'An error occurred when parsing the HTTP request.');
  }
}

/**
 * Sends "100 Continue" when the app first reads the body, not before: until then the client
 * holds the body back, so a request refused on its headers costs no upload. After the final
 * response has started, it is never sent (Node drains or closes the connection instead).
 */
function continueOnFirstRead(req: http.IncomingMessage, res: http.ServerResponse): void {
  const r = req as unknown as { _read(n: number): void };
  const read = r._read;
  r._read = function readAfterContinue(this: unknown, n: number): void {
    r._read = read;
    if (!res.headersSent && !res.writableEnded && !res.destroyed) res.writeContinue();
    read.call(this, n);
  };
}
