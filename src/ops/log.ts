// Structured logs: one JSON object per line on stderr, filtered by level, written by pino.
//
// Every part of the server logs through the small `Logger` function type below, so that no
// module depends on pino; createLogger adapts it onto a pino instance. pino brings what a
// hand-written JSON.stringify did not: field redaction (a secret passed by mistake in a field
// is replaced, not printed), a stable line format that log shippers know, and speed.
//
// Two rules hold whatever happens to the output:
// - Logging never throws and never loops. A stdout/stderr whose reader is gone (`tessera server
//   | head`, a dead log collector) fails every write with EPIPE; the first failure marks the
//   stream dead and later lines are dropped, silently. Nothing is ever logged about a failure
//   of logging (that is how a closed pipe used to spin the process at 100 % CPU).
// - No secret reaches a line: the redact paths below, and a last scrub of the finished line for
//   anything shaped like a SigV4 signature.

import pino from 'pino';
import { formatPretty } from './log-pretty.js';

export type Level = 'debug' | 'info' | 'warn' | 'error';

export type Logger = (level: Level, msg: string, fields?: Record<string, unknown>) => void;

/** Field names (at the top of a line or one level down) whose value is never printed. */
const SECRET_FIELDS = [
  'authorization',
  'Authorization',
  'secret',
  'secretKey',
  'secretAccessKey',
  'SecretAccessKey',
  'secret_key',
  'signature',
  'Signature',
  'X-Amz-Signature',
  'x-amz-signature',
  'policy',
  'x-amz-server-side-encryption-customer-key',
  'sseCustomerKey',
  'password',
];
const REDACT_PATHS = [
  ...SECRET_FIELDS.map((f) => (/^[A-Za-z_]\w*$/.test(f) ? f : `["${f}"]`)),
  ...SECRET_FIELDS.map((f) => (/^[A-Za-z_]\w*$/.test(f) ? `*.${f}` : `*["${f}"]`)),
];
export const REDACTED = '[redacted]';

/**
 * A signature that slipped into a message text (a URL with its query, an Authorization header
 * quoted in an error) is cut out of the finished line: 64 hex digits after `Signature=`.
 */
const SIGNATURE_IN_TEXT = /((?:X-Amz-)?Signature(?:=|%3D|\\":\\"|":"))[0-9a-fA-F]{64}/g;

export function scrubLine(line: string): string {
  return line.includes('ignature') ? line.replace(SIGNATURE_IN_TEXT, `$1${REDACTED}`) : line;
}

/** stdout/stderr that have failed once (EPIPE, EBADF …): nothing more is written to them. */
const deadStdio = new WeakSet<NodeJS.WriteStream>();
let stdioGuarded = false;

/**
 * Puts an 'error' listener on stdout and stderr (once per process): without one, a failed write
 * to a closed pipe becomes an uncaught exception, whose handler logs, which fails again…
 */
export function guardStdio(): void {
  if (stdioGuarded) return;
  stdioGuarded = true;
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', () => deadStdio.add(s));
  }
}

/** Writes to stdout or stderr unless it failed before; never throws. */
export function writeStdio(stream: NodeJS.WriteStream, text: string): void {
  guardStdio();
  if (deadStdio.has(stream) || stream.destroyed || !stream.writable) return;
  try {
    stream.write(text);
  } catch {
    deadStdio.add(stream);
  }
}

export interface LoggerOptions {
  /** Human-readable lines instead of JSON; default: when stderr is a terminal. */
  pretty?: boolean;
}

/**
 * A Logger that writes lines at `min` and above. `out` receives each finished line (without its
 * newline); by default they go to stderr.
 */
export function createLogger(min: Level, out?: (line: string) => void, o: LoggerOptions = {}): Logger {
  const pretty = o.pretty ?? (out === undefined && process.stderr.isTTY === true);
  const emit = out ?? ((line: string) => writeStdio(process.stderr, line + '\n'));
  let failed = false;
  const sink = {
    write(chunk: string): void {
      if (failed) return;
      try {
        const line = scrubLine(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk);
        emit(pretty ? formatPretty(line) : line);
      } catch {
        // A sink that throws is dropped for good rather than reported (reporting would log).
        failed = true;
      }
    },
  };
  const p = pino(
    {
      level: min,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
    },
    sink,
  );
  return (level, msg, fields) => {
    try {
      if (fields) p[level](fields, msg);
      else p[level](msg);
    } catch {
      // A field that cannot be serialised must not take the caller down; the line is lost.
    }
  };
}
