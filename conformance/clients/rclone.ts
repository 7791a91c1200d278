// rclone with a temporary config (type s3, provider Other, path style, keys in the file, no
// env_auth), with its usual commands: mkdir, lsd, copyto, lsjson, cat, lsf, copy, link,
// deletefile, purge. rclone uploads files below its upload_cutoff (200 MiB) in one PUT, so
// the 20 MiB file is not multipart here. Retries are off (--retries 1 --low-level-retries 1):
// a server error must show, not be retried away.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { clientEnv, exec, hostPort, probe, which, type Driver, type ExecOutput, type ListResult, type Op, type Session } from '../lib.js';

const REMOTE = 'conf';

/** rclone's environment: no AWS_* (its SDK fails on AWS_CA_BUNDLE with its own transport) and no RCLONE_* overrides. */
function rcloneEnv(): NodeJS.ProcessEnv {
  const env = clientEnv();
  for (const k of Object.keys(env)) if (k.startsWith('RCLONE_')) delete env[k];
  return env;
}

export const rclone: Driver = {
  name: 'rclone',
  multipartAt20MiB: false,
  uploadNote: 'rclone uploads files below its 200 MiB upload_cutoff in one PUT',
  async detect() {
    if (!which('rclone')) return { available: false, reason: 'no rclone on PATH (Debian/Ubuntu: apt-get install rclone)' };
    const v = await probe('rclone', ['version'], rcloneEnv());
    if (!v.ok) return { available: false, reason: `rclone version failed: ${v.output.split('\n')[0]}` };
    const m = /rclone\s+v?(\S+)/.exec(v.output);
    return { available: true, version: m ? m[1]! : '?', detail: v.output.split('\n')[0] };
  },
  async open(ep, dir) {
    const cfg = path.join(dir, 'rclone.conf');
    const lines = [
      `[${REMOTE}]`,
      'type = s3',
      'provider = Other',
      'env_auth = false',
      `access_key_id = ${ep.accessKey}`,
      `secret_access_key = ${ep.secretKey}`,
      `endpoint = ${ep.url}`,
      `region = ${ep.region}`,
      'force_path_style = true',
    ];
    if (ep.region !== 'us-east-1') lines.push(`location_constraint = ${ep.region}`);
    await writeFile(cfg, lines.join('\n') + '\n', { mode: 0o600 });
    const extra = hostPort(ep.url).https && process.env.AWS_CA_BUNDLE ? ['--ca-cert', process.env.AWS_CA_BUNDLE] : [];
    return rcloneSession(cfg, extra);
  },
};

function rcloneSession(cfg: string, extra: string[]): Session {
  const env = rcloneEnv();
  const run = (op: Op, args: string[]): Promise<ExecOutput> => exec(op, 'rclone', ['--config', cfg, '--retries', '1', '--low-level-retries', '1', ...extra, ...args], { env });
  const remote = (bucket: string, key = '') => `${REMOTE}:${bucket}${key ? `/${key}` : ''}`;
  const lines = (s: string) => s.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l !== '');
  return {
    async createBucket(op, bucket) {
      await run(op, ['mkdir', remote(bucket)]);
    },
    async listBuckets(op) {
      return lines((await run(op, ['lsd', `${REMOTE}:`])).stdout).map((l) => l.trim().split(/\s+/).pop()!);
    },
    async putObject(op, bucket, key, file, o) {
      const headers = [`Content-Type: ${o.contentType}`, ...Object.entries(o.metadata).map(([k, v]) => `X-Amz-Meta-${k}: ${v}`)];
      await run(op, ['copyto', file, remote(bucket, key), ...headers.flatMap((h) => ['--header-upload', h])]);
    },
    async headObject(op, bucket, key) {
      const r = JSON.parse((await run(op, ['lsjson', '--stat', '--metadata', remote(bucket, key)])).stdout) as { Size?: number; MimeType?: string; Metadata?: Record<string, string> };
      const metadata: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.Metadata ?? {})) metadata[k.toLowerCase()] = v;
      return { size: r.Size, contentType: r.MimeType, metadata };
    },
    async getObject(op, bucket, key, dest) {
      await run(op, ['copyto', remote(bucket, key), dest]);
    },
    async uploadFile(op, bucket, key, file) {
      await run(op, ['copyto', file, remote(bucket, key)]);
    },
    async downloadFile(op, bucket, key, dest) {
      await run(op, ['copyto', remote(bucket, key), dest]);
    },
    async getRange(op, bucket, key, start, end, dest) {
      const r = await run(op, ['cat', '--offset', String(start), '--count', String(end - start + 1), remote(bucket, key)]);
      await writeFile(dest, r.stdoutBytes);
    },
    async list(op, bucket, prefix, delimiter): Promise<ListResult> {
      if (delimiter !== undefined && delimiter !== '/') throw new Error('rclone lists with delimiter / only');
      if (!prefix.endsWith('/')) throw new Error('rclone lists directories: the prefix must end in /');
      const dir = remote(bucket, prefix.slice(0, -1));
      if (delimiter) {
        const names = lines((await run(op, ['lsf', dir])).stdout);
        return { keys: names.filter((n) => !n.endsWith('/')).map((n) => prefix + n), prefixes: names.filter((n) => n.endsWith('/')).map((n) => prefix + n) };
      }
      return { keys: lines((await run(op, ['lsf', '--recursive', '--files-only', dir])).stdout).map((n) => prefix + n), prefixes: [] };
    },
    async copy(op, bucket, srcKey, dstKey) {
      await run(op, ['copyto', remote(bucket, srcKey), remote(bucket, dstKey)]);
    },
    async uploadDir(op, bucket, prefix, dir) {
      await run(op, ['copy', dir, remote(bucket, prefix.replace(/\/$/, ''))]);
    },
    async downloadDir(op, bucket, prefix, dir) {
      await run(op, ['copy', remote(bucket, prefix.replace(/\/$/, '')), dir]);
    },
    async presign(op, bucket, key, seconds) {
      return (await run(op, ['link', '--expire', `${seconds}s`, remote(bucket, key)])).stdout.trim();
    },
    async deleteObject(op, bucket, key) {
      await run(op, ['deletefile', remote(bucket, key)]);
    },
    async deleteBucket(op, bucket) {
      await run(op, ['purge', remote(bucket)]);
    },
    async close() {},
  };
}
