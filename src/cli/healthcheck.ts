// The container's health check: `node dist/src/cli/healthcheck.js [PATH]` asks the server in
// the same container for GET PATH (default /health/live) and exits 0 on a 200, 1 otherwise.
// Slim images have no curl or wget, and Node is there anyway. It reads only where the server
// listens and whether it serves HTTPS, from the same TESSERA_* variables (or the YAML file
// TESSERA_CONFIG names) as the server, so it needs no change when those change; it never opens
// the disks or the metadata directory.

import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';

const TIMEOUT_MS = 4000;

interface Target {
  host: string;
  port: number;
  secure: boolean;
}

/** address and tls.cert from the environment first, then the config file, as `tessera server` does. */
export function healthTarget(env: NodeJS.ProcessEnv): Target {
  let file: Record<string, unknown> = {};
  const configFile = env.TESSERA_CONFIG?.trim();
  if (configFile) {
    const doc = parse(readFileSync(configFile, 'utf8')) as unknown;
    if (doc !== null && typeof doc === 'object') file = doc as Record<string, unknown>;
  }
  const tlsSection = file.tls !== null && typeof file.tls === 'object' ? (file.tls as Record<string, unknown>) : {};
  const address = env.TESSERA_ADDRESS?.trim() || (typeof file.address === 'string' ? file.address : '') || '127.0.0.1:9000';
  const secure = Boolean(env.TESSERA_TLS_CERT?.trim() || (typeof tlsSection.cert === 'string' && tlsSection.cert.trim()));
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/.exec(address.trim());
  if (!m) throw new Error(`cannot tell the port from address ${JSON.stringify(address)}`);
  const bound = m[1] ?? m[2] ?? '';
  // A server bound to every interface is reached over loopback from inside its container.
  const host = bound === '' || bound === '0.0.0.0' ? '127.0.0.1' : bound === '::' ? '::1' : bound;
  return { host, port: Number(m[3]), secure };
}

export function check(target: Target, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const options = { host: target.host, port: target.port, path, method: 'GET', timeout: TIMEOUT_MS };
    // The certificate names the public host, not 127.0.0.1, and may come from a private CA:
    // this asks whether the process answers, not who it is.
    const req = target.secure ? https.request({ ...options, rejectUnauthorized: false }) : http.request(options);
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function main(): Promise<void> {
  const path = process.argv[2] ?? '/health/live';
  try {
    const target = healthTarget(process.env);
    const status = await check(target, path);
    const url = `${target.secure ? 'https' : 'http'}://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}${path}`;
    if (status === 200) {
      process.stdout.write(`healthy: ${url} answered 200\n`);
      process.exit(0);
    }
    process.stdout.write(`unhealthy: ${url} answered ${status}\n`);
  } catch (e) {
    process.stdout.write(`unhealthy: ${(e as Error).message}\n`);
  }
  process.exit(1);
}

// Run only as a program, so tests can import healthTarget and check.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
