// Log lines for a person at a terminal: `15:04:05.123 INFO  msg  key=value …`.
//
// pino-pretty would do this, but it brings a dozen packages (colour, argument parsing, a
// worker-thread transport) into the production install for something a running service never
// uses (its stderr goes to a file or a collector, which get JSON). This is the whole of it.

const LEVELS: Record<string, string> = { debug: 'DEBUG', info: 'INFO ', warn: 'WARN ', error: 'ERROR' };
const HIDDEN = new Set(['time', 'level', 'msg', 'pid']);

/** One JSON log line as a readable line; anything that is not JSON passes unchanged. */
export function formatPretty(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (o === null || typeof o !== 'object') return line;
  const time = typeof o.time === 'string' ? o.time.slice(11, 23) : '';
  const level = LEVELS[String(o.level)] ?? String(o.level).toUpperCase();
  const parts = [time, level, String(o.msg ?? '')];
  let stack: string | undefined;
  for (const [k, v] of Object.entries(o)) {
    if (HIDDEN.has(k) || v === undefined) continue;
    // A stack reads better on lines of its own, after the fields.
    if (typeof v === 'string' && v.includes('\n')) {
      stack = v;
      continue;
    }
    parts.push(`${k}=${typeof v === 'string' ? (/[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v) : JSON.stringify(v)}`);
  }
  return parts.join(' ') + (stack ? `\n    ${stack.replace(/\n/g, '\n    ')}` : '');
}
