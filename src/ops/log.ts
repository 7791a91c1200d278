// Structured logs: one JSON object per line on stderr, filtered by level.

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Logger = (level: Level, msg: string, fields?: Record<string, unknown>) => void;

export function createLogger(min: Level, out: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  return (level, msg, fields) => {
    if (ORDER[level] < ORDER[min]) return;
    out(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }));
  };
}
