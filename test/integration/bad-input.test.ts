// Hostile input against a real server, over raw sockets signed with SigV4 (helpers/raw-sign.ts):
// NULs, invalid UTF-8 and over-long values in every name (bucket in the path and in the Host,
// key, listing parameters and markers, upload and version ids, part numbers, the copy source,
// tags), malformed HTTP, absurd lengths, Expect headers, unreadable data, hang-ups. Each refusal
// must be S3 XML with the exact code, its status, and the request id of its headers; and must
// change nothing: the listings, the uploads and the files on every disk stay as they were.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { esc, exchange, s3ErrorOf, sendRaw, signRaw, type RawRequest, type RawResponse, type RawTarget } from '../helpers/raw-sign.js';

const T = { timeout: 60_000 };

interface LogLine {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

let server: TestServer;
let target: RawTarget;
const logs: LogLine[] = [];
let uploadId = '';
let versionId = '';

async function send(r: RawRequest): Promise<RawResponse> {
  return sendRaw(target, r);
}

/** Asserts an S3 error reply: status, Code, and a RequestId that matches the header. */
function assertS3Error(res: RawResponse, status: number, code: string, what: string): void {
  const e = s3ErrorOf(res.body);
  assert.ok(e, `${what}: expected S3 XML error, got ${res.status} ${res.body.toString('latin1').slice(0, 200)}`);
  assert.equal(res.status, status, `${what}: status (${e.code}: ${e.message})`);
  assert.equal(e.code, code, `${what}: code (${e.message})`);
  assert.match(e.requestId, /^[0-9A-F]{16}$/, `${what}: RequestId`);
  assert.equal(res.headers['x-amz-request-id'], e.requestId, `${what}: x-amz-request-id header matches the XML`);
  assert.match(res.headers['content-type'] ?? '', /application\/xml/, `${what}: content type`);
}

/** Everything a request could have changed: buckets, versions, uploads, parts, files on every disk. */
async function snapshot(): Promise<string> {
  const list = async (p: string, q: string) => {
    const r = await send({ method: 'GET', path: p, query: q });
    assert.equal(r.status, 200, `snapshot ${p}?${q}: ${r.body.toString()}`);
    // Owner ids and the like are stable; request ids are in headers, not bodies.
    return r.body.toString('utf8');
  };
  const files: string[] = [];
  for (const d of server.disks) {
    for (const sub of ['shards', 'tmp']) {
      const walk = async (dir: string): Promise<void> => {
        let entries;
        try {
          entries = await readdir(dir, { withFileTypes: true });
        } catch {
          return;
        }
        for (const e of entries) {
          const full = path.join(dir, e.name);
          if (e.isDirectory()) await walk(full);
          else files.push(path.relative(server.root, full));
        }
      };
      await walk(path.join(d, sub));
    }
  }
  files.sort();
  return JSON.stringify([
    (await list('/', '')).replace(/<CreationDate>[^<]*<\/CreationDate>/g, ''),
    await list('/bkt', 'versions='),
    await list('/bkt', 'uploads='),
    await list('/bkt/up', `uploadId=${uploadId}`),
    files,
  ]);
}

/** Runs a refused request and checks its answer and that nothing changed. */
async function refused(what: string, r: RawRequest, status: number, code: string): Promise<void> {
  const before = await snapshot();
  const res = await send(r);
  assertS3Error(res, status, code, what);
  assert.equal(await snapshot(), before, `${what}: nothing stored or changed`);
}

before(async () => {
  server = await startTestServer({
    env: { TESSERA_DOMAIN: 's3.test' },
    log: (level, msg, fields) => logs.push({ level, msg, fields }),
  });
  target = { host: '127.0.0.1', port: server.port, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, region: server.region };
  assert.equal((await send({ method: 'PUT', path: '/bkt' })).status, 200);
  const ver = '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>';
  assert.equal((await send({ method: 'PUT', path: '/bkt', query: 'versioning=', body: ver, headers: { 'content-md5': createHash('md5').update(ver).digest('base64') } })).status, 200);
  const put = await send({ method: 'PUT', path: '/bkt/k', body: Buffer.alloc(300 * 1024, 7) });
  assert.equal(put.status, 200);
  versionId = put.headers['x-amz-version-id'] ?? '';
  const up = await send({ method: 'POST', path: '/bkt/up', query: 'uploads=' });
  uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(up.body.toString())?.[1] ?? '';
  assert.ok(uploadId);
  assert.equal((await send({ method: 'PUT', path: '/bkt/up', query: `partNumber=1&uploadId=${uploadId}`, body: 'part one' })).status, 200);
});

after(async () => {
  await server?.destroy();
});

describe('names in the path and the Host header', () => {
  test('bucket names that cannot be a bucket → 400 InvalidBucketName', T, async () => {
    await refused('NUL in bucket (GET)', { method: 'GET', path: '/b%00kt' }, 400, 'InvalidBucketName');
    await refused('NUL in bucket (CreateBucket)', { method: 'PUT', path: '/b%00kt' }, 400, 'InvalidBucketName');
    await refused('NUL in bucket (PUT object)', { method: 'PUT', path: '/b%00kt/k', body: 'x' }, 400, 'InvalidBucketName');
    await refused('slash in bucket', { method: 'GET', path: '/bkt%2Fx/k' }, 400, 'InvalidBucketName');
    await refused('over-long bucket', { method: 'GET', path: '/' + 'b'.repeat(300) }, 400, 'InvalidBucketName');
    await refused('unicode bucket', { method: 'GET', path: '/' + esc('bü') }, 400, 'InvalidBucketName');
    await refused('virtual-host bucket with a % in it', { method: 'GET', path: '/', headers: { host: `b%00x.s3.test:${server.port}` } }, 400, 'InvalidBucketName');
  });

  test('keys: NUL, over 1024 bytes, invalid UTF-8', T, async () => {
    await refused('NUL in key (GET)', { method: 'GET', path: '/bkt/a%00b' }, 400, 'InvalidArgument');
    await refused('NUL in key (PUT)', { method: 'PUT', path: '/bkt/a%00b', body: 'x' }, 400, 'InvalidArgument');
    await refused('key of 1025 bytes', { method: 'PUT', path: '/bkt/' + 'k'.repeat(1025), body: 'x' }, 400, 'KeyTooLongError');
    await refused('invalid UTF-8 in key', { method: 'PUT', path: '/bkt/a%FFb', body: 'x' }, 400, 'InvalidURI');
    await refused('overlong UTF-8 encoding of /', { method: 'GET', path: '/bkt/%C0%AF' }, 400, 'InvalidURI');
    await refused('encoded surrogate', { method: 'GET', path: '/bkt/%ED%A0%80' }, 400, 'InvalidURI');
  });

  test('GET //x and other paths no route takes → S3 XML, not a plain-text 404', T, async () => {
    for (const p of ['//x', '//', '///x/y']) {
      const res = await exchange(target, Buffer.from(`GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
      assertS3Error(res, 400, 'InvalidBucketName', `GET ${p}`);
    }
    const signed = await send({ method: 'GET', path: '//x' });
    assertS3Error(signed, 400, 'InvalidBucketName', 'signed GET //x');
    const absolute = await exchange(target, Buffer.from(`GET http://127.0.0.1/bkt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    assertS3Error(absolute, 400, 'InvalidURI', 'absolute-form request target');
  });
});

describe('query parameters', () => {
  test('listing parameters and markers: NUL, invalid UTF-8, over-long', T, async () => {
    const cases: Array<[string, string, string]> = [
      ['prefix=a%00', 'InvalidArgument', 'NUL in prefix'],
      ['delimiter=%00', 'InvalidArgument', 'NUL in delimiter'],
      ['marker=a%00b', 'InvalidArgument', 'NUL in marker'],
      ['list-type=2&start-after=%00', 'InvalidArgument', 'NUL in start-after'],
      ['continuation-token=AA&list-type=2', 'InvalidArgument', 'continuation token that decodes to a NUL'],
      ['continuation-token=_w&list-type=2', 'InvalidArgument', 'continuation token that is not UTF-8'],
      ['continuation-token=' + 'A'.repeat(2000) + '&list-type=2', 'InvalidArgument', 'over-long continuation token'],
      ['key-marker=a%00b&versions=', 'InvalidArgument', 'NUL in key-marker'],
      ['key-marker=a&version-id-marker=%00&versions=', 'InvalidArgument', 'NUL in version-id-marker'],
      ['key-marker=a&upload-id-marker=%00&uploads=', 'InvalidArgument', 'NUL in upload-id-marker'],
      ['key-marker=a%00&uploads=', 'InvalidArgument', 'NUL in key-marker of uploads'],
      ['prefix=a%FF', 'InvalidURI', 'invalid UTF-8 in prefix'],
      ['delimiter=%C3', 'InvalidURI', 'truncated UTF-8 in delimiter'],
      ['max-keys=%00', 'InvalidArgument', 'NUL in max-keys'],
      ['x%00y=1', 'InvalidArgument', 'NUL in a parameter name'],
    ];
    for (const [query, code, what] of cases) await refused(what, { method: 'GET', path: '/bkt', query }, 400, code);
  });

  test('upload ids that cannot exist → 404 NoSuchUpload, as S3', T, async () => {
    for (const id of ['%00', 'a%00b', 'x'.repeat(2000), esc('../../etc')]) {
      await refused(`ListParts ${id.slice(0, 20)}`, { method: 'GET', path: '/bkt/up', query: `uploadId=${id}` }, 404, 'NoSuchUpload');
      await refused(`UploadPart ${id.slice(0, 20)}`, { method: 'PUT', path: '/bkt/up', query: `partNumber=2&uploadId=${id}`, body: 'x' }, 404, 'NoSuchUpload');
      await refused(`Abort ${id.slice(0, 20)}`, { method: 'DELETE', path: '/bkt/up', query: `uploadId=${id}` }, 404, 'NoSuchUpload');
      await refused(`Complete ${id.slice(0, 20)}`, { method: 'POST', path: '/bkt/up', query: `uploadId=${id}`, body: '<CompleteMultipartUpload/>' }, 404, 'NoSuchUpload');
    }
  });

  test('version ids: malformed → 400 InvalidArgument', T, async () => {
    for (const [id, what] of [['%00', 'NUL'], ['zz', 'not ours'], ['', 'empty'], ['a'.repeat(2000), 'over-long'], ['%FF', 'invalid UTF-8']] as const) {
      const code = what === 'invalid UTF-8' ? 'InvalidURI' : 'InvalidArgument';
      await refused(`GET versionId ${what}`, { method: 'GET', path: '/bkt/k', query: `versionId=${id}` }, 400, code);
      await refused(`DELETE versionId ${what}`, { method: 'DELETE', path: '/bkt/k', query: `versionId=${id}` }, 400, code);
      await refused(`PutObjectTagging versionId ${what}`, {
        method: 'PUT', path: '/bkt/k', query: `tagging=&versionId=${id}`, body: '<Tagging><TagSet/></Tagging>',
      }, 400, code);
    }
  });

  test('part numbers: NUL, zero, absurd', T, async () => {
    for (const n of ['%00', '0', '10001', '99999999999999999999999', '-1', '1.5']) {
      await refused(`UploadPart partNumber=${n}`, { method: 'PUT', path: '/bkt/up', query: `partNumber=${n}&uploadId=${uploadId}`, body: 'x' }, 400, 'InvalidArgument');
      await refused(`GET partNumber=${n}`, { method: 'GET', path: '/bkt/k', query: `partNumber=${n}` }, 400, 'InvalidArgument');
    }
  });
});

describe('headers', () => {
  test('x-amz-copy-source: bad bucket, key, encoding, version id', T, async () => {
    const cases: Array<[string, string]> = [
      ['b%00kt/k', 'NUL in the source bucket'],
      ['/bkt/a%00', 'NUL in the source key'],
      ['bkt/k%FF', 'invalid UTF-8 in the source key'],
      ['bkt/k\xff', 'a raw byte that is not UTF-8'],
      ['bkt/' + 'k'.repeat(1100), 'source key over 1024 bytes'],
      ['bkt/k?versionId=%00', 'NUL in the source version id'],
      ['bkt/k?versionId=nope', 'malformed source version id'],
      ['bkt', 'no key'],
      ['%', 'bad percent escape'],
    ];
    for (const [src, what] of cases) {
      const code = what.includes('over 1024') ? 'KeyTooLongError' : 'InvalidArgument';
      await refused(`CopyObject: ${what}`, { method: 'PUT', path: '/bkt/copy', headers: { 'x-amz-copy-source': src } }, 400, code);
      await refused(`UploadPartCopy: ${what}`, { method: 'PUT', path: '/bkt/up', query: `partNumber=3&uploadId=${uploadId}`, headers: { 'x-amz-copy-source': src } }, 400, code);
    }
  });

  test('x-amz-tagging with a NUL or invalid UTF-8 → 400 InvalidTag', T, async () => {
    await refused('NUL tag value', { method: 'PUT', path: '/bkt/t', headers: { 'x-amz-tagging': 'a=%00' }, body: 'x' }, 400, 'InvalidTag');
    await refused('NUL tag key', { method: 'PUT', path: '/bkt/t', headers: { 'x-amz-tagging': '%00=a' }, body: 'x' }, 400, 'InvalidTag');
    await refused('invalid UTF-8 tag', { method: 'PUT', path: '/bkt/t', headers: { 'x-amz-tagging': 'a=%FF' }, body: 'x' }, 400, 'InvalidTag');
    await refused('NUL tag in XML', { method: 'PUT', path: '/bkt/k', query: 'tagging=', body: '<Tagging><TagSet><Tag><Key>a</Key><Value>&#0;</Value></Tag></TagSet></Tagging>' }, 400, 'MalformedXML');
  });

  test('XML bodies with character references XML forbids → 400 MalformedXML', T, async () => {
    for (const ref of ['&#0;', '&#x0;', '&#x1F;', '&#xFFFE;', '&#99999999999;']) {
      const body = `<Delete><Object><Key>a${ref}</Key></Object></Delete>`;
      await refused(`DeleteObjects ${ref}`, { method: 'POST', path: '/bkt', query: 'delete=', body, headers: { 'content-md5': createHash('md5').update(body).digest('base64') } }, 400, 'MalformedXML');
    }
  });

  test('a NUL or a control character in any header → 400 S3 XML from the wire, nothing logged above debug', T, async () => {
    for (const h of ['X-Amz-Meta-A: a\0b', 'X-Amz-Copy-Source: bkt/k\0', 'Host: b\0x.s3.test', 'X-A: \x01']) {
      const res = await exchange(target, Buffer.from(`PUT /bkt/w HTTP/1.1\r\nHost: 127.0.0.1\r\n${h}\r\nContent-Length: 1\r\n\r\nx`, 'latin1'));
      assertS3Error(res, 400, 'BadRequest', JSON.stringify(h));
      assert.equal(res.headers.connection, 'close');
    }
  });

  test('a header the parser refuses, with a 2 MiB body still arriving → the body is read and dropped, never reset under the 400', T, async () => {
    // Node's parser reports the error again for each later chunk of the body; closing the socket
    // on those reset the connection, and a client still sending could lose the 400 (seen in the
    // fuzz test). Most of the body is sent only after the 400 arrived, so it comes after it.
    const sock = net.connect(target.port, target.host);
    const errors: string[] = [];
    sock.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
    const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    let reply = Buffer.alloc(0);
    const answered = new Promise<void>((resolve) => sock.on('data', (d: Buffer) => {
      reply = Buffer.concat([reply, d]);
      if (reply.includes('</Error>')) resolve();
    }));
    const size = 2 * 1024 * 1024;
    const chunk = Buffer.alloc(128 * 1024, 0x20);
    const head = Buffer.from(`PUT /bkt/w HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\x7fb\r\nContent-Length: ${size}\r\n\r\n`, 'latin1');
    // The head with the start of the body, as a client sends it: the parser meets the body
    // right after its error (a head alone leaves Node's parser waiting).
    sock.write(Buffer.concat([head, chunk]));
    await answered;
    assert.match(reply.toString('latin1'), /^HTTP\/1\.1 400 [^]*<Code>BadRequest<\/Code>/);
    for (let sent = chunk.length; sent < size && errors.length === 0; sent += chunk.length) {
      await new Promise<void>((resolve) => sock.write(chunk, () => resolve()));
      await new Promise((r) => setTimeout(r, 5));
    }
    sock.end();
    await closed;
    assert.deepEqual(errors, [], 'the server read the body to its end instead of resetting the connection');
  });

  test('oversized header section → 400 RequestHeaderSectionTooLarge as S3 XML', T, async () => {
    const res = await exchange(target, Buffer.from(`GET /bkt/k HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`));
    assertS3Error(res, 400, 'RequestHeaderSectionTooLarge', 'oversized headers');
    assert.match(res.body.toString(), /<MaxSizeAllowed>\d+<\/MaxSizeAllowed>/);
  });

  test('malformed request lines and framing → 400 BadRequest as S3 XML', T, async () => {
    for (const raw of ['GARBAGE\r\n\r\n', 'GET /bkt HTTP/9.9\r\n\r\n', 'PUT /bkt/x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx', 'PUT /bkt/x HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n']) {
      const res = await exchange(target, Buffer.from(raw, 'latin1'));
      assertS3Error(res, 400, 'BadRequest', JSON.stringify(raw.slice(0, 40)));
    }
  });
});

describe('sizes and Expect', () => {
  test('Content-Length over 5 TiB → 400 EntityTooLarge before any body byte is read', T, async () => {
    const huge = String(5 * 1024 ** 4 + 1);
    await refused('PUT 5 TiB + 1', { method: 'PUT', path: '/bkt/huge', headers: { 'content-length': huge }, sendBodyBytes: 0 }, 400, 'EntityTooLarge');
    await refused('PUT 2^70', { method: 'PUT', path: '/bkt/huge', headers: { 'content-length': '1180591620717411303424' }, sendBodyBytes: 0 }, 400, 'EntityTooLarge');
    await refused('aws-chunked decoded length over 5 TiB', {
      method: 'PUT', path: '/bkt/huge',
      headers: { 'content-length': '100', 'x-amz-decoded-content-length': huge, 'content-encoding': 'aws-chunked', 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' },
      sendBodyBytes: 0,
    }, 400, 'EntityTooLarge');
    await refused('PUT 6 GiB (one PUT is at most 5 GiB)', { method: 'PUT', path: '/bkt/huge', headers: { 'content-length': String(6 * 1024 ** 3) }, sendBodyBytes: 0 }, 400, 'EntityTooLarge');
    await refused('part of 6 GiB', { method: 'PUT', path: '/bkt/up', query: `partNumber=2&uploadId=${uploadId}`, headers: { 'content-length': String(6 * 1024 ** 3) }, sendBodyBytes: 0 }, 400, 'EntityTooLarge');
  });

  test('an oversized XML body → 400 MaxMessageLengthExceeded, delivered (never a reset connection)', T, async () => {
    const big = Buffer.concat([Buffer.from('<Tagging><TagSet></TagSet></Tagging>'), Buffer.alloc(2 * 1024 * 1024 + 10, 0x20)]);
    const md5 = createHash('md5').update(big).digest('base64');
    for (let i = 0; i < 3; i++) {
      await refused('PutObjectTagging', { method: 'PUT', path: '/bkt/k', query: 'tagging=', body: big }, 400, 'MaxMessageLengthExceeded');
      await refused('DeleteObjects', { method: 'POST', path: '/bkt', query: 'delete=', body: big, headers: { 'content-md5': md5 } }, 400, 'MaxMessageLengthExceeded');
      await refused('CompleteMultipartUpload', { method: 'POST', path: '/bkt/up', query: `uploadId=${uploadId}`, body: big }, 400, 'MaxMessageLengthExceeded');
    }
  });

  test('a request refused before its body is read still gets its answer (small bodies are drained)', T, async () => {
    for (let i = 0; i < 5; i++) {
      await refused('PUT into a missing bucket', { method: 'PUT', path: '/no-such-bucket/k', body: Buffer.alloc(1024 * 1024, 1) }, 404, 'NoSuchBucket');
    }
  });

  test('Expect other than 100-continue is ignored, as S3 does (no 417)', T, async () => {
    const res = await send({ method: 'PUT', path: '/bkt/expect', headers: { expect: 'something-else' }, body: 'hello' });
    assert.equal(res.status, 200, res.body.toString());
    const got = await send({ method: 'GET', path: '/bkt/expect' });
    assert.equal(got.body.toString(), 'hello');
    assert.equal((await send({ method: 'DELETE', path: '/bkt/expect' })).status, 204);
  });

  test('Expect: 100-continue: refused on its headers without a 100; accepted after one', T, async () => {
    // A bad signature: the final answer comes without "100 Continue" and without the body sent.
    const headers = signRaw(target, { method: 'PUT', path: '/bkt/cont', badSignature: true, headers: { expect: '100-continue', 'content-length': '5' } });
    const head = `PUT /bkt/cont HTTP/1.1\r\n` + Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n';
    const refusedRes = await exchange(target, Buffer.from(head));
    assert.equal(refusedRes.status, 403);
    assert.equal(s3ErrorOf(refusedRes.body)?.code, 'SignatureDoesNotMatch');
    // A good request: 100 first, then the body, then 200.
    const good = signRaw(target, { method: 'PUT', path: '/bkt/cont', headers: { expect: '100-continue', 'content-length': '5' } });
    const status = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(target.port, target.host);
      let seen = '';
      let sent = false;
      sock.on('data', (d: Buffer) => {
        seen += d.toString('latin1');
        if (!sent && seen.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
          sent = true;
          sock.write('hello');
        }
        const final = /HTTP\/1\.1 (\d{3}) /g;
        const codes = [...seen.matchAll(final)].map((m) => m[1]);
        if (codes.length >= 2 || (codes.length === 1 && codes[0] !== '100')) {
          sock.destroy();
          resolve(codes.join(','));
        }
      });
      sock.on('error', reject);
      sock.write(`PUT /bkt/cont HTTP/1.1\r\n` + Object.entries(good).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n');
    });
    assert.equal(status, '100,200');
    assert.equal((await send({ method: 'DELETE', path: '/bkt/cont' })).status, 204);
  });
});

describe('the log', () => {
  test('a client that hangs up mid-upload is logged at debug, never as an internal error', T, async () => {
    const from = logs.length;
    const headers = signRaw(target, { method: 'PUT', path: '/bkt/hang', headers: { 'content-length': String(8 * 1024 * 1024) } });
    await new Promise<void>((resolve) => {
      const sock = net.connect(target.port, target.host, () => {
        sock.write(`PUT /bkt/hang HTTP/1.1\r\n` + Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n');
        sock.write(Buffer.alloc(1024 * 1024, 1));
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, 200);
      });
    });
    // The server notices, cleans up, logs.
    for (let i = 0; i < 50 && !logs.slice(from).some((l) => l.msg === 'client closed the connection'); i++) await new Promise((r) => setTimeout(r, 50));
    const mine = logs.slice(from);
    assert.ok(mine.some((l) => l.level === 'debug' && l.msg === 'client closed the connection'), JSON.stringify(mine));
    assert.deepEqual(mine.filter((l) => l.level === 'error' || l.level === 'warn'), []);
    const head = await send({ method: 'HEAD', path: '/bkt/hang' });
    assert.equal(head.status, 404);
  });

  test('no request in this file logged an error or a stack', T, async () => {
    const bad = logs.filter((l) => l.level === 'error' || /\n\s+at /.test(JSON.stringify(l.fields ?? {})));
    assert.deepEqual(bad, []);
  });
});

describe('unreadable data', () => {
  let s: TestServer;
  let t: RawTarget;
  before(async () => {
    s = await startTestServer();
    t = { host: '127.0.0.1', port: s.port, accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey, region: s.region };
  });
  after(async () => {
    await s?.destroy();
  });

  test('GET with 3 of 4 disks wiped → 503 ServiceUnavailable XML before any 200 is sent', T, async () => {
    assert.equal((await sendRaw(t, { method: 'PUT', path: '/data' })).status, 200);
    const body = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = i % 251;
    assert.equal((await sendRaw(t, { method: 'PUT', path: '/data/obj', body })).status, 200);
    const ok = await sendRaw(t, { method: 'GET', path: '/data/obj' });
    assert.equal(ok.status, 200);
    assert.ok(ok.body.equals(body));
    for (const d of s.disks.slice(0, 3)) {
      for (const f of await readdir(d)) await rm(path.join(d, f), { recursive: true, force: true });
    }
    // (A short range may still be served: a data shard on the surviving disk needs no decoding.)
    for (const r of [{}, { range: 'bytes=100-' }] as Array<Record<string, string>>) {
      const res = await sendRaw(t, { method: 'GET', path: '/data/obj', headers: r });
      assertS3Error(res, 503, 'ServiceUnavailable', `GET ${JSON.stringify(r)}`);
      assert.equal(res.closedEarly, false);
    }
  });
});

describe('slow headers', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ env: { TESSERA_HEADER_TIMEOUT: '1' } });
  });
  after(async () => {
    await s?.destroy();
  });

  test('headers not complete within limits.header_timeout → 400 RequestTimeout as S3 XML', T, async () => {
    const res = await new Promise<RawResponse>((resolve, reject) => {
      const sock = net.connect(s.port, '127.0.0.1');
      const chunks: Buffer[] = [];
      sock.on('data', (d: Buffer) => chunks.push(d));
      sock.on('error', reject);
      sock.on('close', () => {
        const all = Buffer.concat(chunks);
        const end = all.indexOf('\r\n\r\n');
        const head = all.subarray(0, end).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const l of head.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
        resolve({ status: Number(head[0]?.split(' ')[1]), headers, body: all.subarray(end + 4), closedEarly: false });
      });
      // Half a request, then silence.
      sock.write('GET /bkt/k HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    });
    assertS3Error(res, 400, 'RequestTimeout', 'slow headers');
  });
});
