// The HTTPS listener as code uses it (startServer → listen): both servers listed, the test
// helpers' clients trusting the test CA, reloadTls() taking a new pair and refusing a bad one.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { GetObjectCommand, PutObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3';
import { startTestServer } from '../helpers/server.js';
import { boto3, sdkClient } from '../helpers/clients.js';
import { makeServerCert } from '../helpers/tls.js';
import { exchange, sendRaw, s3ErrorOf } from '../helpers/raw-sign.js';
import { TlsSetupError } from '../../src/http/server.js';

function peerFingerprint(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, ca }, () => {
      const fp = sock.getPeerCertificate().fingerprint256;
      sock.end();
      resolve(fp);
    });
    sock.once('error', reject);
  });
}

test('startServer with TLS and a plain-HTTP listener: both serve, reloadTls swaps the pair and refuses a bad one', { timeout: 60_000 }, async () => {
  const srv = await startTestServer({ tls: true, plainHttp: true });
  try {
    const h = srv.started.http;
    assert.equal(h.secure, true);
    assert.equal(h.servers.length, 2);
    assert.match(srv.endpoint, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(srv.httpEndpoint ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(h.httpPort, h.port);

    const s3 = sdkClient(srv);
    await s3.send(new CreateBucketCommand({ Bucket: 'both' }));
    await s3.send(new PutObjectCommand({ Bucket: 'both', Key: 'k', Body: 'same store' }));
    s3.destroy();
    const plain = sdkClient({ ...srv, endpoint: srv.httpEndpoint!, ca: undefined });
    const got = await plain.send(new GetObjectCommand({ Bucket: 'both', Key: 'k' }));
    assert.equal(await got.Body!.transformToString(), 'same store');
    plain.destroy();
    const py = await boto3(srv, `print(s3.get_object(Bucket='both', Key='k')['Body'].read().decode())`);
    assert.equal(py.code, 0, py.stderr);
    assert.equal(py.stdout, 'same store\n');

    // The configured files get a new pair (same CA); reloadTls reads them again.
    const tlsConf = srv.config.tls!;
    const ca = { caFile: srv.caFile!, caKeyFile: path.join(path.dirname(srv.caFile!), 'ca.key'), ca: srv.ca!, dir: path.dirname(srv.caFile!) };
    const before = await peerFingerprint(h.port, srv.ca!);
    const next = await makeServerCert(ca, 'next');
    assert.notEqual(next.fingerprint256, before);
    await copyFile(next.certFile, tlsConf.certFile);
    await copyFile(next.keyFile, tlsConf.keyFile);
    await h.reloadTls();
    assert.equal(await peerFingerprint(h.port, srv.ca!), next.fingerprint256);

    await writeFile(tlsConf.keyFile, 'not a key\n');
    await assert.rejects(h.reloadTls(), (e: Error) => e instanceof TlsSetupError && /cannot be used/.test(e.message));
    assert.equal(await peerFingerprint(h.port, srv.ca!), next.fingerprint256, 'the refused pair changed nothing');
  } finally {
    await srv.destroy();
  }
});

test('SSE-C on one server: accepted on its HTTPS endpoint, refused on the plain-HTTP listener beside it', { timeout: 60_000 }, async () => {
  const srv = await startTestServer({ tls: true, plainHttp: true });
  try {
    const key = randomBytes(32);
    const ssec = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.toString('base64'), SSECustomerKeyMD5: createHash('md5').update(key).digest('base64') };
    const s3 = sdkClient(srv);
    await s3.send(new CreateBucketCommand({ Bucket: 'ssec' }));
    await s3.send(new PutObjectCommand({ Bucket: 'ssec', Key: 'k', Body: 'customer keyed', ...ssec }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'ssec', Key: 'k', ...ssec }));
    assert.equal(await got.Body!.transformToString(), 'customer keyed');
    s3.destroy();

    // The same request on the plain listener: the key would have crossed the network in clear.
    const headers = {
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key': ssec.SSECustomerKey,
      'x-amz-server-side-encryption-customer-key-md5': ssec.SSECustomerKeyMD5,
    };
    const target = { host: '127.0.0.1', port: srv.started.http.httpPort!, accessKeyId: srv.accessKeyId, secretAccessKey: srv.secretAccessKey, region: srv.region };
    for (const method of ['PUT', 'GET']) {
      const r = await sendRaw(target, { method, path: '/ssec/k', headers, ...(method === 'PUT' ? { body: 'over plain http' } : {}) });
      assert.equal(r.status, 400, `${method}: ${r.body.toString()}`);
      assert.equal(s3ErrorOf(r.body)?.code, 'InvalidRequest');
    }
  } finally {
    await srv.destroy();
  }
});

test('a socket that never starts its TLS handshake is closed after the header timeout; plain HTTP on the HTTPS port gets a plain 400 at once', { timeout: 30_000 }, async () => {
  const srv = await startTestServer({ tls: true, env: { TESSERA_HEADER_TIMEOUT: '1' } });
  try {
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const sock = net.connect(srv.port, '127.0.0.1');
      sock.on('error', () => undefined);
      sock.on('close', () => resolve(Date.now() - started));
      // Node's own default would hold it 120 s.
      setTimeout(() => { sock.destroy(); reject(new Error('the silent socket was still open after 10 s')); }, 10_000);
    });
    assert.ok(closedAfter >= 900 && closedAfter < 5000, `closed after ${closedAfter} ms`);
    // Plain HTTP on the HTTPS port: answered at once in plain HTTP (S3 XML 400 saying so), not
    // an empty reply, and closed.
    const t0 = Date.now();
    const plain = await exchange({ host: '127.0.0.1', port: srv.port }, Buffer.from('GET /b/k HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.equal(plain.closedEarly, false);
    assert.equal(plain.status, 400);
    assert.equal(plain.headers['connection'], 'close');
    assert.equal(s3ErrorOf(plain.body)?.code, 'BadRequest');
    assert.match(plain.body.toString(), /plain HTTP request was sent to the HTTPS port/);
    assert.ok(Date.now() - t0 < 900, `plain HTTP on the HTTPS port held ${Date.now() - t0} ms`);
    // A TLS client that fails its handshake otherwise (TLS 1.1) is still just closed.
    const old = await new Promise<string>((resolve) => {
      const sock = tls.connect({ host: '127.0.0.1', port: srv.port, maxVersion: 'TLSv1.1', minVersion: 'TLSv1', rejectUnauthorized: false });
      sock.once('secureConnect', () => { sock.destroy(); resolve('connected'); });
      sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    assert.notEqual(old, 'connected');
    // A real client in the meantime is unaffected.
    const s3 = sdkClient(srv);
    await s3.send(new CreateBucketCommand({ Bucket: 'after' }));
    s3.destroy();
  } finally {
    await srv.destroy();
  }
});
