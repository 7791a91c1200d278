// The start-up banner: which endpoints it shows, when it warns about plain HTTP, and when
// print_secret keeps the root secret out of it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { banner, type Started } from '../../src/cli/server.js';
import type { Config } from '../../src/config/config.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

function started(over: Partial<Config>, http: Partial<Started['http']> = {}): Started {
  const config = {
    address: { host: '127.0.0.1', port: 9000 },
    disks: ['/d1', '/d2'],
    metaDir: '/meta',
    parity: 1,
    dataShards: 1,
    region: 'us-east-1',
    printSecret: true,
    credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: SECRET, generated: false },
    ...over,
  } as Config;
  const engine = { metaIndex: { report: { action: 'current' } }, replacedDisks: [], offlineDisks: [] };
  const h = { url: `http://${config.address.host}:9000`, port: 9000, secure: false, servers: [], ...http };
  return { config, engine, http: h } as unknown as Started;
}

test('plain HTTP on a network address is flagged; on loopback, or with TLS, it is not', { timeout: 5000 }, () => {
  assert.match(banner(started({ address: { host: '0.0.0.0', port: 9000 } })), /WARNING: plain HTTP on 0\.0\.0\.0:9000/);
  assert.doesNotMatch(banner(started({})), /WARNING/);
  const tls = { certFile: '/tls/s.pem', keyFile: '/tls/s.key' };
  const secure = { url: 'https://0.0.0.0:9000', secure: true };
  assert.doesNotMatch(banner(started({ address: { host: '0.0.0.0', port: 9000 }, tls }, secure)), /WARNING/);
  const both = banner(started({ address: { host: '0.0.0.0', port: 9000 }, tls, httpAddress: { host: '::', port: 9080 } }, { ...secure, httpUrl: 'http://[::]:9080' }));
  assert.match(both, /plain HTTP: +http:\/\/\[::\]:9080/);
  assert.match(both, /WARNING: plain HTTP on \[::\]:9080/);
  assert.match(both, /aws --endpoint-url https:\/\/0\.0\.0\.0:9000 --ca-bundle ca\.pem s3 mb/);
});

test('print_secret off hides a configured or stored secret; a pair generated on this start is shown once', { timeout: 5000 }, () => {
  assert.ok(banner(started({})).includes(SECRET));
  const hidden = banner(started({ printSecret: false }));
  assert.ok(!hidden.includes(SECRET));
  assert.match(hidden, /secret key: +\(hidden: print_secret is off\)/);
  assert.match(hidden, /AWS_SECRET_ACCESS_KEY=<secret key>/);
  const stored = banner(started({ printSecret: false, credentials: { accessKeyId: 'TSRAAAAAAAAAAAAAAAAA', secretAccessKey: SECRET, generated: false, storedAt: '/meta/credentials.json' } }));
  assert.ok(!stored.includes(SECRET));
  assert.match(stored, /hidden: print_secret is off; it is in \/meta\/credentials\.json/);
  const generated = banner(started({ printSecret: false, credentials: { accessKeyId: 'TSRAAAAAAAAAAAAAAAAA', secretAccessKey: SECRET, generated: true, storedAt: '/meta/credentials.json' } }));
  assert.ok(generated.includes(`secret key:  ${SECRET}`));
});

test('disk directories on one filesystem device: a warning in the banner that erasure coding does not cover a failed drive', { timeout: 5000 }, async () => {
  const { sharedDeviceGroups } = await import('../../src/cli/startup-checks.js');
  const { mkdtemp } = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-banner-'));
  const dirs = [root, os.tmpdir()];
  // Two directories of one temp filesystem share its device, as every test's disks do.
  const groups = await sharedDeviceGroups(dirs);
  assert.deepEqual(groups, [dirs]);
  const s = started({ disks: dirs });
  assert.doesNotMatch(banner(s), /filesystem device/);
  const warned = banner({ ...s, findings: { sharedDevices: groups } });
  assert.match(warned, /WARNING: all disk directories are on one filesystem device: erasure coding protects against bit rot and lost directories there, not against a failed drive/);
  const partial = banner({ ...started({ disks: ['/a', '/b', '/c'] }), findings: { sharedDevices: [['/a', '/b']] } });
  assert.match(partial, /WARNING: disk directories share a filesystem device \(\/a \+ \/b\)/);
});
