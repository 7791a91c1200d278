// The body idle timeout: a request whose client stops sending its body is aborted after
// `limits.body_idle_timeout` seconds without a byte, as S3 does (400 RequestTimeout, then the
// connection is closed). Without it, a client that declares 5 GiB and sends a trickle holds a
// socket, buffers and temporary shard files for as long as it likes. A trickle (a byte now and
// then) is not idle, so a body must also average `limits.body_min_rate` bytes per second over
// each such window, and more while others wait for memory (see PRESSURE_MIN_RATE).
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

export interface BodyGuardOptions {
  /** Milliseconds without a byte before the request is aborted. */
  idleMs: number;
  /** Bytes per second the body must average over each window of idleMs; 0 = no floor. */
  minRate: number;
  /** True while requests wait for memory (the budget is spent): the stricter floor applies. */
  underPressure?: () => boolean;
}

/**
 * While requests wait for memory, a body must bring PRESSURE_MIN_RATE bytes per second over
 * PRESSURE_WINDOW_MS, or it is aborted and its stripe buffers go to those waiting. Without this,
 * a few dozen uploads that each send a trickle (above `body_min_rate`) would keep the whole
 * budget leased while sending almost nothing, and every other upload and download would wait
 * behind them. 16 KiB/s is far below any working link; the SDKs and aws-cli retry
 * RequestTimeout by themselves.
 */
export const PRESSURE_MIN_RATE = 16 * 1024;
export const PRESSURE_WINDOW_MS = 5000;

/**
 * A rate floor over consecutive windows of `ms`: tooSlow() is true when the window that just
 * closed brought less than `bytesPerSecond`. A stopped window starts at the next call.
 */
function rateWindow(ms: number, bytesPerSecond: number) {
  let start: number | undefined;
  let startRead = 0;
  const restart = (now: number, read: number) => {
    start = now;
    startRead = read;
  };
  return {
    restart,
    stop: () => (start = undefined),
    tooSlow(now: number, read: number): boolean {
      if (start === undefined || now - start < ms) {
        if (start === undefined) restart(now, read);
        return false;
      }
      const slow = ((read - startRead) * 1000) / (now - start) < bytesPerSecond;
      restart(now, read);
      return slow;
    },
  };
}

/**
 * Watches `req` until its body is complete or the reply is done. The request is aborted with
 * RequestTimeout after `idleMs` without a byte, when the body averages less than `minRate`
 * bytes per second over a window of `idleMs`, or (under memory pressure) less than
 * PRESSURE_MIN_RATE over PRESSURE_WINDOW_MS. Time during which the server itself is not reading
 * (unread bytes in the request stream, or a 100 Continue not yet sent) never counts against
 * the client. `abort` is called with the error: it must send the reply (the request stream is
 * destroyed right after it, which fails whatever reads the body, so nothing is committed and
 * temporary files are removed by the reader's own error path).
 */
export function guardBody(req: IncomingMessage, res: ServerResponse, o: BodyGuardOptions, abort: (err: S3Error, why: 'idle' | 'slow' | 'slow under memory pressure') => void): BodyGuard {
  const socket = req.socket;
  const timeoutMs = o.idleMs;
  let seen = socket.bytesRead;
  let lastProgress = Date.now();
  // The two rate floors: the configured one, and the stricter one under memory pressure.
  const floor = rateWindow(o.idleMs, o.minRate);
  const pressure = rateWindow(PRESSURE_WINDOW_MS, PRESSURE_MIN_RATE);
  floor.restart(lastProgress, seen);
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
  const fail = (why: 'idle' | 'slow' | 'slow under memory pressure') => {
    stop();
    timedOut = true;
    const err = new S3Error('RequestTimeout');
    abort(err, why);
    // Fail the reader once the reply is out (destroying the request closes the socket).
    if (res.writableFinished || res.destroyed) req.destroy(err);
    else {
      res.once('finish', () => req.destroy(err));
      res.once('close', () => req.destroy(err));
    }
  };
  // Checked on a coarse period: exactness to the millisecond is not needed, and one timer
  // per request is cheap where resetting a timer on every chunk would not be.
  const timer = setInterval(() => {
    if (req.complete || req.destroyed || res.writableEnded) return stop();
    const now = Date.now();
    const read = socket.bytesRead;
    const serverSlow = req.readableLength > 0 || (expectsContinue && !continued());
    if (serverSlow) {
      // The server is the one not reading: every clock starts again.
      seen = read;
      lastProgress = now;
      floor.restart(now, read);
      pressure.stop();
      return;
    }
    if (read !== seen) {
      seen = read;
      lastProgress = now;
    } else if (now - lastProgress >= timeoutMs) return fail('idle');
    if (o.minRate > 0 && floor.tooSlow(now, read)) return fail('slow');
    if (!o.underPressure?.()) pressure.stop();
    else if (pressure.tooSlow(now, read)) return fail('slow under memory pressure');
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
