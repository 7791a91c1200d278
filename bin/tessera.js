#!/usr/bin/env node
// The `tessera` command (`npx tessera …`, and `npm start` through `exec node bin/tessera.js
// server`). It compiles the TypeScript only when dist/ is missing or older than a source file,
// then runs the CLI in this same process: the PID a process manager, `docker stop` or `npm`
// signals is the server's own, so SIGTERM reaches the server and stops it gracefully.
//
// In a tree without src/ (the container image, an installed package) it runs dist/ as it is.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const entry = path.join(root, 'dist', 'src', 'cli', 'main.js');
const src = path.join(root, 'src');

/** Newest modification time (ms) of the .ts files under dir. */
function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * dist/ is stale when its entry point is missing, or when a source file (or the compiler
 * settings) changed after it was written: tsc rewrites every output on each build, so the
 * entry point's time is the time of the last build.
 */
function stale() {
  if (!existsSync(entry)) return true;
  if (!existsSync(src)) return false;
  const built = statSync(entry).mtimeMs;
  const settings = ['tsconfig.json', 'tsconfig.build.json'].map((f) => path.join(root, f)).filter(existsSync).map((f) => statSync(f).mtimeMs);
  return Math.max(newestSource(src), ...settings) > built;
}

if (existsSync(src) && stale()) {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) {
    process.stderr.write(`tessera: ${existsSync(entry) ? 'dist/ is older than src/' : 'dist/ is missing'} and TypeScript is not installed; run npm install (or npm run build)\n`);
    process.exit(1);
  }
  process.stderr.write('tessera: compiling (src/ changed since the last build)…\n');
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write('tessera: the build failed; see the errors above\n');
    process.exit(1);
  }
}

await import(pathToFileURL(entry).href);
