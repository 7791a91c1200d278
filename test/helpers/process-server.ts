// Runs the real `tessera server` command as a child process (as users and acceptance runs
// start it), so tests can kill -9 it, wipe its disks and start it again.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import path from 'node:path';
import { TEST_ACCESS_KEY, TEST_SECRET_KEY } from './server.js';
import { SERVER_NODE_FLAGS } from '../../src/util/node-flags.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface ChildServer {
  child: ChildProcess;
  endpoint: string;
  output(): string;
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<number | string>;
}

export interface SpawnOptions {
  /** Soft and hard limit on open files for the server (`ulimit -n` in a shell that execs it). */
  fdLimit?: number;
}

export async function spawnServer(root: string, port: number, env: Record<string, string> = {}, o: SpawnOptions = {}): Promise<ChildServer> {
  const disks = [1, 2, 3, 4].map((i) => path.join(root, `disk${i}`));
  const [cmd, args] = o.fdLimit === undefined
    ? [process.execPath, [...SERVER_NODE_FLAGS, MAIN, 'server']]
    : ['bash', ['-c', `ulimit -n ${o.fdLimit} && exec "$0" ${SERVER_NODE_FLAGS.join(' ')} "$1" server`, process.execPath, MAIN]];
  const child = spawn(cmd, args, {
    cwd: root,
    env: {
      ...process.env,
      TESSERA_ADDRESS: `127.0.0.1:${port}`,
      TESSERA_DISKS: disks.join(','),
      TESSERA_META_DIR: path.join(root, 'meta'),
      TESSERA_ROOT_ACCESS_KEY: TEST_ACCESS_KEY,
      TESSERA_ROOT_SECRET_KEY: TEST_SECRET_KEY,
      TESSERA_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  const endpoint = `${env.TESSERA_TLS_CERT ? 'https' : 'http'}://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  while (!out.includes('endpoint:')) {
    if (child.exitCode !== null) throw new Error(`server exited: ${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, endpoint, output: () => out, exited };
}
