// The container health check (dist/src/cli/healthcheck.js, the Dockerfile's HEALTHCHECK): where
// it looks for the server, and its exit status against real servers over HTTP and HTTPS.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { healthTarget } from '../../src/cli/healthcheck.js';
import { run } from '../helpers/clients.js';
import { startTestServer } from '../helpers/server.js';
import { freePort } from '../helpers/process-server.js';

const SCRIPT = fileURLToPath(new URL('../../src/cli/healthcheck.js', import.meta.url));

function healthcheck(env: NodeJS.ProcessEnv, ...args: string[]) {
  return run(process.execPath, [SCRIPT, ...args], { env: { PATH: process.env.PATH, ...env }, timeoutMs: 30_000 });
}

describe('healthcheck target', { timeout: 10_000 }, () => {
  test('an address on every interface is checked over loopback; a configured host as it is', () => {
    assert.deepEqual(healthTarget({ TESSERA_ADDRESS: '0.0.0.0:9000' }), { host: '127.0.0.1', port: 9000, secure: false });
    assert.deepEqual(healthTarget({ TESSERA_ADDRESS: ':9001' }), { host: '127.0.0.1', port: 9001, secure: false });
    assert.deepEqual(healthTarget({ TESSERA_ADDRESS: '[::]:9002' }), { host: '::1', port: 9002, secure: false });
    assert.deepEqual(healthTarget({ TESSERA_ADDRESS: '10.1.2.3:9003', TESSERA_TLS_CERT: '/tls/c.pem' }), { host: '10.1.2.3', port: 9003, secure: true });
    assert.deepEqual(healthTarget({}), { host: '127.0.0.1', port: 9000, secure: false });
  });

  test('address and tls.cert from the config file when the environment does not set them', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-healthcheck-'));
    try {
      const file = path.join(dir, 'tessera.yaml');
      await fs.writeFile(file, 'address: 0.0.0.0:9443\ntls:\n  cert: /tls/server.pem\n  key: /tls/server.key\n');
      assert.deepEqual(healthTarget({ TESSERA_CONFIG: file }), { host: '127.0.0.1', port: 9443, secure: true });
      assert.deepEqual(healthTarget({ TESSERA_CONFIG: file, TESSERA_ADDRESS: '127.0.0.1:9444' }), { host: '127.0.0.1', port: 9444, secure: true });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('healthcheck process', { timeout: 120_000 }, () => {
  test('exit 0 when /health/live answers 200 over HTTP; 1 for a 404 path and for a port nobody listens on', async () => {
    const s = await startTestServer();
    try {
      const env = { TESSERA_ADDRESS: `0.0.0.0:${s.port}` };
      const ok = await healthcheck(env, '/health/live');
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.equal(ok.stdout, `healthy: http://127.0.0.1:${s.port}/health/live answered 200\n`);
      const ready = await healthcheck(env, '/health/ready');
      assert.equal(ready.code, 0, ready.stdout);
      const missing = await healthcheck(env, '/no/such/path');
      assert.equal(missing.code, 1);
      assert.match(missing.stdout, /^unhealthy: .* answered \d{3}\n$/);
    } finally {
      await s.destroy();
    }
    const closed = await healthcheck({ TESSERA_ADDRESS: `127.0.0.1:${await freePort()}` });
    assert.equal(closed.code, 1);
    assert.match(closed.stdout, /^unhealthy: .*ECONNREFUSED/);
  });

  test('with TESSERA_TLS_CERT set it speaks HTTPS to a server whose certificate it does not verify', async () => {
    const s = await startTestServer({ tls: true });
    try {
      const tls = { TESSERA_ADDRESS: `0.0.0.0:${s.port}`, TESSERA_TLS_CERT: s.config.tls!.certFile };
      const ok = await healthcheck(tls);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.equal(ok.stdout, `healthy: https://127.0.0.1:${s.port}/health/live answered 200\n`);
      // Plain HTTP to an HTTPS-only port is not healthy.
      const plain = await healthcheck({ TESSERA_ADDRESS: `0.0.0.0:${s.port}` });
      assert.equal(plain.code, 1);
    } finally {
      await s.destroy();
    }
  });
});
