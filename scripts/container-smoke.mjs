#!/usr/bin/env node
// Builds and starts the container image without a container engine: reads the Dockerfile and
// carries out its stages in a clean temporary directory, on the Node major version of its base
// image, then starts the final stage's CMD with the image's ENV, USER and WORKDIR and checks it
// the way Docker and an operator would: the HEALTHCHECK command, GET /health/ready, an S3 round
// trip with the generated credentials, SIGTERM (docker stop), a restart on the same "volumes"
// that finds the data and keeps the secret out of the log.
//
//   node scripts/container-smoke.mjs [--keep]
//
// Each Dockerfile instruction is interpreted, not re-typed here, so the script follows the file:
// - every stage gets its own root directory; absolute paths the Dockerfile names (/app, /data)
//   are mapped into it, in RUN commands, ENV values, COPY and WORKDIR alike;
// - the build context is the repository filtered by .dockerignore;
// - RUN apt-get … is not run (it would change this machine): the packages it installs must be
//   there already (the build toolchain), and the script checks they are;
// - `node`, `npm` and node-gyp run on the base image's Node major: this Node if it is that
//   major, else TESSERA_SMOKE_NODE, else the official binary from the npm registry package
//   node-linux-<arch>@<major>, cached under ~/.cache/tessera-smoke; native addons are built
//   against that Node's headers, which the package carries;
// - the final stage runs as the image's user: uid 1000 for `node` when this script runs as
//   root (chown node:node in RUN becomes 1000:1000), else as the current user.
// What it cannot check: the base image's own contents (libc, its npm version), and anything a
// real engine adds (volume copy-up, networking); test/deploy/manifests.test.ts checks the file.

import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, promises as fs, realpathSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KEEP = process.argv.includes('--keep');
/** Users of the official node images. */
const IMAGE_USERS = { node: { uid: 1000, gid: 1000 }, root: { uid: 0, gid: 0 } };

const started = Date.now();
const timings = [];
function say(msg) {
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`);
}
function fail(msg) {
  throw new Error(msg);
}
async function step(name, fn) {
  const t = Date.now();
  say(`${name} …`);
  const r = await fn();
  timings.push([name, Date.now() - t]);
  say(`${name}: done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

/** The Dockerfile as instructions: continuation lines joined, comments dropped. */
function parseDockerfile(text) {
  const out = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (pending === '' && /^\s*#/.test(line)) continue;
    if (pending !== '' && /^\s*#/.test(line)) continue; // comments inside a continued instruction
    if (/\\\s*$/.test(line)) {
      pending += line.replace(/\\\s*$/, ' ');
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (full === '') continue;
    const m = /^(\S+)\s*(.*)$/s.exec(full);
    out.push({ op: m[1].toUpperCase(), args: m[2].trim() });
  }
  return out;
}

/** Splits on spaces, honouring double and single quotes (ENV, COPY). */
function words(s) {
  const out = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m;
  while ((m = re.exec(s))) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2] ?? m[3]);
  return out;
}

/** `["a", "b"]` (exec form) or a shell string. */
function commandOf(args) {
  if (args.startsWith('[')) return { exec: JSON.parse(args) };
  return { exec: ['/bin/sh', '-c', args] };
}

function parseEnv(args) {
  const env = {};
  const ws = words(args);
  if (ws.length === 2 && !ws[0].includes('=')) return { [ws[0]]: ws[1] };
  for (const w of ws) {
    const i = w.indexOf('=');
    if (i <= 0) fail(`ENV ${args}: expected KEY=VALUE pairs`);
    env[w.slice(0, i)] = w.slice(i + 1);
  }
  return env;
}

// ---------------------------------------------------------------------------------------------
// .dockerignore

function globToRegExp(pattern) {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

async function readIgnore() {
  let text = '';
  try {
    text = await fs.readFile(path.join(REPO, '.dockerignore'), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const p = path.posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, '')).replace(/\/+$/, '');
      return { negate, text: p, re: globToRegExp(p) };
    });
}

/** Docker's rule: the last pattern that matches the path or one of its parents decides. */
function ignored(rules, rel) {
  const parts = rel.split('/');
  let out = false;
  for (const r of rules) {
    for (let n = 1; n <= parts.length; n++) {
      if (r.re.test(parts.slice(0, n).join('/'))) {
        out = !r.negate;
        break;
      }
    }
  }
  return out;
}

/** Copies the repository into `dest` as Docker would send it as the build context. */
async function buildContext(dest, rules) {
  let files = 0;
  const walk = async (rel) => {
    for (const e of await fs.readdir(path.join(REPO, rel), { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      const out = ignored(rules, r);
      if (e.isDirectory()) {
        // An excluded directory is still entered when a later "!" pattern may take back something in it.
        if (out && !rules.some((x) => x.negate && x.text.startsWith(`${r}/`))) continue;
        await walk(r);
      } else if (!out) {
        await fs.mkdir(path.join(dest, rel), { recursive: true });
        await fs.copyFile(path.join(REPO, r), path.join(dest, r));
        files++;
      }
    }
  };
  await walk('');
  return files;
}

// ---------------------------------------------------------------------------------------------
// Node of the base image's major version

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  return r.stdout;
}

/** The directory of a Node distribution (bin/node, include/node) of this major version. */
async function nodeOfMajor(major) {
  const own = Number(process.versions.node.split('.')[0]);
  if (own === major) return { node: process.execPath, nodedir: undefined, version: process.version, source: 'this Node' };
  const given = process.env.TESSERA_SMOKE_NODE;
  if (given) {
    const v = run(given, ['--version']).trim();
    if (Number(v.slice(1).split('.')[0]) !== major) fail(`TESSERA_SMOKE_NODE=${given} is ${v}, the Dockerfile needs Node ${major}`);
    return { node: given, nodedir: path.resolve(path.dirname(given), '..'), version: v, source: 'TESSERA_SMOKE_NODE' };
  }
  if (process.platform !== 'linux') fail(`Node ${major} is needed; set TESSERA_SMOKE_NODE to its binary`);
  const arch = { x64: 'x64', arm64: 'arm64' }[process.arch] ?? fail(`no Node package for ${process.arch}`);
  const cache = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'tessera-smoke', `node-linux-${arch}-${major}`);
  const bin = path.join(cache, 'package', 'bin', 'node');
  if (!existsSync(bin)) {
    // The official binary, as the npm registry publishes it (the package the `node` package installs).
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-smoke-node-'));
    try {
      const name = run('npm', ['pack', `node-linux-${arch}@${major}`, '--pack-destination', tmp, '--silent']).trim().split('\n').pop();
      await fs.mkdir(cache, { recursive: true });
      run('tar', ['xzf', path.join(tmp, name), '-C', cache]);
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }
  const version = run(bin, ['--version']).trim();
  return { node: bin, nodedir: path.join(cache, 'package'), version, source: `npm package node-linux-${arch}@${version.slice(1)}` };
}

/**
 * The npm CLI's JavaScript entry, to run under the chosen Node: the one `npm test` runs (it sets
 * npm_execpath), else the one the `npm` on PATH leads to, else npm's usual global homes.
 */
function npmCliScript() {
  const isJs = (f) => {
    try {
      return f.endsWith('.js') && statSync(f).isFile();
    } catch {
      return false;
    }
  };
  const candidates = [process.env.npm_execpath ?? ''];
  const onPath = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) candidates.push(realpathSync(onPath));
  for (const prefix of [path.resolve(path.dirname(process.execPath), '..'), '/usr/local', '/usr']) candidates.push(path.join(prefix, 'lib/node_modules/npm/bin/npm-cli.js'));
  return candidates.find(isJs) ?? fail(`cannot find npm-cli.js (tried ${candidates.filter(Boolean).join(', ')})`);
}

/** A bin directory with `node` and `npm` of the chosen Node, first on PATH for every step. */
async function toolDir(dir, node) {
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  const npmCli = npmCliScript();
  await fs.copyFile(node, path.join(dir, 'node'));
  await fs.chmod(path.join(dir, 'node'), 0o755);
  await fs.writeFile(path.join(dir, 'npm'), `#!/bin/sh\nexec "${path.join(dir, 'node')}" "${npmCli}" "$@"\n`, { mode: 0o755 });
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Stages

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function get(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function until(what, deadlineMs, probe) {
  const end = Date.now() + deadlineMs;
  let last;
  for (;;) {
    try {
      const r = await probe();
      if (r) return r;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) fail(`${what}: not within ${deadlineMs / 1000} s${last ? ` (${last.message})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  const dockerfile = parseDockerfile(await fs.readFile(path.join(REPO, 'Dockerfile'), 'utf8'));
  const froms = dockerfile.filter((i) => i.op === 'FROM').map((i) => words(i.args));
  const majors = new Set(froms.map(([image]) => /^node:(\d+)/.exec(image)?.[1] ?? fail(`FROM ${image}: not an official node image`)));
  if (majors.size !== 1) fail(`the stages use different Node versions: ${[...majors].join(', ')}`);
  const major = Number([...majors][0]);

  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-container-smoke-'));
  await fs.chmod(root, 0o755); // the runtime user must reach its stage
  say(`work directory ${root}`);
  const asRoot = process.getuid?.() === 0;
  let server;
  try {
    const nodeInfo = await step(`Node ${major} for the stages`, () => nodeOfMajor(major));
    say(`Node ${nodeInfo.version} from ${nodeInfo.source}`);
    const tools = await toolDir(path.join(root, 'tools'), nodeInfo.node);

    const rules = await readIgnore();
    const context = path.join(root, 'context');
    const files = await step('build context (.dockerignore applied)', () => buildContext(context, rules));
    say(`${files} files in the context`);

    // Every absolute directory the Dockerfile names lives under the stage's own root.
    const absRoots = new Set();
    for (const i of dockerfile.filter((x) => ['WORKDIR', 'ENV', 'COPY', 'VOLUME', 'RUN'].includes(x.op))) {
      const found = i.args.match(/(?<=^|[\s=,:"'[])\/[A-Za-z0-9_.-]+/g) ?? [];
      for (const p of found) if (!['/bin', '/usr', '/var', '/etc', '/tmp', '/dev', '/proc', '/run', '/lib'].includes(p)) absRoots.add(p);
    }
    const mapper = (stageRoot) => {
      const re = new RegExp(`(^|[\\s=,:"'\\[])(${[...absRoots].map((r) => r.replace(/[.]/g, '\\.')).join('|')})(?=$|[/\\s,:"'\\]])`, 'g');
      return (s) => (absRoots.size === 0 ? s : s.replace(re, (_, pre, p) => `${pre}${stageRoot}${p}`));
    };
    const finalUser = [...dockerfile].reverse().find((i) => i.op === 'USER')?.args.trim() ?? 'root';
    const runtime = asRoot ? IMAGE_USERS[finalUser] ?? fail(`USER ${finalUser}: unknown uid`) : { uid: process.getuid(), gid: process.getgid() };

    const stages = new Map();
    let stage;
    for (const [n, ins] of dockerfile.entries()) {
      const label = `${ins.op} ${ins.args.length > 90 ? ins.args.slice(0, 87) + '...' : ins.args}`;
      switch (ins.op) {
        case 'FROM': {
          const [, as, name] = words(ins.args);
          const id = as?.toUpperCase() === 'AS' ? name : String(stages.size);
          const dir = path.join(root, `stage-${id}`);
          await fs.mkdir(dir, { mode: 0o755 });
          stage = { id, dir, map: mapper(dir), workdir: dir, env: {}, user: 'root', volumes: [], expose: [], cmd: undefined, healthcheck: undefined };
          stages.set(id, stage);
          say(`stage ${id} (${words(ins.args)[0]}) in ${dir}`);
          break;
        }
        case 'WORKDIR':
          stage.workdir = path.resolve(stage.workdir, stage.map(ins.args));
          await fs.mkdir(stage.workdir, { recursive: true });
          break;
        case 'ENV':
          for (const [k, v] of Object.entries(parseEnv(ins.args))) stage.env[k] = stage.map(v);
          break;
        case 'COPY': {
          const ws = words(ins.args);
          const flags = ws.filter((w) => w.startsWith('--'));
          const rest = ws.filter((w) => !w.startsWith('--'));
          const fromFlag = flags.find((f) => f.startsWith('--from='));
          const from = fromFlag ? stages.get(fromFlag.slice(7)) ?? fail(`${label}: no stage ${fromFlag.slice(7)}`) : undefined;
          if (flags.some((f) => !f.startsWith('--from='))) fail(`${label}: only --from is supported here`);
          const dest = path.resolve(stage.workdir, stage.map(rest.pop()));
          const toDir = rest.length > 1 || /\/$/.test(ins.args.trim());
          await step(`step ${n + 1}: ${label}`, async () => {
            for (const src of rest) {
              const source = from ? from.map(src).replace(/^(?!\/)/, `${from.workdir}/`) : path.join(context, src);
              if (!existsSync(source)) fail(`${label}: ${src} is not in the ${from ? `stage ${from.id}` : 'build context (see .dockerignore)'}`);
              const isDir = statSync(source).isDirectory();
              const target = isDir || !toDir ? dest : path.join(dest, path.basename(source));
              await fs.mkdir(isDir ? target : path.dirname(target), { recursive: true });
              // -a keeps node_modules/.bin links relative and modes as they are; like COPY, the copies belong to root (or the caller).
              run('cp', ['-a', isDir ? `${source}/.` : source, target]);
            }
          });
          break;
        }
        case 'RUN': {
          const cmd = ins.args;
          if (/^\s*apt-get\b/.test(cmd)) {
            const pkgs = (/apt-get install\s+((?:-\S+\s+)*)([^&;]+)/.exec(cmd)?.[2] ?? '').trim().split(/\s+/).filter(Boolean);
            const missing = pkgs.filter((p) => spawnSync('sh', ['-c', `command -v ${p}`]).status !== 0);
            if (missing.length) fail(`${label}: not run here, and ${missing.join(', ')} missing on this machine`);
            say(`step ${n + 1}: ${label}: not run (system packages); ${pkgs.join(', ')} present on this machine`);
            break;
          }
          // Names of the image's users become ids this machine has.
          const text = stage.map(cmd).replace(/\bchown(\s+-R)?\s+(\w+):(\w+)/g, (_, r, u) => {
            const id = asRoot ? IMAGE_USERS[u] ?? fail(`${label}: unknown user ${u}`) : runtime;
            return `chown${r ?? ''} ${id.uid}:${id.gid}`;
          });
          await step(`step ${n + 1}: ${label}`, async () => {
            const r = spawnSync('/bin/sh', ['-c', text], {
              cwd: stage.workdir,
              env: { ...process.env, ...stage.env, PATH: `${tools}:${process.env.PATH}`, ...(nodeInfo.nodedir ? { npm_config_nodedir: nodeInfo.nodedir } : {}) },
              encoding: 'utf8',
              maxBuffer: 256 * 1024 * 1024,
            });
            if (r.status !== 0) fail(`${label} failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
          });
          break;
        }
        case 'VOLUME':
          stage.volumes = (ins.args.startsWith('[') ? JSON.parse(ins.args) : words(ins.args)).map(stage.map);
          break;
        case 'EXPOSE':
          stage.expose = words(ins.args).map((p) => Number(p.split('/')[0]));
          break;
        case 'USER':
          stage.user = ins.args.trim();
          break;
        case 'HEALTHCHECK': {
          const m = /^(.*?)\bCMD\s+(.*)$/s.exec(ins.args) ?? fail(`${label}: expected HEALTHCHECK [options] CMD …`);
          stage.healthcheck = commandOf(m[2].trim());
          break;
        }
        case 'CMD':
          stage.cmd = commandOf(ins.args);
          break;
        case 'STOPSIGNAL':
          stage.stopsignal = ins.args.trim();
          break;
        case 'LABEL':
          break;
        default:
          fail(`${ins.op}: not supported by this script; teach it before using it in the Dockerfile`);
      }
    }

    // -------------------------------------------------------------------------------------
    // The final stage as a container
    const img = stage;
    if (!img.cmd) fail('the final stage has no CMD');
    if (!img.healthcheck) fail('the final stage has no HEALTHCHECK');
    const devDeps = Object.keys(JSON.parse(await fs.readFile(path.join(REPO, 'package.json'), 'utf8')).devDependencies ?? {});
    const leftover = devDeps.filter((d) => existsSync(path.join(img.workdir, 'node_modules', d)));
    if (leftover.length) fail(`the final stage has dev dependencies: ${leftover.join(', ')}`);
    say(`final stage: none of the ${devDeps.length} dev dependencies present; user ${img.user}, volumes ${img.volumes.map((v) => path.relative(img.dir, v)).join(' ')}`);
    for (const v of img.volumes) {
      const st = statSync(v);
      if (st.uid !== runtime.uid) fail(`volume ${v} belongs to uid ${st.uid}, not the runtime user (${runtime.uid})`);
    }

    const port = await freePort();
    const env = {
      PATH: `${tools}:/usr/local/bin:/usr/bin:/bin`,
      HOME: path.join(img.dir, 'home', img.user),
      ...img.env,
      // The one change from the image: no network here but loopback, and a free port.
      TESSERA_ADDRESS: `127.0.0.1:${port}`,
    };
    await fs.mkdir(env.HOME, { recursive: true });
    await fs.chown(env.HOME, runtime.uid, runtime.gid);
    const base = `http://127.0.0.1:${port}`;
    const startServer = () => {
      const [cmd, ...args] = img.cmd.exec;
      const child = spawn(cmd === 'node' ? path.join(tools, 'node') : cmd, args, { cwd: img.workdir, env, uid: runtime.uid, gid: runtime.gid, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve(code ?? sig)));
      return { child, exited, output: () => out, t0: Date.now() };
    };
    const healthcheck = () => {
      const [cmd, ...args] = img.healthcheck.exec;
      return spawnSync(cmd === 'node' ? path.join(tools, 'node') : cmd, args, { cwd: img.workdir, env, uid: runtime.uid, gid: runtime.gid, encoding: 'utf8', timeout: 15_000 });
    };
    const waitReady = async (s, what) => {
      await until(`${what}: HEALTHCHECK passes`, 60_000, async () => {
        if (s.child.exitCode !== null) fail(`the server exited (${s.child.exitCode}):\n${s.output()}`);
        return healthcheck().status === 0;
      });
      const liveMs = Date.now() - s.t0;
      const r = await until(`${what}: /health/ready answers 200`, 60_000, async () => {
        const r = await get(`${base}/health/ready`);
        return r.status === 200 ? r : undefined;
      });
      say(`${what}: HEALTHCHECK (${img.healthcheck.exec.join(' ')}) passed ${liveMs} ms after start; /health/ready 200 after ${Date.now() - s.t0} ms: ${r.body.trim().slice(0, 200)}`);
    };
    const stop = async (s, what) => {
      const t = Date.now();
      s.child.kill(img.stopsignal ?? 'SIGTERM');
      let timer;
      const code = await Promise.race([s.exited, new Promise((r) => (timer = setTimeout(() => r('timeout'), 30_000)))]);
      clearTimeout(timer);
      if (code === 'timeout') {
        s.child.kill('SIGKILL');
        fail(`${what}: still running 30 s after ${img.stopsignal ?? 'SIGTERM'}`);
      }
      if (code !== 0) fail(`${what}: exit status ${code} after ${img.stopsignal ?? 'SIGTERM'}:\n${s.output()}`);
      say(`${what}: ${img.stopsignal ?? 'SIGTERM'} → exit 0 in ${Date.now() - t} ms`);
    };

    // First start: credentials are generated and shown once.
    server = startServer();
    await step('first start (as the image user, image ENV)', () => waitReady(server, 'first start'));
    const banner = server.output();
    const access = /access key:\s+(\S+)/.exec(banner)?.[1] ?? fail(`no access key in the banner:\n${banner}`);
    const secret = /secret key:\s+(\S+)/.exec(banner)?.[1] ?? fail(`no secret key in the banner:\n${banner}`);
    if (secret.startsWith('(')) fail(`the generated secret was not shown on the start that generated it:\n${banner}`);

    // An S3 round trip signed with them, with the signer the image itself ships (aws4).
    const aws4 = createRequire(path.join(img.workdir, 'package.json'))('aws4');
    const s3 = async (method, p, body) => {
      const opts = aws4.sign({ host: `127.0.0.1:${port}`, path: p, method, service: 's3', region: 'us-east-1', body, headers: body ? { 'content-type': 'text/plain' } : {} }, { accessKeyId: access, secretAccessKey: secret });
      const res = await fetch(`${base}${p}`, { method, headers: opts.headers, body });
      const text = await res.text();
      if (res.status !== 200) fail(`${method} ${p}: ${res.status} ${text}`);
      return text;
    };
    const payload = `written by the container smoke test at ${new Date().toISOString()}\n`;
    await step('S3: create bucket, put and get an object', async () => {
      await s3('PUT', '/smoke');
      await s3('PUT', '/smoke/hello.txt', payload);
      if ((await s3('GET', '/smoke/hello.txt')) !== payload) fail('GET returned other bytes');
    });
    await step('docker stop (SIGTERM)', () => stop(server, 'first start'));

    // Second start on the same volumes: the data is there, the secret stays out of the log.
    server = startServer();
    await step('restart on the same volumes', () => waitReady(server, 'restart'));
    if ((await s3('GET', '/smoke/hello.txt')) !== payload) fail('after the restart, GET returned other bytes');
    if (server.output().includes(secret)) fail(`the restart printed the secret key:\n${server.output()}`);
    say('restart: object read back; the secret key is not in the log (TESSERA_PRINT_SECRET=false, not generated on this start)');
    await step('docker stop (SIGTERM)', () => stop(server, 'restart'));
    server = undefined;

    say(`OK: the image's stages built and its server answered on Node ${nodeInfo.version} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    for (const [name, ms] of timings) say(`  ${(ms / 1000).toFixed(1).padStart(6)} s  ${name}`);
  } finally {
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    if (KEEP) say(`kept ${root}`);
    else await fs.rm(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`container smoke test FAILED: ${e.message}\n`);
  process.exit(1);
});
