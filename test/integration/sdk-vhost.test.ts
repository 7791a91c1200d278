// Virtual-host style addressing (bucket.DOMAIN) on a server started with TESSERA_DOMAIN=localhost:
// raw requests signed with aws4 and sent to 127.0.0.1 with a Host header, and the AWS SDK v3
// with forcePathStyle false (its requests for mybucket.localhost are resolved to 127.0.0.1).

import assert from 'node:assert/strict';
import http from 'node:http';
import type { LookupFunction } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable } from 'node:stream';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { sdkClient } from '../helpers/clients.js';
import { assertXmlError, bodyBytes, expectS3Error, md5hex, patternBuffer, rawRequest, signedRawRequest, uniqueBucket, xmlField } from './sdk-helpers.js';

let server: TestServer;
let pathClient: S3Client;
let vhostClient: S3Client;
let agent: http.Agent;

/** Resolves every name to 127.0.0.1, so bucket.localhost reaches the test server. */
const toLoopback = ((_host: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) => {
  if (opts && opts.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
  else cb(null, '127.0.0.1', 4);
}) as unknown as LookupFunction;

before(async () => {
  server = await startTestServer({ env: { TESSERA_DOMAIN: 'localhost' } });
  pathClient = sdkClient(server);
  agent = new http.Agent({ keepAlive: true, lookup: toLoopback } as http.AgentOptions);
  vhostClient = sdkClient(server, {
    endpoint: `http://localhost:${server.port}`,
    forcePathStyle: false,
    requestHandler: { httpAgent: agent },
  });
});

after(async () => {
  pathClient?.destroy();
  vhostClient?.destroy();
  agent?.destroy();
  await server?.destroy();
});

const vhost = (bucket: string) => `${bucket}.localhost:${server.port}`;

describe('raw requests signed with aws4, Host: bucket.localhost', () => {
  test('create the bucket, PUT, GET, HEAD, list, DELETE — all virtual-host style', async () => {
    const b = uniqueBucket('vh');
    const create = await signedRawRequest(server, { method: 'PUT', host: vhost(b), path: '/', body: '' });
    assert.equal(create.status, 200, create.body.toString());

    const data = patternBuffer(200_000, 31);
    const put = await signedRawRequest(server, { method: 'PUT', host: vhost(b), path: '/dir/obj.bin', body: data, headers: { 'Content-Type': 'application/x-vh', 'x-amz-meta-style': 'virtual' } });
    assert.equal(put.status, 200, put.body.toString());
    assert.equal(put.headers.etag, `"${md5hex(data)}"`);

    const get = await signedRawRequest(server, { method: 'GET', host: vhost(b), path: '/dir/obj.bin' });
    assert.equal(get.status, 200);
    assert.ok(get.body.equals(data));
    assert.equal(get.headers['content-type'], 'application/x-vh');
    assert.equal(get.headers['x-amz-meta-style'], 'virtual');

    const head = await signedRawRequest(server, { method: 'HEAD', host: vhost(b), path: '/dir/obj.bin' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(data.length));

    const list = await signedRawRequest(server, { method: 'GET', host: vhost(b), path: '/?list-type=2&prefix=dir%2F' });
    assert.equal(list.status, 200);
    assert.equal(xmlField(list.body.toString(), 'Name'), b);
    assert.equal(xmlField(list.body.toString(), 'Key'), 'dir/obj.bin');

    // The same object is reachable path-style on the same server.
    const g = await pathClient.send(new GetObjectCommand({ Bucket: b, Key: 'dir/obj.bin' }));
    assert.ok((await bodyBytes(g.Body)).equals(data));

    const del = await signedRawRequest(server, { method: 'DELETE', host: vhost(b), path: '/dir/obj.bin' });
    assert.equal(del.status, 204);
    const gone = await signedRawRequest(server, { method: 'GET', host: vhost(b), path: '/dir/obj.bin' });
    assertXmlError({ status: gone.status, headers: gone.headers, body: gone.body.toString() }, 'NoSuchKey', 404);
  });

  // ("/a%2Fb" is left out: aws4 signs "%2F" as "/", so its signature cannot match the raw path.)
  test('keys that look like paths keep their meaning: leading slash, double slash, %252F, dots', async () => {
    const b = uniqueBucket('vhkeys');
    await pathClient.send(new CreateBucketCommand({ Bucket: b }));
    const cases: Array<[string, string]> = [
      ['//leading', '/leading'],
      ['/a//b', 'a//b'],
      ['/x%252Fy', 'x%2Fy'],
      ['/sp%20ace%2Bplus', 'sp ace+plus'],
      ['/caf%C3%A9', 'café'],
      ['/../up', '../up'],
    ];
    for (const [rawPath, key] of cases) {
      const put = await signedRawRequest(server, { method: 'PUT', host: vhost(b), path: rawPath, body: `key=${key}` });
      assert.equal(put.status, 200, `${rawPath}: ${put.body}`);
      const g = await pathClient.send(new GetObjectCommand({ Bucket: b, Key: key }));
      assert.equal(await g.Body!.transformToString(), `key=${key}`, `${rawPath} stored as ${JSON.stringify(key)}`);
    }
  });

  test('the bare domain is the service endpoint: ListBuckets on Host localhost', async () => {
    const b = uniqueBucket('vhlist');
    await pathClient.send(new CreateBucketCommand({ Bucket: b }));
    const r = await signedRawRequest(server, { method: 'GET', host: `localhost:${server.port}`, path: '/' });
    assert.equal(r.status, 200);
    assert.ok(r.body.toString().includes(`<Name>${b}</Name>`));
  });

  test('a virtual-host request for a missing bucket → 404 NoSuchBucket XML, signed or not (as S3)', async () => {
    const b = uniqueBucket('vhnone');
    const r = await signedRawRequest(server, { method: 'GET', host: vhost(b), path: '/k' });
    assertXmlError({ status: r.status, headers: r.headers, body: r.body.toString() }, 'NoSuchBucket', 404);
    assert.equal(xmlField(r.body.toString(), 'BucketName'), b);
    const anon = await rawRequest(server, { method: 'GET', path: '/k', headers: { Host: vhost(b) } });
    assertXmlError({ status: anon.status, headers: anon.headers, body: anon.body.toString() }, 'NoSuchBucket', 404);
    // An existing private bucket: unsigned is AccessDenied.
    await pathClient.send(new CreateBucketCommand({ Bucket: b }));
    const denied = await rawRequest(server, { method: 'GET', path: '/k', headers: { Host: vhost(b) } });
    assertXmlError({ status: denied.status, headers: denied.headers, body: denied.body.toString() }, 'AccessDenied', 403);
  });

  test('a signature made for another Host does not verify', async () => {
    const b = uniqueBucket('vhhost');
    await pathClient.send(new CreateBucketCommand({ Bucket: b }));
    // Signed for bucket.localhost, sent path-style with the signature's Host swapped.
    const aws4 = (await import('aws4')).default;
    const opts = { host: vhost(b), method: 'GET', path: '/', service: 's3', region: server.region, headers: {} as Record<string, string> };
    aws4.sign(opts, { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey });
    const r = await rawRequest(server, { method: 'GET', path: `/${b}/`, headers: { ...opts.headers, Host: `127.0.0.1:${server.port}` } });
    assertXmlError({ status: r.status, headers: r.headers, body: r.body.toString() }, 'SignatureDoesNotMatch', 403);
  });
});

describe('AWS SDK v3 with forcePathStyle false', () => {
  test('CreateBucket, PutObject (string and stream), GetObject, ListObjectsV2, DeleteObject', async () => {
    const b = uniqueBucket('vhsdk');
    const seenHosts: string[] = [];
    vhostClient.middlewareStack.add(
      (next) => async (args) => {
        seenHosts.push((args.request as { hostname: string }).hostname);
        return next(args);
      },
      { step: 'finalizeRequest', name: 'seeHost', priority: 'low', override: true },
    );
    await vhostClient.send(new CreateBucketCommand({ Bucket: b }));
    assert.equal(seenHosts.at(-1), `${b}.localhost`, 'the SDK addressed the bucket by host name');
    const put = await vhostClient.send(new PutObjectCommand({ Bucket: b, Key: 'hello world.txt', Body: 'hello vhost' }));
    assert.equal(put.ETag, `"${md5hex('hello vhost')}"`);
    const data = patternBuffer(500_000, 32);
    await vhostClient.send(new PutObjectCommand({ Bucket: b, Key: 'stream.bin', Body: Readable.from([data]), ContentLength: data.length }));
    const g = await vhostClient.send(new GetObjectCommand({ Bucket: b, Key: 'hello world.txt' }));
    assert.equal(await g.Body!.transformToString(), 'hello vhost');
    const gs = await vhostClient.send(new GetObjectCommand({ Bucket: b, Key: 'stream.bin', ChecksumMode: 'ENABLED' }));
    assert.ok((await bodyBytes(gs.Body)).equals(data));
    const l = await vhostClient.send(new ListObjectsV2Command({ Bucket: b }));
    assert.deepEqual(l.Contents?.map((o) => o.Key), ['hello world.txt', 'stream.bin']);
    const h = await vhostClient.send(new HeadObjectCommand({ Bucket: b, Key: 'stream.bin' }));
    assert.equal(h.ContentLength, data.length);
    await vhostClient.send(new DeleteObjectCommand({ Bucket: b, Key: 'hello world.txt' }));
    await expectS3Error(vhostClient.send(new GetObjectCommand({ Bucket: b, Key: 'hello world.txt' })), 'NoSuchKey', 404);
  });

  test('a virtual-host presigned GET works when sent with its Host', async () => {
    const b = uniqueBucket('vhpre');
    await pathClient.send(new CreateBucketCommand({ Bucket: b }));
    await pathClient.send(new PutObjectCommand({ Bucket: b, Key: 'p q', Body: 'presigned vhost' }));
    const url = new URL(await getSignedUrl(vhostClient, new GetObjectCommand({ Bucket: b, Key: 'p q' }), { expiresIn: 60 }));
    assert.equal(url.hostname, `${b}.localhost`);
    const r = await rawRequest(server, { method: 'GET', path: url.pathname + url.search, headers: { Host: url.host } });
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.body.toString(), 'presigned vhost');
  });
});
