// The terminal format of log lines: time, level, message, then the fields as key=value.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPretty } from '../../src/ops/log-pretty.js';
import { createLogger } from '../../src/ops/log.js';

test('a JSON line becomes "time LEVEL msg key=value"; stacks go on lines of their own; other text passes unchanged', { timeout: 5000 }, () => {
  const lines: string[] = [];
  const log = createLogger('info', (l) => lines.push(l), { pretty: true });
  log('debug', 'not shown at info');
  log('info', 'request', { op: 'PutObject', key: 'a b.txt', status: 200 });
  log('error', 'internal error', { error: 'Error: boom\n    at f (x.js:1:1)' });
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /^\d\d:\d\d:\d\d\.\d{3} INFO  request op=PutObject key="a b\.txt" status=200$/);
  assert.match(lines[1]!, /^\d\d:\d\d:\d\d\.\d{3} ERROR internal error\n {4}Error: boom\n {8}at f \(x\.js:1:1\)$/);
  assert.equal(formatPretty('not json'), 'not json');
});
