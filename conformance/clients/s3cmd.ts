// s3cmd with a temporary config (path-style: host_bucket = host_base, SigV4), using its usual
// commands: mb, ls, put (multipart above its 15 MiB chunk size), info, get, cp, del, rb.
// It cannot fetch a byte range, and its signurl makes Signature Version 2 URLs only, which
// SigV4-only servers (Tessera, and AWS for buckets made since 2020) refuse: both are n/a.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { clientEnv, exec, hostPort, probe, which, type Driver, type ExecOutput, type HeadResult, type ListResult, type Op, type Session } from '../lib.js';

export const s3cmd: Driver = {
  name: 's3cmd',
  multipartAt20MiB: true,
  uploadNote: 's3cmd shows the MD5 it stored in x-amz-meta-s3cmd-attrs, never the ETag, so the part count (15 MiB chunks) is not checked',
  async detect() {
    if (!which('s3cmd')) return { available: false, reason: 'no s3cmd on PATH (Debian/Ubuntu: apt-get install s3cmd)' };
    const v = await probe('s3cmd', ['--version'], clientEnv());
    if (!v.ok) return { available: false, reason: `s3cmd --version failed: ${v.output.split('\n')[0]}` };
    const m = /version\s+(\S+)/.exec(v.output);
    return { available: true, version: m ? m[1]! : v.output.split('\n')[0]!, detail: v.output.split('\n')[0] };
  },
  async open(ep, dir) {
    const hp = hostPort(ep.url);
    const cfg = path.join(dir, 's3cfg');
    const lines = [
      '[default]',
      `access_key = ${ep.accessKey}`,
      `secret_key = ${ep.secretKey}`,
      `host_base = ${hp.hostPort}`,
      // Without %(bucket)s in host_bucket, s3cmd addresses buckets path-style.
      `host_bucket = ${hp.hostPort}`,
      `use_https = ${hp.https ? 'True' : 'False'}`,
      'signature_v2 = False',
      `bucket_location = ${ep.region}`,
      'progress_meter = False',
    ];
    if (hp.https && process.env.AWS_CA_BUNDLE) lines.push(`ca_certs_file = ${process.env.AWS_CA_BUNDLE}`);
    await writeFile(cfg, lines.join('\n') + '\n', { mode: 0o600 });
    return s3cmdSession(cfg);
  },
};

/** Text after "s3://bucket/" on an `s3cmd ls` line, and whether it is a DIR line. */
function parseLs(out: string, bucket: string): ListResult {
  const keys: string[] = [];
  const prefixes: string[] = [];
  const marker = `s3://${bucket}/`;
  for (const line of out.split('\n')) {
    const i = line.indexOf(marker);
    if (i < 0) continue;
    const name = line.slice(i + marker.length).replace(/\r$/, '');
    if (/^\s*DIR\s/.test(line)) prefixes.push(name);
    else keys.push(name);
  }
  return { keys, prefixes };
}

function s3cmdSession(cfg: string): Session {
  const env = clientEnv();
  const run = (op: Op, args: string[]): Promise<ExecOutput> => exec(op, 's3cmd', ['-c', cfg, ...args], { env });
  const url = (bucket: string, key = '') => `s3://${bucket}/${key}`;
  const session: Session = {
    na: {
      getRange: 's3cmd has no ranged download (only --continue to resume a file)',
      presign: 's3cmd signurl makes SigV2 URLs only',
    },
    async createBucket(op, bucket) {
      await run(op, ['mb', url(bucket)]);
    },
    async listBuckets(op) {
      const out = (await run(op, ['ls'])).stdout;
      return out
        .split('\n')
        .map((l) => /s3:\/\/(\S+)/.exec(l)?.[1])
        .filter((n): n is string => !!n)
        .map((n) => n.replace(/\/$/, ''));
    },
    async putObject(op, bucket, key, file, o) {
      const meta = Object.entries(o.metadata).map(([k, v]) => `--add-header=x-amz-meta-${k}:${v}`);
      await run(op, ['put', file, url(bucket, key), `--mime-type=${o.contentType}`, '--no-guess-mime-type', ...meta]);
    },
    async headObject(op, bucket, key) {
      const out = (await run(op, ['info', url(bucket, key)])).stdout;
      const h: HeadResult = { metadata: {} };
      for (const line of out.split('\n')) {
        let m = /^\s*File size:\s*(\d+)/.exec(line);
        if (m) h.size = Number(m[1]);
        m = /^\s*MIME type:\s*(.*)$/.exec(line);
        if (m) h.contentType = m[1]!.trim();
        m = /^\s*x-amz-meta-([^:]+):\s?(.*)$/i.exec(line);
        if (m) h.metadata[m[1]!.toLowerCase()] = m[2]!.replace(/\r$/, '');
      }
      // "MD5 sum" in `info` (and in `ls --list-md5`) is the MD5 that s3cmd stored in its own
      // x-amz-meta-s3cmd-attrs, not the ETag, so the ETag stays unknown.
      return h;
    },
    async getObject(op, bucket, key, dest) {
      await run(op, ['get', '--force', url(bucket, key), dest]);
    },
    async uploadFile(op, bucket, key, file) {
      await run(op, ['put', file, url(bucket, key)]);
    },
    async downloadFile(op, bucket, key, dest) {
      await run(op, ['get', '--force', url(bucket, key), dest]);
    },
    async list(op, bucket, prefix, delimiter) {
      if (delimiter !== undefined && delimiter !== '/') throw new Error('s3cmd ls only lists with delimiter /');
      const args = delimiter ? ['ls', url(bucket, prefix)] : ['ls', '--recursive', url(bucket, prefix)];
      return parseLs((await run(op, args)).stdout, bucket);
    },
    async copy(op, bucket, srcKey, dstKey) {
      await run(op, ['cp', url(bucket, srcKey), url(bucket, dstKey)]);
    },
    async uploadDir(op, bucket, prefix, dir) {
      // A trailing "/" on the source uploads the directory's contents, not the directory.
      await run(op, ['put', '--recursive', dir.replace(/\/?$/, '/'), url(bucket, prefix)]);
    },
    async downloadDir(op, bucket, prefix, dir) {
      await mkdir(dir, { recursive: true });
      await run(op, ['get', '--recursive', '--force', url(bucket, prefix), dir.replace(/\/?$/, '/')]);
    },
    async deleteObject(op, bucket, key) {
      await run(op, ['del', url(bucket, key)]);
    },
    async deleteBucket(op, bucket) {
      await run(op, ['rb', '--recursive', '--force', url(bucket)]);
    },
    async close() {},
  };
  return session;
}
