import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/repo-root.js';
import {
  CONFIG_KEYS,
  ConfigError,
  defaultParity,
  findConfigFile,
  formatConfigError,
  generateKeyPair,
  loadConfig,
  parseAddress,
  parseSize,
  type Config,
} from '../../src/config/config.js';

const MiB = 1024 * 1024;
const KiB = 1024;

const tempDirs: string[] = [];
after(async () => {
  await Promise.all(tempDirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  // realpath: on some systems the temp directory is itself behind a symlink (macOS /var).
  const dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-config-')));
  tempDirs.push(dir);
  return dir;
}

async function writeFile(file: string, text: string): Promise<string> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, text);
  return file;
}

function load(cwd: string, env: NodeJS.ProcessEnv = {}, argv: string[] = []): Promise<Config> {
  return loadConfig({ cwd, env, argv });
}

async function assertConfigError(promise: Promise<unknown>, pattern: RegExp): Promise<ConfigError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${caught instanceof Error ? caught.stack : String(caught)}`);
  assert.match(caught.message, pattern);
  assert.ok(!caught.message.includes('\n'), `message must be one line: ${JSON.stringify(caught.message)}`);
  return caught;
}


const fixedCredentials = { TESSERA_ROOT_ACCESS_KEY: 'TESTACCESSKEY', TESSERA_ROOT_SECRET_KEY: 'test-secret-key' };

describe('defaults', () => {
  test('an empty environment in a fresh directory gives the documented defaults', async () => {
    const cwd = await tempDir();
    const c = await load(cwd);
    assert.deepEqual(c.address, { host: '127.0.0.1', port: 9000 });
    assert.deepEqual(c.disks, [1, 2, 3, 4].map((i) => path.join(cwd, 'data', `disk${i}`)));
    assert.equal(c.metaDir, path.join(cwd, 'data', 'meta'));
    assert.equal(c.parity, 2);
    assert.equal(c.dataShards, 2);
    assert.equal(c.region, 'us-east-1');
    assert.deepEqual(c.domains, []);
    assert.equal(c.blockSize, MiB);
    assert.equal(c.inlineThreshold, 128 * KiB);
    assert.equal(c.scannerBytesPerSecond, 8 * MiB);
    assert.equal(c.multipartExpirySeconds, 7 * 24 * 3600);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.configFile, undefined);
    for (const dir of [...c.disks, c.metaDir]) assert.ok((await fs.stat(dir)).isDirectory(), `${dir} was created`);
  });

  test('default parity is half the disks rounded down', () => {
    const expected: Record<number, number> = { 1: 0, 2: 1, 3: 1, 4: 2, 5: 2, 6: 3, 8: 4, 16: 8 };
    for (const [n, m] of Object.entries(expected)) assert.equal(defaultParity(Number(n)), m, `N=${n}`);
  });

  test('parity and data shards follow the number of disks when parity is not set', async () => {
    const cwd = await tempDir();
    for (const n of [1, 3, 6]) {
      const disks = Array.from({ length: n }, (_, i) => `n${n}/d${i}`).join(',');
      const c = await load(cwd, { ...fixedCredentials, TESSERA_DISKS: disks });
      assert.equal(c.disks.length, n);
      assert.equal(c.parity, Math.floor(n / 2));
      assert.equal(c.dataShards, n - Math.floor(n / 2));
    }
  });
});

describe('config file and environment', () => {
  test('--config PATH, --config=PATH and TESSERA_CONFIG choose the file; the flag wins', async () => {
    const cwd = await tempDir();
    await writeFile(path.join(cwd, 'a.yaml'), 'region: from-a\n');
    await writeFile(path.join(cwd, 'b.yaml'), 'region: from-b\n');
    const env = { ...fixedCredentials };
    assert.equal((await load(cwd, env, ['server', '--config', 'a.yaml'])).region, 'from-a');
    assert.equal((await load(cwd, env, ['--config=b.yaml'])).region, 'from-b');
    assert.equal((await load(cwd, { ...env, TESSERA_CONFIG: 'b.yaml' })).region, 'from-b');
    const both = await load(cwd, { ...env, TESSERA_CONFIG: 'b.yaml' }, ['--config', 'a.yaml']);
    assert.equal(both.region, 'from-a');
    assert.equal(both.configFile, path.join(cwd, 'a.yaml'));
    // Arguments after "--" belong to someone else.
    assert.equal(findConfigFile(['--', '--config', 'x.yaml'], {}, cwd), undefined);
  });

  test('environment variables override the file, key by key', async () => {
    const cwd = await tempDir();
    const file = await writeFile(
      path.join(cwd, 'etc', 'tessera.yaml'),
      [
        'address: 127.0.0.1:7000',
        'disks: [d1, d2, d3]',
        'parity: 1',
        'region: file-region',
        'domains: [file.example]',
        'block_size: 64KiB',
        'inline_threshold: 4096',
        'scanner_bytes_per_second: 0',
        'multipart_expiry_seconds: 3600',
        'log_level: warn',
        'root_access_key: FILEACCESSKEY',
        'root_secret_key: file-secret-key',
        '',
      ].join('\n'),
    );
    const fromFile = await load(cwd, {}, ['--config', file]);
    assert.deepEqual(fromFile.address, { host: '127.0.0.1', port: 7000 });
    // Disks in the file are relative to the file's directory.
    assert.deepEqual(fromFile.disks, ['d1', 'd2', 'd3'].map((d) => path.join(cwd, 'etc', d)));
    assert.equal(fromFile.metaDir, path.join(cwd, 'etc', 'meta'));
    assert.equal(fromFile.parity, 1);
    assert.equal(fromFile.dataShards, 2);
    assert.equal(fromFile.region, 'file-region');
    assert.deepEqual(fromFile.domains, ['file.example']);
    assert.equal(fromFile.blockSize, 64 * KiB);
    assert.equal(fromFile.inlineThreshold, 4096);
    assert.equal(fromFile.scannerBytesPerSecond, 0);
    assert.equal(fromFile.multipartExpirySeconds, 3600);
    assert.equal(fromFile.logLevel, 'warn');
    assert.deepEqual(fromFile.credentials, { accessKeyId: 'FILEACCESSKEY', secretAccessKey: 'file-secret-key', generated: false });

    const env = {
      TESSERA_ADDRESS: '0.0.0.0:8000',
      TESSERA_DISKS: 'e1, e2',
      TESSERA_META_DIR: 'envmeta',
      TESSERA_PARITY: '0',
      TESSERA_REGION: 'env-region',
      TESSERA_DOMAIN: 's3.example.com, Example.COM.',
      TESSERA_BLOCK_SIZE: '2MiB',
      TESSERA_INLINE_THRESHOLD: '0',
      TESSERA_SCANNER_BYTES_PER_SECOND: '1MB',
      TESSERA_MULTIPART_EXPIRY_SECONDS: '60',
      TESSERA_LOG_LEVEL: 'DEBUG',
      TESSERA_ROOT_ACCESS_KEY: 'ENVACCESSKEY',
      TESSERA_ROOT_SECRET_KEY: 'env-secret-key',
    };
    const c = await load(cwd, env, ['--config', file]);
    assert.deepEqual(c.address, { host: '0.0.0.0', port: 8000 });
    // Paths from the environment are relative to the current directory.
    assert.deepEqual(c.disks, [path.join(cwd, 'e1'), path.join(cwd, 'e2')]);
    assert.equal(c.metaDir, path.join(cwd, 'envmeta'));
    assert.equal(c.parity, 0);
    assert.equal(c.dataShards, 2);
    assert.equal(c.region, 'env-region');
    // Lower-cased, trailing dot dropped, longest first.
    assert.deepEqual(c.domains, ['s3.example.com', 'example.com']);
    assert.equal(c.blockSize, 2 * MiB);
    assert.equal(c.inlineThreshold, 0);
    assert.equal(c.scannerBytesPerSecond, 1_000_000);
    assert.equal(c.multipartExpirySeconds, 60);
    assert.equal(c.logLevel, 'debug');
    assert.deepEqual(c.credentials, { accessKeyId: 'ENVACCESSKEY', secretAccessKey: 'env-secret-key', generated: false });

    // An empty variable counts as unset, so the file value stays.
    const partial = await load(cwd, { TESSERA_REGION: '', TESSERA_PARITY: '2' }, ['--config', file]);
    assert.equal(partial.region, 'file-region');
    assert.equal(partial.parity, 2);
    assert.equal(partial.dataShards, 1);
    assert.deepEqual(partial.address, { host: '127.0.0.1', port: 7000 });
  });

  test('sections (tls, sse, limits) in the file, each key overridden by its variable', async () => {
    const cwd = await tempDir();
    const file = await writeFile(
      path.join(cwd, 'etc', 'tessera.yaml'),
      [
        'tls:',
        '  cert: certs/server.pem',
        '  key: certs/server.key',
        'http_address: 127.0.0.1:9080',
        'sse:',
        '  master_key_file: master.key',
        'limits:',
        '  max_connections: 500',
        '  body_idle_timeout: 20',
        '  body_min_rate: 2KiB',
        '  upload_bytes_per_second: 1MiB',
        '  memory_budget: 64MiB',
        'disk_reserve: 1GiB',
        'print_secret: false',
        '',
      ].join('\n'),
    );
    const c = await load(cwd, {}, ['--config', file]);
    assert.deepEqual(c.tls, { certFile: path.join(cwd, 'etc', 'certs', 'server.pem'), keyFile: path.join(cwd, 'etc', 'certs', 'server.key') });
    assert.deepEqual(c.httpAddress, { host: '127.0.0.1', port: 9080 });
    assert.deepEqual(c.sse, { masterKeyFile: path.join(cwd, 'etc', 'master.key') });
    assert.equal(c.limits.maxConnections, 500);
    assert.equal(c.limits.bodyIdleTimeoutSeconds, 20);
    assert.equal(c.limits.bodyMinRate, 2048);
    assert.equal(c.limits.uploadBytesPerSecond, MiB);
    assert.equal(c.limits.memoryBudget, 64 * MiB);
    assert.equal(c.limits.headerTimeoutSeconds, 30, 'keys left out of a section keep their defaults');
    assert.deepEqual(c.diskReserve, { bytes: 1024 * MiB });
    assert.equal(c.printSecret, false);
    const env = await load(cwd, { TESSERA_BODY_IDLE_TIMEOUT: '7', TESSERA_BODY_MIN_RATE: '0', TESSERA_TLS_CERT: 'other.pem', TESSERA_DISK_RESERVE: '5%', TESSERA_PRINT_SECRET: 'yes' }, ['--config', file]);
    assert.equal(env.limits.bodyIdleTimeoutSeconds, 7);
    assert.equal(env.limits.bodyMinRate, 0, '0 turns the floor off');
    assert.equal(env.limits.maxConnections, 500);
    assert.equal(env.tls?.certFile, path.join(cwd, 'other.pem'), 'a relative path from the environment is relative to the current directory');
    assert.deepEqual(env.diskReserve, { percent: 5 });
    assert.equal(env.printSecret, true);
  });

  test('an empty file or keys left empty mean defaults', async () => {
    const cwd = await tempDir();
    await writeFile(path.join(cwd, 'empty.yaml'), '# nothing here\n');
    await writeFile(path.join(cwd, 'blank.yaml'), 'region:\nmeta_dir: ""\nroot_access_key:\nroot_secret_key:\n');
    for (const name of ['empty.yaml', 'blank.yaml']) {
      const c = await load(cwd, fixedCredentials, ['--config', name]);
      assert.equal(c.region, 'us-east-1');
      assert.equal(c.metaDir, path.join(cwd, 'data', 'meta'));
    }
  });

  test('the meta dir defaults to "meta" beside the first disk, and can be set', async () => {
    const cwd = await tempDir();
    const pool = path.join(cwd, 'pool');
    const c = await load(cwd, { ...fixedCredentials, TESSERA_DISKS: `${pool}/a,${pool}/b` });
    assert.equal(c.metaDir, path.join(pool, 'meta'));
    assert.ok((await fs.stat(c.metaDir)).isDirectory());

    const file = await writeFile(path.join(cwd, 'conf', 'c.yaml'), 'meta_dir: ../state/meta\n');
    const fromFile = await load(cwd, fixedCredentials, ['--config', file]);
    assert.equal(fromFile.metaDir, path.join(cwd, 'state', 'meta'));
    const fromEnv = await load(cwd, { ...fixedCredentials, TESSERA_META_DIR: 'elsewhere' }, ['--config', file]);
    assert.equal(fromEnv.metaDir, path.join(cwd, 'elsewhere'));
  });

  test('addresses: IPv6 in brackets, all interfaces, port 0', () => {
    assert.deepEqual(parseAddress('[::1]:9000'), { host: '::1', port: 9000 });
    assert.deepEqual(parseAddress(':9000'), { host: '0.0.0.0', port: 9000 });
    assert.deepEqual(parseAddress('localhost:0'), { host: 'localhost', port: 0 });
    assert.deepEqual(parseAddress('s3.example.com:65535'), { host: 's3.example.com', port: 65535 });
  });

  test('sizes: numbers and unit strings', () => {
    assert.equal(parseSize(4096), 4096);
    assert.equal(parseSize('4096'), 4096);
    assert.equal(parseSize('1MiB'), MiB);
    assert.equal(parseSize('128 KiB'), 128 * KiB);
    assert.equal(parseSize('1.5kib'), 1536);
    assert.equal(parseSize('2GiB'), 2 * 1024 * MiB);
    assert.equal(parseSize('1MB'), 1_000_000);
    assert.equal(parseSize('0'), 0);
    for (const bad of ['1M', 'lots', '-1', '1.5B', '', 'MiB', true, [1]]) {
      assert.throws(() => parseSize(bad), ConfigError, `parseSize(${JSON.stringify(bad)})`);
    }
  });
});

describe('bad configuration stops start-up with one clear line', () => {
  // Each case: a config file (or none), environment variables, and the message it must give.
  const cases: { name: string; file?: string; env?: NodeJS.ProcessEnv; argv?: string[]; error: RegExp; setup?: (dir: string) => Promise<void> }[] = [
    { name: 'unknown top-level key, with a suggestion and line', file: 'region: x\nadress: 127.0.0.1:1\n', error: /c\.yaml:2: unknown key "adress" \(did you mean "address"\?\)/ },
    { name: 'unknown key without a close match', file: 'frobnicate: 1\n', error: /unknown key "frobnicate"$/ },
    { name: 'unknown key holding a mapping', file: 'cluster:\n  peers: x\n', error: /unknown key "cluster"/ },
    { name: 'unknown key inside a section', file: 'limits:\n  max_conections: 3\n', error: /c\.yaml:2: unknown key "limits\.max_conections" \(did you mean "limits\.max_connections"\?\)/ },
    { name: 'section given a value', file: 'tls: yes\n', error: /tls is a section/ },
    { name: 'certificate without its key', file: 'tls:\n  cert: x.pem\n', error: /tls\.cert is set but tls\.key is not/ },
    { name: 'plain-HTTP listener without TLS', env: { TESSERA_HTTP_ADDRESS: '127.0.0.1:9080' }, error: /TESSERA_HTTP_ADDRESS: http_address adds a plain-HTTP listener beside HTTPS/ },
    { name: 'body idle timeout of zero', env: { TESSERA_BODY_IDLE_TIMEOUT: '0' }, error: /TESSERA_BODY_IDLE_TIMEOUT: expected at least 1 second/ },
    { name: 'reserve above 99%', env: { TESSERA_DISK_RESERVE: '150%' }, error: /TESSERA_DISK_RESERVE: expected a percentage/ },
    { name: 'print_secret not a boolean', env: { TESSERA_PRINT_SECRET: 'maybe' }, error: /TESSERA_PRINT_SECRET: expected true or false/ },
    { name: 'env variable name used as a key', file: 'TESSERA_REGION: x\n', error: /unknown key "TESSERA_REGION" \(did you mean "region"\?\)/ },
    { name: 'a mapping where a value belongs', file: 'address:\n  host: x\n  port: 1\n', error: /c\.yaml:1: address: expected host:port .*got a mapping/ },
    { name: 'YAML syntax error', file: 'region: [unclosed\n', error: /c\.yaml:\d+: not valid YAML/ },
    { name: 'duplicate YAML key', file: 'region: a\nregion: b\n', error: /not valid YAML: .*unique/i },
    { name: 'top level is a list', file: '- a\n- b\n', error: /expected "key: value" settings at the top level/ },
    { name: 'address without port', env: { TESSERA_ADDRESS: 'localhost' }, error: /^TESSERA_ADDRESS: expected host:port .*no port/ },
    { name: 'port out of range', env: { TESSERA_ADDRESS: '127.0.0.1:70000' }, error: /TESSERA_ADDRESS: .*port 70000 is out of range/ },
    { name: 'port not a number', file: 'address: "127.0.0.1:http"\n', error: /c\.yaml:1: address: .*port "http" is not a number/ },
    { name: 'bad host', env: { TESSERA_ADDRESS: 'bad_host!:9000' }, error: /"bad_host!" is not a valid host name/ },
    { name: 'bare IPv6 address', env: { TESSERA_ADDRESS: '::1:9000' }, error: /IPv6 address in brackets/ },
    { name: 'parity too high', env: { TESSERA_DISKS: 'a,b,c,d', TESSERA_PARITY: '4' }, error: /^TESSERA_PARITY: parity 4 is too high for 4 disks; it must be between 0 and 3/ },
    { name: 'parity too high for one disk', file: 'disks: [only]\nparity: 1\n', error: /c\.yaml:2: parity: parity 1 is too high for 1 disk;/ },
    { name: 'parity not a number', env: { TESSERA_PARITY: 'two' }, error: /TESSERA_PARITY: expected a whole number, got "two"/ },
    { name: 'negative parity', file: 'parity: -1\n', error: /parity: expected a whole number, got -1/ },
    { name: 'fractional parity', file: 'parity: 1.5\n', error: /parity: expected a whole number, got 1\.5/ },
    { name: 'too many disks', env: { TESSERA_DISKS: Array.from({ length: 17 }, (_, i) => `d${i}`).join(',') }, error: /TESSERA_DISKS: at most 16 disks are supported, got 17/ },
    { name: 'no disks', file: 'disks: []\n', error: /disks: at least one disk directory is needed/ },
    { name: 'disks not a list of strings', file: 'disks: [a, 1]\n', error: /disks: expected a list of disk directories, but one entry is 1/ },
    { name: 'duplicate disks', env: { TESSERA_DISKS: 'a,b,./a/' }, error: /TESSERA_DISKS: disk \S+\/a is listed twice/ },
    { name: 'disk inside another disk', env: { TESSERA_DISKS: 'a,a/b' }, error: /disk \S+\/a\/b is inside disk \S+\/a/ },
    { name: 'meta dir inside a disk', env: { TESSERA_DISKS: 'a,b', TESSERA_META_DIR: 'a/meta' }, error: /TESSERA_META_DIR: meta_dir \S+ is inside disk/ },
    { name: 'meta dir is a disk', env: { TESSERA_DISKS: 'x/meta,x/b' }, error: /meta_dir \(default\): meta_dir \S+\/x\/meta is also a disk/ },
    {
      name: 'disk path is a file',
      env: { TESSERA_DISKS: 'a,b,c' },
      setup: (dir) => fs.writeFile(path.join(dir, 'b'), 'not a dir'),
      error: /TESSERA_DISKS: disk \S+\/b exists but is not a directory/,
    },
    {
      name: 'disk path below a file',
      env: { TESSERA_DISKS: 'f/d1,f/d2' },
      setup: (dir) => fs.writeFile(path.join(dir, 'f'), ''),
      error: /disk \S+\/f\/d1 cannot be created: part of its path is a file/,
    },
    {
      name: 'meta dir is a file',
      env: { TESSERA_META_DIR: 'metafile' },
      setup: (dir) => fs.writeFile(path.join(dir, 'metafile'), ''),
      error: /TESSERA_META_DIR: meta_dir \S+ exists but is not a directory/,
    },
    {
      name: 'two disks that are one directory through a symlink',
      env: { TESSERA_DISKS: 'real,link' },
      setup: async (dir) => {
        await fs.mkdir(path.join(dir, 'real'));
        await fs.symlink(path.join(dir, 'real'), path.join(dir, 'link'));
      },
      error: /disk \S+\/link and disk \S+\/real are the same directory/,
    },
    { name: 'bad size unit', env: { TESSERA_BLOCK_SIZE: '1M' }, error: /TESSERA_BLOCK_SIZE: unknown size unit "M" in "1M"/ },
    { name: 'size that is not a size', file: 'inline_threshold: lots\n', error: /inline_threshold: expected a size/ },
    { name: 'zero block size', file: 'block_size: 0\n', error: /block_size: block size must be between 1 byte and 64MiB, got 0/ },
    { name: 'huge inline threshold', env: { TESSERA_INLINE_THRESHOLD: '1GiB' }, error: /TESSERA_INLINE_THRESHOLD: inline threshold must be at most 16MiB/ },
    { name: 'bad scanner rate', env: { TESSERA_SCANNER_BYTES_PER_SECOND: 'fast' }, error: /TESSERA_SCANNER_BYTES_PER_SECOND: expected a size/ },
    { name: 'bad multipart expiry', env: { TESSERA_MULTIPART_EXPIRY_SECONDS: '7d' }, error: /TESSERA_MULTIPART_EXPIRY_SECONDS: expected a whole number, got "7d"/ },
    { name: 'bad log level', env: { TESSERA_LOG_LEVEL: 'verbose' }, error: /TESSERA_LOG_LEVEL: expected one of debug, info, warn, error, got "verbose"/ },
    { name: 'bad region', env: { TESSERA_REGION: 'us/east' }, error: /TESSERA_REGION: region "us\/east" must be/ },
    { name: 'domain with a port', env: { TESSERA_DOMAIN: 'ok.example,s3.example.com:9000' }, error: /TESSERA_DOMAIN: domain "s3.example.com:9000" must be a bare host name, without a port/ },
    { name: 'domain with a scheme', file: 'domains: ["https://s3.example.com"]\n', error: /domains: domain "https:\/\/s3.example.com" must be a bare host name, without a scheme/ },
    { name: 'access key without secret', env: { TESSERA_ROOT_ACCESS_KEY: 'ONLYACCESS' }, error: /^TESSERA_ROOT_ACCESS_KEY: root_access_key is set but root_secret_key is not/ },
    { name: 'secret without access key', file: 'root_secret_key: secret-only-here\n', error: /c\.yaml:1: root_secret_key: root_secret_key is set but root_access_key is not/ },
    { name: 'access key too short', env: { TESSERA_ROOT_ACCESS_KEY: 'ab', TESSERA_ROOT_SECRET_KEY: 'long-enough' }, error: /TESSERA_ROOT_ACCESS_KEY: access key must be 3 to 128 characters long, got 2/ },
    { name: 'access key too long', env: { TESSERA_ROOT_ACCESS_KEY: 'A'.repeat(129), TESSERA_ROOT_SECRET_KEY: 'long-enough' }, error: /got 129/ },
    { name: 'access key with a slash', env: { TESSERA_ROOT_ACCESS_KEY: 'AB/CD', TESSERA_ROOT_SECRET_KEY: 'long-enough' }, error: /access key may contain only/ },
    { name: 'secret too short', env: { TESSERA_ROOT_ACCESS_KEY: 'ACCESS', TESSERA_ROOT_SECRET_KEY: 'short' }, error: /TESSERA_ROOT_SECRET_KEY: secret key must be at least 8 characters long, got 5/ },
    { name: 'numeric secret in YAML', file: 'root_access_key: ACCESS\nroot_secret_key: 1234567890\n', error: /root_secret_key: expected a string, got a number \(quote it\)/ },
    { name: 'config file missing', argv: ['--config', 'nope.yaml'], error: /config file \S+\/nope\.yaml does not exist/ },
    { name: 'config file is a directory', env: { TESSERA_CONFIG: '.' }, error: /config file \S+ is a directory/ },
    { name: '--config without a path', argv: ['--config'], error: /--config needs a file path/ },
    { name: '--config given twice', argv: ['--config', 'a.yaml', '--config=b.yaml'], error: /--config is given more than once/ },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const dir = await tempDir();
      await c.setup?.(dir);
      const argv = [...(c.argv ?? [])];
      if (c.file !== undefined) {
        await writeFile(path.join(dir, 'c.yaml'), c.file);
        argv.push('--config', 'c.yaml');
      }
      await assertConfigError(load(dir, c.env ?? {}, argv), c.error);
    });
  }

  test('nothing is created when the config is bad', async () => {
    const dir = await tempDir();
    await fs.writeFile(path.join(dir, 'd3'), '');
    await assertConfigError(load(dir, { TESSERA_DISKS: 'd1,d2,d3' }), /exists but is not a directory/);
    assert.equal(existsSync(path.join(dir, 'd1')), false);
    assert.equal(existsSync(path.join(dir, 'meta')), false);
    await assertConfigError(load(dir, { TESSERA_DISKS: 'e1,e2', TESSERA_ROOT_ACCESS_KEY: 'ONLYACCESS' }), /root_secret_key is not/);
    assert.equal(existsSync(path.join(dir, 'e1')), false);
  });

  test('an unwritable disk is refused', { skip: process.getuid?.() === 0 ? 'root can write anywhere' : false }, async () => {
    const dir = await tempDir();
    await fs.mkdir(path.join(dir, 'ro'));
    await fs.chmod(path.join(dir, 'ro'), 0o500);
    try {
      await assertConfigError(load(dir, { TESSERA_DISKS: 'ro,ok' }), /disk \S+\/ro is not readable and writable/);
    } finally {
      await fs.chmod(path.join(dir, 'ro'), 0o700);
    }
  });

  test('a secret never appears in a message', async () => {
    const dir = await tempDir();
    const secret = ' pasted-secret-with-a-space';
    const err = await assertConfigError(load(dir, { TESSERA_ROOT_ACCESS_KEY: 'ACCESS', TESSERA_ROOT_SECRET_KEY: secret }), /leading or trailing spaces/);
    assert.ok(!err.message.includes(secret.trim()));
  });

  test('formatConfigError gives the one line the CLI prints', async () => {
    const dir = await tempDir();
    const err = await assertConfigError(load(dir, { TESSERA_PARITY: 'x' }), /TESSERA_PARITY/);
    assert.equal(formatConfigError(err), 'tessera: config: TESSERA_PARITY: expected a whole number, got "x"');
    assert.equal(formatConfigError(new ConfigError('a\n  b')), 'tessera: config: a b');
    assert.match(formatConfigError(new Error('boom')), /^tessera: config: unexpected error: boom$/);
  });
});

describe('root credentials', () => {
  test('generated on first start, stored 0600 in the meta dir, reused afterwards', async () => {
    const cwd = await tempDir();
    const first = await load(cwd);
    const file = path.join(cwd, 'data', 'meta', 'credentials.json');
    assert.equal(first.credentials.generated, true);
    assert.equal(first.credentials.storedAt, file);
    assert.match(first.credentials.accessKeyId, /^TSR[A-Z0-9]{17}$/);
    assert.match(first.credentials.secretAccessKey, /^[A-Za-z0-9_-]{40}$/);
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    const stored = JSON.parse(await fs.readFile(file, 'utf8'));
    assert.equal(stored.accessKeyId, first.credentials.accessKeyId);
    assert.equal(stored.secretAccessKey, first.credentials.secretAccessKey);
    // No temporary file is left behind; each disk keeps a copy (0600) in its meta/ directory,
    // so losing the metadata directory does not change the keys.
    assert.deepEqual(await fs.readdir(path.join(cwd, 'data', 'meta')), ['credentials.json']);
    for (const disk of first.disks) {
      assert.deepEqual(await fs.readdir(disk), ['meta']);
      const copy = path.join(disk, 'meta', 'credentials.json');
      assert.equal((await fs.stat(copy)).mode & 0o777, 0o600);
      const c = JSON.parse(await fs.readFile(copy, 'utf8'));
      assert.equal(c.accessKeyId, first.credentials.accessKeyId);
      assert.equal(c.secretAccessKey, first.credentials.secretAccessKey);
    }

    const second = await load(cwd);
    assert.equal(second.credentials.generated, false);
    assert.equal(second.credentials.accessKeyId, first.credentials.accessKeyId);
    assert.equal(second.credentials.secretAccessKey, first.credentials.secretAccessKey);
  });

  test('a lost metadata directory gets the same pair back from the disks', async () => {
    const cwd = await tempDir();
    const first = await load(cwd);
    await fs.rm(path.join(cwd, 'data', 'meta'), { recursive: true, force: true });
    const second = await load(cwd);
    assert.equal(second.credentials.generated, false);
    assert.equal(second.credentials.accessKeyId, first.credentials.accessKeyId);
    assert.equal(second.credentials.secretAccessKey, first.credentials.secretAccessKey);
    assert.equal((await fs.stat(path.join(cwd, 'data', 'meta', 'credentials.json'))).mode & 0o777, 0o600);
  });

  test('two servers starting at once on one meta dir agree on one pair', async () => {
    const cwd = await tempDir();
    const [a, b] = await Promise.all([load(cwd), load(cwd)]);
    assert.equal(a.credentials.accessKeyId, b.credentials.accessKeyId);
    assert.equal(a.credentials.secretAccessKey, b.credentials.secretAccessKey);
    assert.equal([a, b].filter((c) => c.credentials.generated).length, 1);
  });

  test('configured credentials are used as given and nothing is written', async () => {
    const cwd = await tempDir();
    const c = await load(cwd, fixedCredentials);
    assert.deepEqual(c.credentials, { accessKeyId: 'TESTACCESSKEY', secretAccessKey: 'test-secret-key', generated: false });
    assert.equal(existsSync(path.join(c.metaDir, 'credentials.json')), false);
  });

  test('a loosened credentials file is tightened back to 0600', async () => {
    const cwd = await tempDir();
    const first = await load(cwd);
    await fs.chmod(first.credentials.storedAt!, 0o644);
    await load(cwd);
    assert.equal((await fs.stat(first.credentials.storedAt!)).mode & 0o777, 0o600);
  });

  test('a damaged credentials file is a config error, not a silent new key', async () => {
    const cwd = await tempDir();
    await writeFile(path.join(cwd, 'data', 'meta', 'credentials.json'), '{ not json');
    await assertConfigError(load(cwd), /credentials\.json are not valid JSON/);
    await writeFile(path.join(cwd, 'data', 'meta', 'credentials.json'), '{"accessKeyId":"AKIA1234","secretAccessKey":"short"}');
    await assertConfigError(load(cwd), /credentials\.json are damaged: secret key must be at least 8 characters/);
  });

  test('generated keys have the AWS-like shape and use the given randomness', () => {
    let counter = 0;
    const fake = (n: number) => Uint8Array.from({ length: n }, () => counter++ % 256);
    const pair = generateKeyPair(fake);
    assert.match(pair.accessKeyId, /^TSR[A-Z0-9]{17}$/);
    assert.equal(pair.accessKeyId, 'TSRABCDEFGHIJKLMNOPQ');
    assert.equal(pair.secretAccessKey.length, 40);
    assert.notEqual(generateKeyPair().accessKeyId, generateKeyPair().accessKeyId);
  });
});

describe('config.example.yaml', () => {
  test('loads cleanly and means exactly the defaults', async () => {
    const root = repoRoot();
    // Copied to a temporary directory so the relative disk paths in it land there, not in the checkout.
    const dir = await tempDir();
    const copy = path.join(dir, 'config.example.yaml');
    await fs.copyFile(path.join(root, 'config.example.yaml'), copy);
    const elsewhere = await tempDir();
    const fromExample = await load(elsewhere, {}, ['--config', copy]);
    const fromDefaults = await load(dir, {});
    const strip = ({ credentials, configFile, ...rest }: Config) => rest;
    assert.deepEqual(strip(fromExample), strip(fromDefaults));
    assert.equal(fromExample.configFile, copy);
    // Both loads use the same meta dir, so the second one reuses the pair the first generated.
    assert.equal(fromExample.credentials.generated, true);
    assert.equal(fromDefaults.credentials.generated, false);
    assert.equal(fromDefaults.credentials.accessKeyId, fromExample.credentials.accessKeyId);
  });

  test('documents every key: a comment right above it with the default and the env variable', async () => {
    const lines = (await fs.readFile(path.join(repoRoot(), 'config.example.yaml'), 'utf8')).split('\n');
    for (const [key, variable] of Object.entries(CONFIG_KEYS)) {
      // A dotted key ("tls.cert") is written inside its section: "tls:" then "  cert: …".
      const dot = key.indexOf('.');
      const section = dot < 0 ? -1 : lines.findIndex((l) => l.startsWith(`${key.slice(0, dot)}:`));
      if (dot >= 0) assert.ok(section > 0, `section of ${key} is in the example`);
      const prefix = dot < 0 ? `${key}:` : `  ${key.slice(dot + 1)}:`;
      const at = lines.findIndex((l, i) => i > section && l.startsWith(prefix));
      assert.ok(at > 0, `${key} is in the example`);
      const comment: string[] = [];
      for (let i = at - 1; i >= 0 && lines[i]!.trimStart().startsWith('#'); i--) comment.unshift(lines[i]!.trim());
      const text = comment.join(' ');
      assert.ok(comment.length > 0, `${key} has a comment above it`);
      assert.match(text, /Default:/, `${key} comment gives the default`);
      assert.ok(text.includes(`Env: ${variable}`), `${key} comment names ${variable}`);
    }
  });
});
