// `tessera bench embed` runs end to end (scaled down) and reports Tessera's and s3rver's
// figures; its exit status says whether the goals were met.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/clients.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

test('tessera bench embed --json: cold starts and reset() times of both servers', { timeout: 180_000 }, async () => {
  const r = await run(process.execPath, [MAIN, 'bench', 'embed', '--rounds', '2', '--reset-rounds', '3', '--json'], { timeoutMs: 170_000 });
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  const out = JSON.parse(r.stdout) as {
    tessera: { cold: { coldMs: number; importMs: number; startMs: number; firstPutMs: number; wallMs: number }[]; resets: number[] };
    s3rver: { available: boolean; cold: { coldMs: number }[]; resets: number[] };
    missedGoals: string[];
  };
  assert.equal(out.tessera.cold.length, 2);
  assert.equal(out.tessera.resets.length, 3);
  for (const c of out.tessera.cold) {
    for (const v of [c.coldMs, c.importMs, c.startMs, c.firstPutMs, c.wallMs]) assert.ok(Number.isFinite(v) && v > 0, JSON.stringify(c));
    assert.ok(Math.abs(c.importMs + c.startMs + c.firstPutMs - c.coldMs) < 1, 'the parts add up');
    assert.ok(c.wallMs > c.coldMs, 'the parent sees the child boot too');
  }
  assert.equal(out.s3rver.available, true, 's3rver is a devDependency');
  assert.equal(out.s3rver.cold.length, 2);
  assert.equal(out.s3rver.resets.length, 3);
  assert.equal(r.code, out.missedGoals.length === 0 ? 0 : 1);
});
