// `<VARIABLE>_FILE` variables: secrets read from files, as Docker and Kubernetes mount them.
// Unit tests of the config loader, then the real server process started with them.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { ConfigError, FILE_VARIABLES, loadConfig } from '../../src/config/config.js';
import { freePort, spawnServer } from '../helpers/process-server.js';

const ACCESS = 'TSRFILEACCESSKEY0001';
const SECRET = 'file-secret-Zq8vX2mK9pL4wR7tY1uN5bH3';

const tempDirs: string[] = [];
after(async () => {
  await Promise.all(tempDirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-secret-files-')));
  tempDirs.push(dir);
  return dir;
}

/** Writes a secret file the way `echo`, an editor or `kubectl create secret` would. */
async function secretFile(dir: string, name: string, content: string): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, content, { mode: 0o600 });
  return file;
}

async function configError(env: NodeJS.ProcessEnv, cwd: string): Promise<string> {
  try {
    await loadConfig({ cwd, env, argv: [] });
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), 'one line');
    return e.message;
  }
  assert.fail('the configuration was accepted');
}

describe('secrets from files (config)', { timeout: 30_000 }, () => {
  test('root access and secret key come from _FILE variables, less one trailing newline', async () => {
    const dir = await tempDir();
    const config = await loadConfig({
      cwd: dir,
      argv: [],
      env: {
        TESSERA_ROOT_ACCESS_KEY_FILE: await secretFile(dir, 'access', `${ACCESS}\n`),
        TESSERA_ROOT_SECRET_KEY_FILE: await secretFile(dir, 'secret', `${SECRET}\r\n`),
      },
    });
    assert.equal(config.credentials.accessKeyId, ACCESS);
    assert.equal(config.credentials.secretAccessKey, SECRET);
    assert.equal(config.credentials.generated, false);
    // Configured credentials are never written to the metadata directory.
    await assert.rejects(fs.access(path.join(config.metaDir, 'credentials.json')));
  });

  test('a file without a trailing newline is used as it is; a relative path is relative to the working directory', async () => {
    const dir = await tempDir();
    await secretFile(dir, 'secret', SECRET);
    const config = await loadConfig({ cwd: dir, argv: [], env: { TESSERA_ROOT_ACCESS_KEY: ACCESS, TESSERA_ROOT_SECRET_KEY_FILE: 'secret' } });
    assert.equal(config.credentials.secretAccessKey, SECRET);
  });

  test('only one newline is removed: a second one is reported as a control character, without the secret', async () => {
    const dir = await tempDir();
    const msg = await configError({ TESSERA_ROOT_ACCESS_KEY: ACCESS, TESSERA_ROOT_SECRET_KEY_FILE: await secretFile(dir, 'secret', `${SECRET}\n\n`) }, dir);
    assert.match(msg, /^TESSERA_ROOT_SECRET_KEY_FILE: secret key contains control characters/);
    assert.ok(!msg.includes(SECRET));
  });

  test('users declared as JSON come from TESSERA_USERS_FILE', async () => {
    const dir = await tempDir();
    const users = JSON.stringify([{ name: 'backup', access_key: 'BACKUPKEY0001', secret_key: 'backup-secret-key-1', policies: ['readonly'] }]);
    const config = await loadConfig({ cwd: dir, argv: [], env: { TESSERA_USERS_FILE: await secretFile(dir, 'users.json', users + '\n') } });
    assert.deepEqual(config.users.map((u) => [u.name, u.accessKeyId, u.secretAccessKey]), [['backup', 'BACKUPKEY0001', 'backup-secret-key-1']]);
  });

  test('the variable and its _FILE variant together are refused', async () => {
    const dir = await tempDir();
    const msg = await configError({ TESSERA_ROOT_ACCESS_KEY: ACCESS, TESSERA_ROOT_SECRET_KEY: SECRET, TESSERA_ROOT_SECRET_KEY_FILE: await secretFile(dir, 's', SECRET) }, dir);
    assert.equal(msg, 'TESSERA_ROOT_SECRET_KEY and TESSERA_ROOT_SECRET_KEY_FILE are both set; set only one of them');
  });

  test('a missing, empty, directory or unreadable file is a config error naming the variable and the file', async () => {
    const dir = await tempDir();
    const base = { TESSERA_ROOT_ACCESS_KEY: ACCESS };
    const missing = path.join(dir, 'nope');
    assert.equal(await configError({ ...base, TESSERA_ROOT_SECRET_KEY_FILE: missing }, dir), `TESSERA_ROOT_SECRET_KEY_FILE: file ${missing} does not exist`);
    const empty = await secretFile(dir, 'empty', '\n');
    assert.equal(await configError({ ...base, TESSERA_ROOT_SECRET_KEY_FILE: empty }, dir), `TESSERA_ROOT_SECRET_KEY_FILE: file ${empty} is empty`);
    assert.equal(await configError({ ...base, TESSERA_ROOT_SECRET_KEY_FILE: dir }, dir), `TESSERA_ROOT_SECRET_KEY_FILE: ${dir} is a directory, not a file`);
    const big = await secretFile(dir, 'big', 'x'.repeat(2 * 1024 * 1024));
    assert.match(await configError({ ...base, TESSERA_ROOT_SECRET_KEY_FILE: big }, dir), /TESSERA_ROOT_SECRET_KEY_FILE: .*big is 2097152 bytes long; a secret file holds one value/);
    // Only a non-root user is stopped by a file mode.
    if (process.getuid?.() !== 0) {
      const locked = await secretFile(dir, 'locked', SECRET);
      await fs.chmod(locked, 0o000);
      assert.equal(await configError({ ...base, TESSERA_ROOT_SECRET_KEY_FILE: locked }, dir), `TESSERA_ROOT_SECRET_KEY_FILE: file ${locked} cannot be read by this user (check its owner and mode)`);
    }
  });

  test('only secret-bearing variables have a _FILE variant', async () => {
    assert.deepEqual([...FILE_VARIABLES].sort(), ['TESSERA_METRICS_TOKEN', 'TESSERA_ROOT_ACCESS_KEY', 'TESSERA_ROOT_SECRET_KEY', 'TESSERA_USERS']);
    const dir = await tempDir();
    const config = await loadConfig({ cwd: dir, argv: [], env: { TESSERA_REGION_FILE: await secretFile(dir, 'region', 'eu-west-1') } });
    assert.equal(config.region, 'us-east-1');
  });
});

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

describe('secrets from files (server process)', { timeout: 120_000 }, () => {
  test('a server started with _FILE credentials signs with them and never prints the secret', async () => {
    const root = await tempDir();
    const secrets = path.join(root, 'secrets');
    await fs.mkdir(secrets);
    const port = await freePort();
    const server = await spawnServer(root, port, {
      TESSERA_ROOT_ACCESS_KEY: '',
      TESSERA_ROOT_SECRET_KEY: '',
      TESSERA_ROOT_ACCESS_KEY_FILE: await secretFile(secrets, 'access_key', `${ACCESS}\n`),
      TESSERA_ROOT_SECRET_KEY_FILE: await secretFile(secrets, 'secret_key', `${SECRET}\n`),
      TESSERA_PRINT_SECRET: 'false',
    });
    try {
      const client = (secretAccessKey: string) =>
        new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: ACCESS, secretAccessKey } });
      const ok = await client(SECRET).send(new ListBucketsCommand({}));
      assert.deepEqual(ok.Buckets ?? [], []);
      await assert.rejects(client('not-the-secret-key').send(new ListBucketsCommand({})), (e: Error) => e.name === 'SignatureDoesNotMatch');
      assert.match(server.output(), new RegExp(`access key: +${ACCESS}`));
      assert.match(server.output(), /secret key: +\(hidden: print_secret is off\)/);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    assert.ok(!server.output().includes(SECRET), `the secret appeared in the output:\n${server.output()}`);
  });

  test('both a variable and its _FILE variant: the process stops with one config line and exit 2', async () => {
    const root = await tempDir();
    const child = spawn(process.execPath, [MAIN, 'server'], {
      cwd: root,
      env: {
        ...process.env,
        TESSERA_ADDRESS: '127.0.0.1:0',
        TESSERA_ROOT_ACCESS_KEY: ACCESS,
        TESSERA_ROOT_SECRET_KEY: SECRET,
        TESSERA_ROOT_SECRET_KEY_FILE: await secretFile(root, 'secret_key', SECRET),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 2);
    assert.equal(out, 'tessera: config: TESSERA_ROOT_SECRET_KEY and TESSERA_ROOT_SECRET_KEY_FILE are both set; set only one of them\n');
  });
});
