// Real S3 clients pointed at a test server: the AWS SDK for JavaScript v3 with its default
// settings (only endpoint, region, credentials and path style), aws-cli and boto3 through
// subprocesses with a temporary configuration.

import { S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import https from 'node:https';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, after } from 'node:test';
import { startTestServer, type TestServer, type TestServerOptions } from './server.js';

export function sdkClient(s: TestServer, extra: Record<string, unknown> = {}): S3Client {
  return new S3Client({
    endpoint: s.endpoint,
    region: s.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
    // A hung request fails its test instead of waiting for --test-timeout: a socket idle this
    // long (no byte either way) is given up. A server started with `tls` has a certificate
    // from a test CA: trust that CA.
    requestHandler: { requestTimeout: 180_000, throwOnRequestTimeout: true, ...(s.ca ? { httpsAgent: new https.Agent({ ca: s.ca }) } : {}) },
    ...extra,
  });
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string | Buffer; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => err.push(d));
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    p.stdin.end(opts.input ?? '');
  });
}

export interface AwsEnvOptions {
  /** Extra settings for the config's nested `s3 =` section, e.g. { multipart_threshold: '64MB' }. */
  s3Settings?: Record<string, string>;
}

/** Environment for aws-cli / boto3 subprocesses: temp config dir, SigV4 for presign, our credentials. */
export async function awsEnv(s: TestServer, o: AwsEnvOptions = {}): Promise<NodeJS.ProcessEnv> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-aws-'));
  const config = path.join(dir, 'config');
  const extra = Object.entries(o.s3Settings ?? {}).map(([k, v]) => `    ${k} = ${v}\n`).join('');
  await writeFile(config, `[default]\nregion = ${s.region}\ns3 =\n    signature_version = s3v4\n    addressing_style = path\n${extra}`);
  await writeFile(path.join(dir, 'credentials'), `[default]\naws_access_key_id = ${s.accessKeyId}\naws_secret_access_key = ${s.secretAccessKey}\n`);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('AWS_')) delete env[k];
  return {
    ...env,
    AWS_CONFIG_FILE: config,
    AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  };
}

/** Runs `aws --endpoint-url … <args>` (aws-cli as installed on the machine). */
export async function aws(s: TestServer, args: string[], opts: { input?: string | Buffer; cwd?: string } & AwsEnvOptions = {}): Promise<RunResult> {
  const { s3Settings, ...runOpts } = opts;
  const env = await awsEnv(s, { s3Settings });
  try {
    return await run('aws', ['--endpoint-url', s.endpoint, ...(s.caFile ? ['--ca-bundle', s.caFile] : []), ...args], { env, ...runOpts });
  } finally {
    await removeAwsConfig(env);
  }
}

/** Removes the temporary config directory that awsEnv made. */
export async function removeAwsConfig(env: NodeJS.ProcessEnv): Promise<void> {
  if (env.AWS_CONFIG_FILE) await rm(path.dirname(env.AWS_CONFIG_FILE), { recursive: true, force: true });
}

/** Runs a python3 snippet with boto3; `s3` is a client for the server, `bucket` helpers in scope. */
export async function boto3(s: TestServer, code: string, opts: { cwd?: string } = {}): Promise<RunResult> {
  const verify = s.caFile ? `, verify=${JSON.stringify(s.caFile)}` : '';
  const prelude = `import boto3, botocore, json, sys, os, io\ns3 = boto3.client('s3', endpoint_url=${JSON.stringify(s.endpoint)}${verify})\n`;
  const env = await awsEnv(s);
  try {
    return await run('python3', ['-c', prelude + code], { env, ...opts });
  } finally {
    await removeAwsConfig(env);
  }
}

/**
 * One real server and one SDK client for a whole test file: started before its first test,
 * stopped and deleted after its last. `bind` hands them to the file's own variables.
 */
export function useSuiteServer(bind: (server: TestServer, s3: S3Client) => void, o?: TestServerOptions): void {
  let server: TestServer | undefined;
  let s3: S3Client | undefined;
  before(async () => {
    server = await startTestServer(o);
    s3 = sdkClient(server);
    bind(server, s3);
  });
  after(async () => {
    s3?.destroy();
    await server?.destroy();
  });
}
