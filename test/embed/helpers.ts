// Shared by the embedded-mode tests: an SDK client at default settings for a started server,
// a private TMPDIR (startTessera's temporary directories land there, so a test can see that
// none is left), and a raw upload whose body the test feeds by hand.

import { S3Client } from '@aws-sdk/client-s3';
import aws4 from 'aws4';
import http from 'node:http';
import { mkdtemp, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Tessera } from '../../src/index.js';

export function client(t: Tessera): S3Client {
  // Exactly what the README tells users to write, plus a bound on a hung request.
  return new S3Client({ ...t.clientConfig, requestHandler: { requestTimeout: 120_000, throwOnRequestTimeout: true } });
}

/** Points os.tmpdir() at a fresh directory until restore(); leftovers() lists startTessera temp dirs in it. */
export async function privateTmpdir(): Promise<{ dir: string; restore: () => void; leftovers: () => Promise<string[]> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-embed-test-'));
  const before = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  return {
    dir,
    restore: () => {
      if (before === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = before;
    },
    leftovers: async () => (await readdir(dir)).filter((n) => n.startsWith('tessera-embed-')),
  };
}

/** Every file under dir (relative paths), for "nothing left on the disk" checks. */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  await walk(dir);
  return out;
}

export interface ManualUpload {
  /** Writes n more body bytes. */
  write(n: number): void;
  /** Resolves with the status, or with the error that ended the request. */
  result: Promise<{ status?: number; error?: string }>;
}

/** A PUT of `size` bytes (UNSIGNED-PAYLOAD) whose body goes out only as `write` is called. */
export function manualUpload(t: Tessera, bucket: string, key: string, size: number): ManualUpload {
  const u = new URL(t.endpoint);
  const opts = aws4.sign(
    {
      host: u.host,
      path: `/${bucket}/${key}`,
      method: 'PUT',
      service: 's3',
      region: t.region,
      headers: { 'Content-Length': String(size), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    },
    { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey },
  );
  const req = http.request({ hostname: u.hostname, port: u.port, path: opts.path, method: 'PUT', headers: opts.headers as http.OutgoingHttpHeaders, agent: false });
  const result = new Promise<{ status?: number; error?: string }>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode }));
      res.on('error', (e) => resolve({ error: e.message }));
    });
    req.on('error', (e) => resolve({ error: e.message }));
  });
  const chunk = Buffer.alloc(64 * 1024, 7);
  return {
    write(n: number) {
      for (; n > 0; n -= chunk.length) req.write(n >= chunk.length ? chunk : chunk.subarray(0, n));
    },
    result,
  };
}

/** Polls until check() is true or the deadline passes. */
export async function until(check: () => boolean | Promise<boolean>, ms = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
