// readiness(): the decision /health/ready and the tessera_ready gauge share.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readiness, type HealthSource } from '../../src/ops/health.js';

function source(over: Partial<HealthSource> = {}): HealthSource {
  return {
    disks: [{ online: true }, { online: true }, { online: true }, { online: true }],
    healing: new Set<number>(),
    k: 2,
    m: 2,
    metaUnavailable: () => undefined,
    ...over,
  };
}

test('a graceful shutdown takes the server out of rotation while its requests finish', { timeout: 5_000 }, () => {
  const src = source();
  assert.equal(readiness(src).ready, true);
  src.stopping = true;
  const r = readiness(src);
  assert.equal(r.ready, false);
  assert.match(r.reason ?? '', /shutting down/);
  assert.equal(r.metadata, 'open', 'the other checks still report what they see');
});

test('too few disks online for the write quorum: not ready, and the reason names the offline disks', { timeout: 5_000 }, () => {
  const r = readiness(source({ disks: [{ online: true }, { online: false }, { online: false }, { online: true }] }));
  assert.equal(r.ready, false);
  assert.match(r.reason ?? '', /disk 2, 3/);
  assert.deepEqual(r.disks.offline, [2, 3]);
});
