// aws-cli, driven the way people use it: the high-level `aws s3` commands (mb, ls, cp, rm, rb,
// presign), and `aws s3api` only where `aws s3` has no equivalent (head-object, ranged
// get-object). Two columns: the `aws` on PATH, and a second, version 2 binary in /usr/local/bin
// or /usr/bin when there is one.

import { existsSync, realpathSync } from 'node:fs';
import { CommandError, exec, probe, which, type Driver, type Endpoint, type ExecOutput, type ListResult, type Op, type Session } from '../lib.js';
import { awsConfigEnv } from './aws-config.js';

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

function majorOf(versionOutput: string): number | undefined {
  const m = /aws-cli\/(\d+)\./.exec(versionOutput);
  return m ? Number(m[1]) : undefined;
}

function versionOf(versionOutput: string): string {
  const m = /aws-cli\/(\S+)/.exec(versionOutput);
  return m ? m[1]! : versionOutput.split('\n')[0]!.slice(0, 40);
}

/** The binary that `aws` on PATH would run (a pyenv shim resolves to the real one). */
async function pathAws(): Promise<string | undefined> {
  return which('aws');
}

/** A version-2 binary at a standard location that is not the one on PATH. */
async function secondAwsV2(): Promise<{ bin?: string; why: string }> {
  const onPath = await pathAws();
  const onPathReal = onPath ? real(onPath) : undefined;
  for (const candidate of ['/usr/local/bin/aws', '/usr/bin/aws']) {
    if (!existsSync(candidate) || real(candidate) === onPathReal) continue;
    const v = await probe(candidate, ['--version']);
    if (v.ok && majorOf(v.output) === 2) return { bin: candidate, why: '' };
  }
  return { why: 'no aws-cli v2 binary in /usr/local/bin or /usr/bin besides the aws on PATH' };
}

function makeDriver(name: string, locate: () => Promise<{ bin?: string; why: string }>): Driver {
  let bin: string | undefined;
  return {
    name,
    multipartAt20MiB: true,
    async detect() {
      const found = await locate();
      if (!found.bin) return { available: false, reason: found.why };
      const v = await probe(found.bin, ['--version']);
      if (!v.ok) return { available: false, reason: `${found.bin} --version failed: ${v.output.split('\n')[0]}` };
      bin = found.bin;
      return { available: true, version: versionOf(v.output), detail: `${found.bin}: ${v.output.split('\n')[0]}` };
    },
    async open(ep, dir) {
      if (!bin) throw new Error(`${name}: detect() first`);
      return awsCliSession(bin, ep, await awsConfigEnv(ep, dir));
    },
  };
}

export const awsCli = makeDriver('aws-cli', async () => {
  const bin = await pathAws();
  return bin ? { bin, why: '' } : { why: 'no aws on PATH' };
});

export const awsCliV2 = makeDriver('aws-cli-v2', secondAwsV2);

/** Lines of `aws s3 ls`: "2024-01-01 00:00:00        123 name" and "                           PRE dir/". */
function parseLs(out: string, base: string): ListResult {
  const keys: string[] = [];
  const prefixes: string[] = [];
  for (const line of out.split('\n')) {
    const l = line.replace(/\r$/, '');
    let m = /^\s*PRE (.*)$/.exec(l);
    if (m) {
      prefixes.push(base + m[1]);
      continue;
    }
    m = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d+ (.*)$/.exec(l);
    if (m) keys.push(base + m[1]);
  }
  return { keys, prefixes };
}

function awsCliSession(bin: string, ep: Endpoint, env: NodeJS.ProcessEnv): Session {
  const aws = (op: Op, args: string[]): Promise<ExecOutput> => exec(op, bin, ['--endpoint-url', ep.url, ...args], { env });
  /** `aws s3 ls` exits 1 with no output when nothing matches. */
  const ls = async (op: Op, args: string[]): Promise<string> => {
    try {
      return (await aws(op, ['s3', 'ls', ...args])).stdout;
    } catch (e) {
      if (e instanceof CommandError && e.output.trim() === '' && /exit code 1$/.test(e.message)) return '';
      throw e;
    }
  };
  const url = (bucket: string, key = '') => `s3://${bucket}/${key}`;
  return {
    async createBucket(op, bucket) {
      await aws(op, ['s3', 'mb', url(bucket)]);
    },
    async listBuckets(op) {
      const out = await ls(op, []);
      return out.split('\n').map((l) => l.trim().split(/\s+/).pop() ?? '').filter(Boolean);
    },
    async putObject(op, bucket, key, file, o) {
      await aws(op, ['s3', 'cp', file, url(bucket, key), '--content-type', o.contentType, '--metadata', JSON.stringify(o.metadata)]);
    },
    async headObject(op, bucket, key) {
      const r = JSON.parse((await aws(op, ['s3api', 'head-object', '--bucket', bucket, '--key', key, '--output', 'json'])).stdout) as {
        ContentLength?: number;
        ContentType?: string;
        ETag?: string;
        Metadata?: Record<string, string>;
      };
      const metadata: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.Metadata ?? {})) metadata[k.toLowerCase()] = v;
      return { size: r.ContentLength, contentType: r.ContentType, etag: r.ETag?.replace(/"/g, ''), metadata };
    },
    async getObject(op, bucket, key, dest) {
      await aws(op, ['s3', 'cp', url(bucket, key), dest]);
    },
    async uploadFile(op, bucket, key, file) {
      await aws(op, ['s3', 'cp', file, url(bucket, key)]);
    },
    async downloadFile(op, bucket, key, dest) {
      await aws(op, ['s3', 'cp', url(bucket, key), dest]);
    },
    async getRange(op, bucket, key, start, end, dest) {
      await aws(op, ['s3api', 'get-object', '--bucket', bucket, '--key', key, '--range', `bytes=${start}-${end}`, dest]);
    },
    async list(op, bucket, prefix, delimiter) {
      if (delimiter !== undefined && delimiter !== '/') throw new Error('aws s3 ls only lists with delimiter /');
      // Without --recursive `aws s3 ls` lists with delimiter "/" and prints names relative to the prefix.
      return delimiter ? parseLs(await ls(op, [url(bucket, prefix)]), prefix) : parseLs(await ls(op, ['--recursive', url(bucket, prefix)]), '');
    },
    async copy(op, bucket, srcKey, dstKey) {
      await aws(op, ['s3', 'cp', url(bucket, srcKey), url(bucket, dstKey)]);
    },
    async uploadDir(op, bucket, prefix, dir) {
      await aws(op, ['s3', 'cp', '--recursive', dir, url(bucket, prefix)]);
    },
    async downloadDir(op, bucket, prefix, dir) {
      await aws(op, ['s3', 'cp', '--recursive', url(bucket, prefix), dir]);
    },
    async presign(op, bucket, key, seconds) {
      return (await aws(op, ['s3', 'presign', url(bucket, key), '--expires-in', String(seconds)])).stdout.trim();
    },
    async deleteObject(op, bucket, key) {
      await aws(op, ['s3', 'rm', url(bucket, key)]);
    },
    async deleteBucket(op, bucket) {
      await aws(op, ['s3', 'rb', '--force', url(bucket)]);
    },
    async close() {},
  };
}
