// The server process's life as users see it, through the real command: signals reach it under
// `npm start`, a closed stdout/stderr cannot make it spin, SIGTERM during an upload finishes or
// cuts it cleanly (never half-committed), a second server on the same metadata directory
// stops with one line, and --help never starts a server.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import { SERVER_NODE_FLAGS } from '../../src/util/node-flags.js';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Level } from 'level';
import { freePort, spawnServer } from '../helpers/process-server.js';
import { signRaw, sendRaw, type RawTarget } from '../helpers/raw-sign.js';
import { repoRoot } from '../helpers/repo-root.js';
import { TEST_ACCESS_KEY, TEST_SECRET_KEY } from '../helpers/server.js';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function tempRoot(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'tessera-life-'));
}

/** PIDs of every process below `pid` (Linux /proc). */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // The command name may hold spaces and parentheses: the fields after it are split from the last ')'.
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parent) if (pp === p) (out.push(c), walk(c));
  };
  walk(pid);
  return out;
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return [];
  }
}

function envFor(root: string, port: number): Record<string, string> {
  return {
    TESSERA_ADDRESS: `127.0.0.1:${port}`,
    TESSERA_DISKS: [1, 2, 3, 4].map((i) => path.join(root, `disk${i}`)).join(','),
    TESSERA_META_DIR: path.join(root, 'meta'),
    TESSERA_ROOT_ACCESS_KEY: TEST_ACCESS_KEY,
    TESSERA_ROOT_SECRET_KEY: TEST_SECRET_KEY,
    TESSERA_LOG_LEVEL: 'info',
  };
}

function target(port: number): RawTarget {
  return { host: '127.0.0.1', port, accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY, region: 'us-east-1' };
}

/** True once nothing listens on the port. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

/** True when the metadata store can be opened (its LevelDB lock is free). */
async function metaUnlocked(root: string): Promise<boolean> {
  const db = new Level(path.join(root, 'meta', 'leveldb'), { createIfMissing: false });
  try {
    await db.open();
    await db.close();
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, ms: number, check: () => Promise<boolean> | boolean): Promise<number> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(50);
  }
  return Date.now() - t0;
}

/** user+system CPU ticks of a process so far (Linux /proc/PID/stat fields 14 and 15). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

async function tempFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  for (let i = 1; i <= 4; i++) {
    const dir = path.join(root, `disk${i}`, 'tmp');
    for (const f of await fs.readdir(dir, { recursive: true }).catch(() => [] as string[])) {
      if ((await fs.stat(path.join(dir, String(f)))).isFile()) out.push(path.join(dir, String(f)));
    }
  }
  return out;
}

describe('process lifecycle', { timeout: 300_000 }, () => {
  for (const [name, args] of [['npm start', ['start', '--silent']], ['npx tessera server', ['exec', '--', 'tessera', 'server']]] as const) {
  test(`${name}: no rebuild of a built tree; SIGTERM to the npm PID stops the server, frees the port and the metadata lock`, { timeout: 120_000 }, async () => {
    const root = await tempRoot();
    const port = await freePort();
    const t0 = Date.now();
    const npm = spawn('npm', [...args], { cwd: repoRoot(), env: { ...process.env, ...envFor(root, port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    npm.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    npm.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | string>((resolve) => npm.on('exit', (code, sig) => resolve(code ?? sig ?? -1)));
    await until(`server ready (${out})`, 60_000, () => out.includes('endpoint:'));
    const ready = Date.now() - t0;
    assert.doesNotMatch(out, /compiling/, 'dist/ is up to date after the test build: no recompilation');
    assert.ok(!(await portFree(port)), 'the server listens');
    if (name === 'npm start') {
      // `npm start` runs the server with the V8 flags that keep Node 24's memory use as on 22
      // (src/util/node-flags.ts); npx goes through the bin's shebang, where the README says to
      // set NODE_OPTIONS.
      const procs = descendants(npm.pid!).map(cmdline);
      const server = procs.find((c) => c.some((a) => a.endsWith('tessera.js')) && c.includes('server'));
      assert.ok(server, `the server process under npm (${procs.map((c) => c.join(' ')).join(' | ')})`);
      for (const flag of SERVER_NODE_FLAGS) assert.ok(server.includes(flag), `${flag} in ${server.join(' ')}`);
    }
    npm.kill('SIGTERM');
    const freed = await until('port free after SIGTERM to npm', 10_000, () => portFree(port));
    await until('metadata lock released', 10_000, () => metaUnlocked(root));
    // npm run passes SIGTERM on and exits with the server's status; npm exec exits at once
    // without passing it on (the server then stops because npm is gone).
    const status = await exited;
    if (name === 'npm start') assert.equal(status, 0, `npm exit status (output: ${out.slice(-2000)})`);
    await until('the server logs its last line', 10_000, () => out.includes('shutdown complete'));
    process.stderr.write(`# ${name} to ready: ${ready} ms; port free ${freed} ms after SIGTERM\n`);
    await fs.rm(root, { recursive: true, force: true });
  });
  }

  test('stdout and stderr a closed pipe: no spinning; SIGTERM still stops it at once with status 0', { timeout: 60_000 }, async () => {
    const root = await tempRoot();
    const port = await freePort();
    const s = await spawnServer(root, port, { TESSERA_LOG_LEVEL: 'debug' });
    const pid = s.child.pid!;
    // The reading ends go away: every later write of the server fails with EPIPE.
    s.child.stdout!.destroy();
    s.child.stderr!.destroy();
    await sleep(200);
    // Requests make log lines (which now fail) …
    for (let i = 0; i < 20; i++) await sendRaw(target(port), { method: 'GET', path: '/', timeoutMs: 5000 });
    const before = cpuTicks(pid);
    await sleep(1000);
    const idle = cpuTicks(pid) - before;
    // … and the server idles (clock ticks are 1/100 s; a spinning process takes ~100 per second).
    assert.ok(idle < 30, `CPU ticks in 1 s while idle with closed pipes: ${idle}`);
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    const code = await Promise.race([s.exited, sleep(10_000).then(() => 'still running')]);
    if (code === 'still running') s.child.kill('SIGKILL');
    assert.equal(code, 0);
    process.stderr.write(`# shutdown with closed pipes: ${Date.now() - t0} ms\n`);
    await fs.rm(root, { recursive: true, force: true });
  });

  /** Starts a 200 MiB PUT written in 1 MiB pieces `gapMs` apart; resolves with the status or the error. */
  function upload(port: number, key: string, gapMs: number, onSent: (bytes: number) => void): Promise<number | Error> {
    const size = 200 * MiB;
    const headers = signRaw(target(port), { method: 'PUT', path: `/life/${key}`, headers: { 'content-length': String(size) } });
    return new Promise((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path: `/life/${key}`, headers });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', (e) => resolve(e));
      });
      req.on('error', (e) => resolve(e));
      const piece = Buffer.alloc(MiB, 7);
      void (async () => {
        for (let sent = 0; sent < size; sent += MiB) {
          if (req.destroyed) return;
          if (!req.write(piece)) {
            await new Promise<void>((r) => {
              const go = () => {
                req.off('drain', go).off('close', go);
                r();
              };
              req.on('drain', go).on('close', go);
            });
          }
          onSent(sent + MiB);
          if (gapMs) await sleep(gapMs);
        }
        req.end();
      })();
    });
  }

  test('SIGTERM during a 200 MiB upload: with time enough it completes and is readable after a restart', { timeout: 180_000 }, async () => {
    const root = await tempRoot();
    const port = await freePort();
    const s = await spawnServer(root, port, { TESSERA_SHUTDOWN_TIMEOUT: '120' });
    assert.equal((await sendRaw(target(port), { method: 'PUT', path: '/life' })).status, 200);
    let sent = 0;
    // Paced (about 2 s for the rest) so that the shutdown really has to wait for it.
    const result = upload(port, 'big', 10, (n) => (sent = n));
    await until('20 MiB sent', 60_000, () => sent >= 20 * MiB);
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    // A new connection is refused while the upload goes on.
    await until('listener closed', 10_000, () => portFree(port));
    assert.equal(await result, 200, `upload result (server output: ${s.output().slice(-1500)})`);
    assert.equal(await s.exited, 0);
    process.stderr.write(`# graceful shutdown with a 200 MiB upload in flight: ${Date.now() - t0} ms\n`);
    assert.match(s.output(), /1 request\(s\) in flight/);
    const again = await spawnServer(root, port);
    const head = await sendRaw(target(port), { method: 'HEAD', path: '/life/big' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(200 * MiB));
    assert.deepEqual(await tempFiles(root), []);
    again.child.kill('SIGTERM');
    assert.equal(await again.exited, 0);
    await fs.rm(root, { recursive: true, force: true });
  });

  test('SIGTERM during a slow upload with a 1 s shutdown_timeout: the upload is cut, exit 0, nothing half-committed', { timeout: 180_000 }, async () => {
    const root = await tempRoot();
    const port = await freePort();
    const s = await spawnServer(root, port, { TESSERA_SHUTDOWN_TIMEOUT: '1' });
    assert.equal((await sendRaw(target(port), { method: 'PUT', path: '/life' })).status, 200);
    let sent = 0;
    const result = upload(port, 'cut', 50, (n) => (sent = n));
    await until('10 MiB sent', 60_000, () => sent >= 10 * MiB);
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    const code = await Promise.race([s.exited, sleep(20_000).then(() => 'still running')]);
    if (code === 'still running') s.child.kill('SIGKILL');
    assert.equal(code, 0, s.output().slice(-1500));
    const took = Date.now() - t0;
    assert.ok(took < 10_000, `exit ${took} ms after SIGTERM`);
    const r = await result;
    assert.ok(r instanceof Error || r !== 200, `the cut upload did not succeed: ${String(r)}`);
    assert.match(s.output(), /cutting 1 request\(s\) still in flight/);
    process.stderr.write(`# shutdown cutting an upload (timeout 1 s): ${took} ms\n`);
    const again = await spawnServer(root, port);
    assert.equal((await sendRaw(target(port), { method: 'HEAD', path: '/life/cut' })).status, 404);
    assert.deepEqual(await tempFiles(root), []);
    again.child.kill('SIGTERM');
    assert.equal(await again.exited, 0);
    await fs.rm(root, { recursive: true, force: true });
  });

  test('a second server on the same metadata directory stops with one line and a nonzero status', { timeout: 60_000 }, async () => {
    const root = await tempRoot();
    const port = await freePort();
    const first = await spawnServer(root, port);
    const other = await freePort();
    const main = path.join(repoRoot(), 'dist', 'src', 'cli', 'main.js');
    const r = spawnSync(process.execPath, [main, 'server'], { env: { ...process.env, ...envFor(root, other) }, encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim(), `tessera: metadata directory ${path.join(root, 'meta')} is in use by another Tessera process (stop it first, or give this one its own meta_dir)`);
    assert.doesNotMatch(r.stderr + r.stdout, /Database failed to open|\n\s+at /);
    // Nor may `admin meta rebuild` move the running server's index aside.
    const rebuild = spawnSync(process.execPath, [main, 'admin', 'meta', 'rebuild'], { env: { ...process.env, ...envFor(root, other) }, encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(rebuild.status, 0);
    assert.match(rebuild.stderr, /metadata directory .* is in use by another Tessera process/);
    assert.equal(await fs.readdir(path.join(root, 'meta')).then((l) => l.filter((f) => f.startsWith('leveldb.')).length), 0, 'no index moved aside');
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0);
    await fs.rm(root, { recursive: true, force: true });
  });

  test('--help on every subcommand prints help and starts nothing; --version prints the version', { timeout: 60_000 }, async () => {
    const root = await tempRoot();
    const port = await freePort();
    const bin = path.join(repoRoot(), 'bin', 'tessera.js');
    const pkg = JSON.parse(await fs.readFile(path.join(repoRoot(), 'package.json'), 'utf8')) as { version: string };
    const v = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
    assert.equal(v.stdout.trim(), `tessera ${pkg.version}`);
    const commands = [['server'], ['admin'], ['admin', 'meta', 'verify'], ['admin', 'meta', 'rebuild'], ['admin', 'user', 'add', 'x'], ['bench'], ['bench', 'memory'], []];
    for (const words of commands) {
      for (const flag of ['--help', '-h']) {
        const r = spawnSync(process.execPath, [bin, ...words, flag], { cwd: root, env: { ...process.env, ...envFor(root, port) }, encoding: 'utf8', timeout: 20_000 });
        const what = `tessera ${[...words, flag].join(' ')}`;
        assert.equal(r.status, 0, `${what}: ${r.stderr}`);
        assert.match(r.stdout, /^usage: tessera/, what);
        assert.doesNotMatch(r.stdout, /Tessera S3 server/, what);
      }
    }
    // Nothing was started or created: no disk, no metadata directory.
    assert.deepEqual(await fs.readdir(root), []);
    await fs.rm(root, { recursive: true, force: true });
  });
});
