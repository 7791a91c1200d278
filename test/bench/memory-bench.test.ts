// `tessera bench memory`: its options and its verdict on the goals, without running the bench
// (the server-process part is exercised by test/integration/memory.test.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { missedGoals, parseMemoryBenchArgs, PEAK_RSS_GOAL } from '../../src/cli/bench-memory.js';
import type { MemoryBenchResult } from '../../src/bench/memory-bench.js';

const MiB = 1024 * 1024;

test('options: sizes and counts parsed, unknown or malformed ones refused', { timeout: 5_000 }, () => {
  const { opts, json } = parseMemoryBenchArgs(['--list-seconds', '5', '--large-size=256MiB', '--memory-budget', '64MiB', '--json']);
  assert.equal(json, true);
  assert.equal(opts.listSeconds, 5);
  assert.equal(opts.largeSize, 256 * MiB);
  assert.equal(opts.memoryBudget, 64 * MiB);
  assert.throws(() => parseMemoryBenchArgs(['--list-clients', '0']), /whole number/);
  assert.throws(() => parseMemoryBenchArgs(['--nope', '1']), /unknown option --nope/);
  assert.throws(() => parseMemoryBenchArgs(['--small-size', 'lots']), /--small-size/);
  assert.throws(() => parseMemoryBenchArgs(['--idle-seconds']), /needs a value/);
});

test('goals: each one missed is named, none when all are met', { timeout: 5_000 }, () => {
  const phase = { seconds: 1, requests: 1, errors: 0, errorMessages: [], rssBefore: 100 * MiB, peakRss: 150 * MiB };
  const good: MemoryBenchResult = {
    node: 'v20', budget: 256 * MiB, startRss: 70 * MiB,
    listing: { ...phase, clients: 4, keys: 1000, idleSeconds: 10, rssBefore: 90 * MiB, rssAfterIdle: 120 * MiB },
    large: { ...phase, uploads: 4, size: 1024 * MiB, budgetHighWater: 32 * MiB },
    small: { ...phase, uploads: 64, size: 16 * MiB, budgetHighWater: 250 * MiB },
  };
  assert.deepEqual(missedGoals(good), []);
  const bad: MemoryBenchResult = {
    ...good,
    budget: undefined,
    listing: { ...good.listing, rssAfterIdle: 406 * MiB },
    large: { ...good.large, peakRss: PEAK_RSS_GOAL + 1 },
  };
  const missed = missedGoals(bad);
  assert.equal(missed.length, 3, missed.join('\n'));
  assert.match(missed.join('\n'), /peak RSS/);
  assert.match(missed.join('\n'), /does not report its memory budget/);
  assert.match(missed.join('\n'), /after the listing burst/);
  assert.match(missedGoals({ ...good, small: { ...good.small, budgetHighWater: 300 * MiB } }).join(), /above the budget/);
});
