// The container image, built and started without a container engine: scripts/container-smoke.mjs
// carries out the Dockerfile's stages in a clean directory on the base image's Node major (npm
// ci, build, prune, the final stage's files and directories), starts the final CMD as the
// image's user with the image's ENV, and checks the HEALTHCHECK, /health/ready, an S3 round
// trip, SIGTERM and a restart. Needs the npm registry (or its cache) for the packages and,
// when this Node is another major, for that Node's binary.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { run } from '../helpers/clients.js';

const ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'Dockerfile'))) dir = path.dirname(dir);
  return dir;
})();

test('the Dockerfile\'s stages build, and the server they produce starts, answers /health/ready and stops on SIGTERM', { timeout: 15 * 60_000 }, async () => {
  const r = await run(process.execPath, [path.join(ROOT, 'scripts/container-smoke.mjs')], { cwd: ROOT, timeoutMs: 14 * 60_000 });
  const out = r.stdout + r.stderr;
  assert.equal(r.code, 0, out);
  assert.match(out, /first start: HEALTHCHECK \(node dist\/src\/cli\/healthcheck\.js \/health\/live\) passed/);
  assert.match(out, /\/health\/ready 200 after \d+ ms: \{"status":"ready"/);
  assert.match(out, /final stage: none of the \d+ dev dependencies present; user node/);
  assert.match(out, /restart: object read back; the secret key is not in the log/);
  assert.match(out, /OK: the image's stages built and its server answered on Node v\d+/);
  process.stdout.write(out.split('\n').filter((l) => / s {2}|OK:|Node v/.test(l)).map((l) => `# ${l}`).join('\n') + '\n');
});
