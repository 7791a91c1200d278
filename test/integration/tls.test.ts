// HTTPS end to end on a real `tessera server` process: a self-signed CA made with openssl,
// the SDK v3, aws-cli, boto3 and curl told to trust it (and refusing without it), TLS 1.1 refused,
// the plain-HTTP listener beside HTTPS, a certificate swapped by SIGHUP while an upload is in
// flight and a keep-alive connection is open, a bad pair refused at reload and at start.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls, { type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { freePort, spawnServer, type ChildServer } from '../helpers/process-server.js';
import { TEST_ACCESS_KEY, TEST_SECRET_KEY, type TestServer } from '../helpers/server.js';
import { awsEnv, removeAwsConfig, run } from '../helpers/clients.js';
import { makeCa, makeServerCert, type ServerCert, type TestCa } from '../helpers/tls.js';
import { md5hex, patternBuffer } from '../helpers/data.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const BUCKET = 'secure';

let root: string;
let ca: TestCa;
let certA: ServerCert;
let certB: ServerCert;
/** The files the server is configured with; tests copy other pairs over them. */
let liveCert: string;
let liveKey: string;
let srv: ChildServer;
let httpsUrl: string;
let httpsPort: number;
let httpUrl: string;

function client(endpoint: string, caPem?: Buffer): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY },
    ...(caPem ? { requestHandler: { httpsAgent: new https.Agent({ ca: caPem }) } } : {}),
  });
}

/** Waits until the server's output holds `text` `count` times (log lines arrive asynchronously). */
async function waitForOutput(text: string, count = 1, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (srv.output().split(text).length - 1 < count) {
    if (Date.now() > deadline) throw new Error(`no "${text}" (x${count}) in the server output:\n${srv.output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A new TLS connection to the HTTPS port; resolves with what it negotiated. */
function handshake(o: tls.ConnectionOptions = {}): Promise<{ fingerprint256: string; protocol: string | null }> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port: httpsPort, ca: ca.ca, ...o }, () => {
      const info = { fingerprint256: sock.getPeerCertificate().fingerprint256, protocol: sock.getProtocol() };
      sock.end();
      resolve(info);
    });
    sock.setTimeout(5000, () => sock.destroy(new Error('handshake timed out')));
    sock.once('error', reject);
  });
}

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'tessera-tls-'));
  ca = await makeCa(root);
  certA = await makeServerCert(ca, 'server-a');
  certB = await makeServerCert(ca, 'server-b');
  liveCert = path.join(root, 'live.pem');
  liveKey = path.join(root, 'live.key');
  await copyFile(certA.certFile, liveCert);
  await copyFile(certA.keyFile, liveKey);
  await chmod(liveKey, 0o600);
  httpsPort = await freePort();
  const httpPort = await freePort();
  srv = await spawnServer(path.join(root), httpsPort, {
    TESSERA_TLS_CERT: liveCert,
    TESSERA_TLS_KEY: liveKey,
    TESSERA_HTTP_ADDRESS: `127.0.0.1:${httpPort}`,
    TESSERA_PRINT_SECRET: 'false',
    // Long enough that the keep-alive connection of the SIGHUP test outlives the test's steps.
    TESSERA_KEEP_ALIVE_TIMEOUT: '60',
  });
  httpsUrl = srv.endpoint;
  assert.equal(httpsUrl, `https://127.0.0.1:${httpsPort}`);
  httpUrl = `http://127.0.0.1:${httpPort}`;
  const s3 = client(httpsUrl, ca.ca);
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  s3.destroy();
});

after(async () => {
  if (srv && srv.child.exitCode === null) {
    srv.child.kill('SIGTERM');
    await srv.exited;
  }
  await rm(root, { recursive: true, force: true });
});

test('the banner shows the HTTPS and plain-HTTP endpoints, --ca-bundle, and no secret with print_secret off', { timeout: 10_000 }, () => {
  const out = srv.output();
  assert.match(out, new RegExp(`endpoint: +https://127\\.0\\.0\\.1:${httpsPort}`));
  assert.ok(out.includes(`plain HTTP:  ${httpUrl}`), out);
  assert.match(out, /certificate: .*live\.pem \(for IP Address:127\.0\.0\.1, DNS:localhost, valid until \d{4}-\d\d-\d\d; reloaded on SIGHUP\)/);
  assert.match(out, new RegExp(`aws --endpoint-url https://127\\.0\\.0\\.1:${httpsPort} --ca-bundle \\S+ s3 mb`));
  assert.ok(!out.includes(TEST_SECRET_KEY), 'the secret key must not be printed');
  assert.match(out, /secret key: +\(hidden: print_secret is off/);
  assert.doesNotMatch(out, /can be read by other users/, 'the key is 0600');
});

test('SDK v3 with a custom CA: put, get and list over HTTPS; without the CA the certificate is refused', { timeout: 30_000 }, async () => {
  const s3 = client(httpsUrl, ca.ca);
  const body = patternBuffer(300_000, 7);
  try {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'sdk.bin', Body: body }));
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'sdk.bin' }));
    assert.equal(md5hex(Buffer.from(await got.Body!.transformToByteArray())), md5hex(body));
    const list = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    assert.ok(list.Contents?.some((o) => o.Key === 'sdk.bin'));
  } finally {
    s3.destroy();
  }
  const untrusting = client(httpsUrl);
  try {
    await assert.rejects(untrusting.send(new ListObjectsV2Command({ Bucket: BUCKET })), (e: Error & { code?: string }) => {
      assert.match(`${e.code} ${e.message}`, /SELF_SIGNED|self[- ]signed|unable to (get|verify)/i);
      return true;
    });
  } finally {
    untrusting.destroy();
  }
});

test('aws-cli with --ca-bundle: cp up, cp down, ls; without it the certificate is refused', { timeout: 90_000 }, async () => {
  const env = await awsEnv({ region: 'us-east-1', accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY } as TestServer);
  const file = path.join(root, 'cli.txt');
  await writeFile(file, 'hello over TLS\n');
  const aws = (args: string[], trust = true) =>
    run('aws', ['--endpoint-url', httpsUrl, ...(trust ? ['--ca-bundle', ca.caFile] : []), ...args], { env, timeoutMs: 60_000 });
  try {
    const up = await aws(['s3', 'cp', file, `s3://${BUCKET}/cli.txt`]);
    assert.equal(up.code, 0, up.stderr);
    const down = await aws(['s3', 'cp', `s3://${BUCKET}/cli.txt`, '-']);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(down.stdout, 'hello over TLS\n');
    const ls = await aws(['s3', 'ls', `s3://${BUCKET}/`]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /cli\.txt/);
    const refused = await aws(['s3', 'ls', `s3://${BUCKET}/`], false);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /SSL|certificate/i);
  } finally {
    await removeAwsConfig(env);
  }
});

test('curl --cacert with SigV4 reads an object; without --cacert it refuses the certificate', { timeout: 30_000 }, async () => {
  const s3 = client(httpsUrl, ca.ca);
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'curl.txt', Body: 'curl sees this' }));
  s3.destroy();
  const args = ['-sS', '--fail-with-body', '--aws-sigv4', 'aws:amz:us-east-1:s3', '--user', `${TEST_ACCESS_KEY}:${TEST_SECRET_KEY}`,
    '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', `${httpsUrl}/${BUCKET}/curl.txt`];
  const ok = await run('curl', ['--cacert', ca.caFile, ...args], { timeoutMs: 20_000 });
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  assert.equal(ok.stdout, 'curl sees this');
  const refused = await run('curl', args, { timeoutMs: 20_000 });
  assert.equal(refused.code, 60, `curl exit 60 is "peer certificate cannot be authenticated": ${refused.stderr}`);
});

test('boto3 with verify=ca.pem lists and reads; with the default trust store it refuses the certificate', { timeout: 60_000 }, async () => {
  const env = await awsEnv({ region: 'us-east-1', accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY } as TestServer);
  const code = `
import boto3, botocore, sys
s3 = boto3.client("s3", endpoint_url=sys.argv[1], verify=sys.argv[2])
s3.put_object(Bucket="${BUCKET}", Key="boto3.txt", Body=b"from boto3")
print(s3.get_object(Bucket="${BUCKET}", Key="boto3.txt")["Body"].read().decode())
try:
    boto3.client("s3", endpoint_url=sys.argv[1]).list_objects_v2(Bucket="${BUCKET}")
    print("TRUSTED WITHOUT CA")
except botocore.exceptions.SSLError:
    print("refused without CA")
`;
  try {
    const r = await run('python3', ['-c', code, httpsUrl, ca.caFile], { env, timeoutMs: 50_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'from boto3\nrefused without CA\n');
  } finally {
    await removeAwsConfig(env);
  }
});

test('TLS 1.2 and 1.3 are accepted; TLS 1.1 and 1.0 are refused by the server', { timeout: 20_000 }, async () => {
  assert.equal((await handshake()).protocol, 'TLSv1.3');
  assert.equal((await handshake({ maxVersion: 'TLSv1.2' })).protocol, 'TLSv1.2');
  for (const version of ['TLSv1.1', 'TLSv1'] as const) {
    // The client is allowed to offer the old version (security level 0), so a refusal can
    // only come from the server: its "protocol version" alert.
    await assert.rejects(handshake({ minVersion: 'TLSv1', maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' }), (e: Error & { code?: string }) => {
      assert.match(`${e.code} ${e.message}`, /protocol.version|unsupported.protocol/i);
      return true;
    });
  }
});

test('the plain-HTTP listener beside HTTPS serves the same store', { timeout: 20_000 }, async () => {
  const s3 = client(httpUrl);
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'curl.txt' }));
    assert.equal(await got.Body!.transformToString(), 'curl sees this');
  } finally {
    s3.destroy();
  }
});

test('SIGHUP swaps the certificate: new connections get it, an upload in flight and a keep-alive connection carry on', { timeout: 60_000 }, async () => {
  const agent = new https.Agent({ ca: ca.ca, keepAlive: true, maxSockets: 1 });
  const get = (urlPath: string) =>
    new Promise<{ status: number; socket: TLSSocket; fingerprint256: string; body: string }>((resolve, reject) => {
      const req = https.get(`${httpsUrl}${urlPath}`, { agent }, (res) => {
        // Taken now: once the body is read, the socket goes back to the agent's pool.
        const socket = res.socket as TLSSocket;
        const fingerprint256 = socket.getPeerCertificate().fingerprint256;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, socket, fingerprint256, body }));
      });
      req.on('error', reject);
    });
  try {
    assert.equal((await handshake()).fingerprint256, certA.fingerprint256);
    const first = await get('/');
    assert.equal(first.status, 403);
    const keptSocket = first.socket;
    assert.equal(first.fingerprint256, certA.fingerprint256);

    // An upload that is half sent when the certificate changes.
    const s3 = client(httpsUrl, ca.ca);
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: 'inflight.bin' }), { expiresIn: 300 });
    s3.destroy();
    const body = patternBuffer(3 * 1024 * 1024, 11);
    const half = 1024 * 1024 + 12345;
    let uploadSocket: TLSSocket | undefined;
    const put = https.request(url, { method: 'PUT', ca: ca.ca, agent: false, headers: { 'content-length': String(body.length) } });
    put.on('socket', (s) => (uploadSocket = s as TLSSocket));
    const answered = new Promise<{ status: number; text: string }>((resolve, reject) => {
      put.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      put.on('error', reject);
    });
    put.write(body.subarray(0, half));
    await new Promise((r) => setTimeout(r, 300));

    await copyFile(certB.certFile, liveCert);
    await copyFile(certB.keyFile, liveKey);
    // Readable by others: reloaded all the same, with a warning.
    await chmod(liveKey, 0o644);
    srv.child.kill('SIGHUP');
    await waitForOutput('TLS certificate reloaded');
    await waitForOutput('can be read by other users (mode 644)');
    await chmod(liveKey, 0o600);
    assert.match(srv.output(), /TLS certificate reloaded from .*live\.pem \(for IP Address:127\.0\.0\.1, DNS:localhost, valid until/);

    assert.equal((await handshake()).fingerprint256, certB.fingerprint256, 'a new connection sees the new certificate');
    assert.equal(uploadSocket!.getPeerCertificate().fingerprint256, certA.fingerprint256);
    put.end(body.subarray(half));
    const done = await answered;
    assert.equal(done.status, 200, done.text);

    const again = await get('/');
    assert.equal(again.status, 403);
    assert.equal(again.socket, keptSocket, 'the keep-alive connection was not dropped');
    assert.equal(again.fingerprint256, certA.fingerprint256);

    const reader = client(httpsUrl, ca.ca);
    try {
      const got = await reader.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'inflight.bin' }));
      assert.equal(md5hex(Buffer.from(await got.Body!.transformToByteArray())), md5hex(body));
    } finally {
      reader.destroy();
    }
  } finally {
    agent.destroy();
  }
});

test('SIGHUP with a key that does not match the certificate keeps the current pair and says so', { timeout: 30_000 }, async () => {
  const before = (await handshake()).fingerprint256;
  await copyFile(certA.certFile, liveCert);
  await copyFile(certB.keyFile, liveKey);
  srv.child.kill('SIGHUP');
  await waitForOutput('TLS certificate NOT reloaded');
  assert.match(srv.output(), /NOT reloaded[^\n]*does not belong to the certificate/);
  assert.equal((await handshake()).fingerprint256, before);
  const s3 = client(httpsUrl, ca.ca);
  try {
    const list = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    assert.equal(list.$metadata.httpStatusCode, 200);
  } finally {
    s3.destroy();
  }
});

test('a certificate that cannot be used stops the start with a clear error and exit status 2', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-tls-bad-'));
  try {
    const notPem = path.join(dir, 'not.pem');
    await writeFile(notPem, 'this is not a certificate\n');
    const cases: Array<{ cert: string; key: string; expect: RegExp }> = [
      { cert: notPem, key: certA.keyFile, expect: /tessera: tls: the TLS certificate .*not\.pem.* cannot be used: .*not a PEM file/ },
      { cert: certA.certFile, key: certB.keyFile, expect: /tessera: tls: .*does not belong to the certificate/ },
      { cert: path.join(dir, 'missing.pem'), key: certA.keyFile, expect: /tessera: tls: cannot read the TLS certificate .*missing\.pem/ },
    ];
    for (const c of cases) {
      const port = await freePort();
      const r = await run(process.execPath, [MAIN, 'server'], {
        cwd: dir,
        timeoutMs: 30_000,
        env: {
          ...process.env,
          TESSERA_ADDRESS: `127.0.0.1:${port}`,
          TESSERA_DISKS: [1, 2, 3, 4].map((i) => path.join(dir, `disk${i}`)).join(','),
          TESSERA_ROOT_ACCESS_KEY: TEST_ACCESS_KEY,
          TESSERA_ROOT_SECRET_KEY: TEST_SECRET_KEY,
          TESSERA_TLS_CERT: c.cert,
          TESSERA_TLS_KEY: c.key,
        },
      });
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, c.expect);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
