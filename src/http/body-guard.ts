// The body idle timeout: a request whose client stops sending its body is aborted after
// `limits.body_idle_timeout` seconds without a byte, as S3 does (400 RequestTimeout, then the
// connection is closed). Without it, a client that declares 5 GiB and sends a trickle holds a
// socket, buffers and temporary shard files for as long as it likes.
//
// It watches the connection, not a particular stream, because handlers read the body in
// different ways (the payload verifier, the POST form reader, raw XML readers). "Idle" means
// the socket received nothing AND the request stream holds no unread bytes: when the server
// itself is slow to read (back-pressure from the disks), the unread bytes pile up in the
// request stream and the client is not to blame.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { S3Error } from '../errors.js';

export interface BodyGuard {
  /** True once the request was aborted for idleness. */
  readonly timedOut: boolean;
}

/** True when the request announces a body (a length above zero, or chunked encoding). */
export function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  if (cl !== undefined) return cl !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

/**
 * Watches `req` until its body is complete or the reply is done. After `timeoutMs` without a
 * byte, `abort` is called with the RequestTimeout error: it must send the reply (the request
 * stream is destroyed right after it, which fails whatever reads the body, so nothing is
 * committed and temporary files are removed by the reader's own error path).
 */
export function guardBody(req: IncomingMessage, res: ServerResponse, timeoutMs: number, abort: (err: S3Error) => void): BodyGuard {
  const socket = req.socket;
  let seen = socket.bytesRead;
  let lastProgress = Date.now();
  let timedOut = false;
  // A client that asked for `100 Continue` sends nothing until it gets it, and it only goes out
  // once a handler starts reading (http/wire.ts): until then the silence is ours.
  const expectsContinue = /100-continue/i.test(String(req.headers.expect ?? ''));
  const continued = () => (res as { _sent100?: boolean })._sent100 === true || req.readableFlowing !== null;
  const stop = () => {
    clearInterval(timer);
    res.off('close', stop);
    req.off('end', stop);
  };
  // Checked on a coarse period: exactness to the millisecond is not needed, and one timer
  // per request is cheap where resetting a timer on every chunk would not be.
  const timer = setInterval(() => {
    if (req.complete || req.destroyed || res.writableEnded) return stop();
    const now = Date.now();
    const read = socket.bytesRead;
    if (read !== seen || req.readableLength > 0 || (expectsContinue && !continued())) {
      seen = read;
      lastProgress = now;
      return;
    }
    if (now - lastProgress < timeoutMs) return;
    stop();
    timedOut = true;
    const err = new S3Error('RequestTimeout');
    abort(err);
    // Fail the reader once the reply is out (destroying the request closes the socket).
    if (res.writableFinished || res.destroyed) req.destroy(err);
    else {
      res.once('finish', () => req.destroy(err));
      res.once('close', () => req.destroy(err));
    }
  }, Math.max(50, Math.min(1000, Math.floor(timeoutMs / 4))));
  timer.unref();
  res.once('close', stop);
  req.once('end', stop);
  return {
    get timedOut() {
      return timedOut;
    },
  };
}
