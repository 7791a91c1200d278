// The request log and the audit log of a server that served every way of signing (SigV4
// header, presigned URL, aws-chunked with chunk signatures, POST form), SSE-C over HTTPS, a bad
// signature and `tessera admin user add` (which returns a new secret): one line per request
// with its fields, mutations and the auth failure in the audit file, and no secret key,
// signature or customer key anywhere in either.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import aws4 from 'aws4';
import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { createLogger } from '../../src/ops/log.js';
import { run, sdkClient } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { signRaw } from '../helpers/raw-sign.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const BUCKET = 'logbucket';

let s: TestServer;
let sdk: S3Client;
const lines: string[] = [];
let auditFile: string;
/** Every secret value the server saw; none may be in a log. */
const secrets: string[] = [];

function httpsRequest(url: string, o: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: o.method ?? 'GET', headers: o.headers, ca: s.ca }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const hmac = (k: Buffer | string, v: string) => createHmac('sha256', k).update(v).digest();

/** A PUT in aws-chunked encoding with chunk signatures; returns the status and every signature sent. */
async function chunkedSignedPut(key: string, data: Buffer): Promise<{ status: number; signatures: string[] }> {
  const u = new URL(s.endpoint);
  const chunks = [data.subarray(0, 70_000), data.subarray(70_000), Buffer.alloc(0)];
  const encodedLength = chunks.reduce((n, c) => n + `${c.length.toString(16)};chunk-signature=${'0'.repeat(64)}\r\n`.length + c.length + (c.length ? 2 : 0), 0) + 2;
  const headers: Record<string, string> = {
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': String(data.length),
    'content-length': String(encodedLength),
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  };
  const signed = aws4.sign({ host: u.host, method: 'PUT', path: `/${BUCKET}/${key}`, headers, service: 's3', region: s.region }, { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey }) as { headers: Record<string, string> };
  const auth = String(signed.headers.Authorization);
  const amzDate = String(signed.headers['X-Amz-Date']);
  const scope = /Credential=[^/]+\/([^,]+),/.exec(auth)![1]!;
  let previous = /Signature=([0-9a-f]{64})/.exec(auth)![1]!;
  const signatures = [previous];
  const [date, region, service] = scope.split('/');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${s.secretAccessKey}`, date!), region!), service!), 'aws4_request');
  const parts: Buffer[] = [];
  for (const c of chunks) {
    previous = hmac(signingKey, ['AWS4-HMAC-SHA256-PAYLOAD', amzDate, scope, previous, sha256(''), sha256(c)].join('\n')).toString('hex');
    signatures.push(previous);
    parts.push(Buffer.from(`${c.length.toString(16)};chunk-signature=${previous}\r\n`));
    if (c.length) parts.push(c, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('\r\n'));
  const body = Buffer.concat(parts);
  assert.equal(body.length, encodedLength);
  const r = await httpsRequest(`${s.endpoint}/${BUCKET}/${key}`, { method: 'PUT', headers: signed.headers as Record<string, string>, body });
  return { status: r.status, signatures };
}

describe('request log and audit log', { timeout: 180_000 }, () => {
  before(async () => {
    s = await startTestServer({
      tls: true,
      plainHttp: true,
      log: createLogger('debug', (line) => lines.push(line)),
      env: { TESSERA_AUDIT_LOG: 'audit/audit.jsonl' },
    });
    auditFile = s.config.auditFile!;
    sdk = sdkClient(s);
    secrets.push(s.secretAccessKey);

    // SigV4 in the Authorization header (the SDK at its defaults).
    await sdk.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'plain.txt', Body: 'hello logs' }));
    await (await sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'plain.txt' }))).Body!.transformToString();

    // Presigned URL.
    const url = await getSignedUrl(sdk, new GetObjectCommand({ Bucket: BUCKET, Key: 'plain.txt' }), { expiresIn: 300 });
    secrets.push(new URL(url).searchParams.get('X-Amz-Signature')!);
    assert.equal((await httpsRequest(url)).status, 200);

    // aws-chunked with chunk signatures.
    const chunked = await chunkedSignedPut('chunked.bin', randomBytes(100_000));
    assert.equal(chunked.status, 200);
    secrets.push(...chunked.signatures);

    // SSE-C over HTTPS.
    const customerKey = randomBytes(32);
    secrets.push(customerKey.toString('base64'), customerKey.toString('hex'));
    const ssec = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: customerKey as unknown as string };
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'ssec.bin', Body: 'customer-keyed', ...ssec }));
    await (await sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'ssec.bin', ...ssec }))).Body!.transformToString();

    // POST form (browser upload) on the plain-HTTP listener.
    const post = await createPresignedPost(sdkClient(s, { endpoint: s.httpEndpoint }), { Bucket: BUCKET, Key: 'posted.txt', Expires: 300 });
    secrets.push(post.fields['X-Amz-Signature'] ?? post.fields['x-amz-signature']!, post.fields.Policy ?? post.fields.policy!);
    const form = new FormData();
    for (const [k, v] of Object.entries(post.fields)) form.append(k, v);
    form.append('file', new Blob(['posted body']), 'posted.txt');
    const posted = await fetch(`${s.httpEndpoint}/${BUCKET}`, { method: 'POST', body: form });
    assert.equal(posted.status, 204, await posted.text());

    // The admin CLI adds a user; its reply carries the new secret, which then signs.
    const env = { ...process.env, AWS_ACCESS_KEY_ID: s.accessKeyId, AWS_SECRET_ACCESS_KEY: s.secretAccessKey };
    const added = await run(process.execPath, [MAIN, 'admin', '--endpoint', s.httpEndpoint!, 'user', 'add', 'logger'], { env, timeoutMs: 60_000 });
    assert.equal(added.code, 0, added.stderr);
    const user = JSON.parse(added.stdout) as { accessKey: string; secretKey: string };
    secrets.push(user.secretKey);
    await sdkClient(s, { credentials: { accessKeyId: user.accessKey, secretAccessKey: user.secretKey } }).send(new ListBucketsCommand({})).catch(() => undefined);

    // A wrong secret: refused with 403 SignatureDoesNotMatch.
    const wrong = sdkClient(s, { credentials: { accessKeyId: s.accessKeyId, secretAccessKey: 'not-the-right-secret-key-at-all' }, maxAttempts: 1 });
    await assert.rejects(wrong.send(new ListBucketsCommand({})));
    secrets.push('not-the-right-secret-key-at-all');
    await s.stop();
  });

  after(async () => {
    await s?.destroy();
  });

  const requests = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => o.msg === 'request');

  test('no secret key, signature, POST policy or SSE-C key in the request log or the audit log', async () => {
    const audit = await fs.readFile(auditFile, 'utf8');
    const all = lines.join('\n') + '\n' + audit;
    assert.ok(requests().length >= 10, `request lines: ${requests().length}`);
    for (const secret of secrets) assert.ok(!all.includes(secret), `a secret is in the logs: ${secret.slice(0, 6)}…`);
    // Nothing that looks like a SigV4 signature either (64 hex digits), whatever produced it.
    assert.deepEqual(all.match(/[0-9a-f]{64}/gi) ?? [], []);
  });

  test('one line per request with id, access key, AWS operation, bucket, key, status, bytes in/out, duration', () => {
    const put = requests().find((o) => o.op === 'PutObject' && o.key === 'plain.txt');
    assert.ok(put, 'PutObject line');
    assert.equal(put.level, 'info');
    assert.match(String(put.time), /^\d{4}-\d\d-\d\dT/);
    assert.match(String(put.requestId), /^[0-9A-F]{16}$/);
    assert.equal(put.accessKey, s.accessKeyId);
    assert.equal(put.bucket, BUCKET);
    assert.equal(put.method, 'PUT');
    assert.equal(put.status, 200);
    assert.ok(Number(put.bytesIn) >= 'hello logs'.length, `bytesIn ${put.bytesIn}`);
    assert.equal(typeof put.ms, 'number');
    const get = requests().find((o) => o.op === 'GetObject' && o.key === 'plain.txt');
    assert.ok(get && get.status === 200 && get.bytesOut === 'hello logs'.length, JSON.stringify(get));
    const ops = new Set(requests().map((o) => o.op));
    for (const op of ['CreateBucket', 'PutObject', 'GetObject', 'PostObject', 'ListBuckets', 'Admin']) assert.ok(ops.has(op), `${op} logged (have ${[...ops].join(', ')})`);
    const refused = requests().find((o) => o.error === 'SignatureDoesNotMatch');
    assert.ok(refused && refused.status === 403 && refused.accessKey === s.accessKeyId && refused.op === 'ListBuckets', JSON.stringify(refused));
  });

  test('the audit file holds every mutation and the auth failure, and no reads', async () => {
    const audit = (await fs.readFile(auditFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const rec of audit) assert.ok(['PUT', 'POST', 'DELETE'].includes(String(rec.method)) || rec.status === 401 || rec.status === 403, `not a mutation nor an auth failure: ${JSON.stringify(rec)}`);
    const has = (f: (r: Record<string, unknown>) => boolean, what: string) => assert.ok(audit.some(f), `${what} in the audit file`);
    has((r) => r.op === 'CreateBucket' && r.status === 200, 'CreateBucket');
    has((r) => r.op === 'PutObject' && r.key === 'plain.txt', 'PutObject plain.txt');
    has((r) => r.op === 'PutObject' && r.key === 'chunked.bin', 'chunk-signed PutObject');
    has((r) => r.op === 'PutObject' && r.key === 'ssec.bin', 'SSE-C PutObject');
    has((r) => r.op === 'PostObject' && r.status === 204, 'PostObject');
    has((r) => r.op === 'Admin' && r.method === 'POST' && r.status === 200, 'admin user add');
    has((r) => r.error === 'SignatureDoesNotMatch' && r.status === 403, 'the bad signature');
    assert.ok(!audit.some((r) => r.method === 'GET' && r.status === 200), 'no successful GET');
    assert.equal((await fs.stat(auditFile)).mode & 0o777, 0o600);
  });
});

test('a secret passed to the logger by mistake is redacted; a failing sink never throws', { timeout: 5000 }, () => {
  const out: string[] = [];
  const log = createLogger('debug', (l) => out.push(l));
  const sig = 'a'.repeat(64);
  log('warn', `bad url /b/k?X-Amz-Signature=${sig}`, {
    authorization: `AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=${sig}`,
    headers: { 'x-amz-server-side-encryption-customer-key': 'c2VjcmV0', authorization: 'x' },
    secretKey: 'SECRET-1',
    fields: { signature: 'SIG-2', policy: 'POLICY-3' },
  });
  const line = out.join('\n');
  for (const s of [sig, 'c2VjcmV0', 'SECRET-1', 'SIG-2', 'POLICY-3', 'Credential=AK']) assert.ok(!line.includes(s), `${s} in ${line}`);
  assert.match(line, /\[redacted\]/);
  const throwing = createLogger('debug', () => {
    throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
  });
  for (let i = 0; i < 3; i++) throwing('error', 'still fine');
  assert.ok(true, 'no exception escaped');
});

test('an upload the client hangs up on halfway is logged and counted as 499 (client closed request), not as the 404 no one was sent', { timeout: 60_000 }, async () => {
  const out: string[] = [];
  const srv = await startTestServer({ log: createLogger('debug', (l) => out.push(l)) });
  try {
    const c = sdkClient(srv);
    await c.send(new CreateBucketCommand({ Bucket: 'hangup' }));
    c.destroy();
    const t = { host: '127.0.0.1', port: srv.port, accessKeyId: srv.accessKeyId, secretAccessKey: srv.secretAccessKey, region: srv.config.region };
    const headers = signRaw(t, { method: 'PUT', path: '/hangup/half', headers: { 'Content-Length': String(4 * 1024 * 1024) } });
    const sock = net.connect(srv.port, '127.0.0.1');
    sock.on('error', () => undefined);
    sock.write('PUT /hangup/half HTTP/1.1\r\n' + Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n');
    sock.write(Buffer.alloc(256 * 1024, 1));
    // Hang up once the server has received part of the body.
    const deadline = Date.now() + 20_000;
    const scrape = async () => (await fetch(`${srv.endpoint}/metrics`)).text();
    while (!/tessera_http_requests_in_flight [1-9]/.test(await scrape())) {
      assert.ok(Date.now() < deadline, 'the upload never started');
      await new Promise((r) => setTimeout(r, 50));
    }
    sock.destroy();
    let line: Record<string, unknown> | undefined;
    while (!(line = out.map((l) => JSON.parse(l) as Record<string, unknown>).find((o) => o.msg === 'request' && o.key === 'half'))) {
      assert.ok(Date.now() < deadline, 'no request line for the aborted upload');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(line.status, 499, JSON.stringify(line));
    assert.equal(line.aborted, true);
    assert.equal(line.level, 'info');
    const metrics = await scrape();
    assert.match(metrics, /tessera_http_requests_total\{operation="PutObject",status="499"\} 1/);
    assert.doesNotMatch(metrics, /tessera_http_requests_total\{operation="PutObject",status="404"\}/);
  } finally {
    await srv.destroy();
  }
});
