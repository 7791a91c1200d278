// Bucket CORS against a real server: PutBucketCors / GetBucketCors / DeleteBucketCors through
// the AWS SDK v3, preflights as raw unsigned OPTIONS requests (path and virtual-host style),
// CORS headers on actual requests and on their error replies, and headless Chromium (Debian's
// `chromium`) uploading with fetch from a page on another localhost port.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketCorsCommand,
  GetBucketCorsCommand,
  HeadObjectCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
  S3Client,
  type CORSRule,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { TestServer } from '../helpers/server.js';
import { run, useSuiteServer } from '../helpers/clients.js';
import { assertXmlError, expectS3Error, expectStatusError, rawRequest, signedRawRequest, uniqueBucket, xmlField, type RawResponse } from './sdk-helpers.js';

let server: TestServer;
let s3: S3Client;

// Virtual-host style needs a domain: bucket.localhost.
useSuiteServer((srv, client) => {
  server = srv;
  s3 = client;
}, { env: { TESSERA_DOMAIN: 'localhost' } });

const T = { timeout: 60_000 };
const VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method';

async function newBucket(tag: string, rules?: CORSRule[]): Promise<string> {
  const b = uniqueBucket(tag);
  await s3.send(new CreateBucketCommand({ Bucket: b }));
  if (rules) await s3.send(new PutBucketCorsCommand({ Bucket: b, CORSConfiguration: { CORSRules: rules } }));
  return b;
}

function md5b64(body: string): string {
  return createHash('md5').update(body).digest('base64');
}

/** A PutBucketCors with a hand-written body, signed, with Content-MD5 unless told otherwise. */
function putCorsRaw(b: string, body: string, headers: Record<string, string> = { 'Content-MD5': md5b64(body) }): Promise<RawResponse> {
  return signedRawRequest(server, { method: 'PUT', host: `127.0.0.1:${server.port}`, path: `/${b}?cors`, headers, body });
}

/** An unsigned OPTIONS request, as a browser sends it. */
function options(p: string, headers: Record<string, string>, host = `127.0.0.1:${server.port}`): Promise<RawResponse> {
  return rawRequest(server, { method: 'OPTIONS', path: p, headers: { Host: host, ...headers } });
}

function assertNoCorsHeaders(r: RawResponse): void {
  for (const h of ['access-control-allow-origin', 'access-control-allow-methods', 'access-control-allow-headers', 'access-control-expose-headers', 'access-control-max-age', 'access-control-allow-credentials', 'vary']) {
    assert.equal(r.headers[h], undefined, `${h} must be absent`);
  }
}

function assertCorsRefusal(r: RawResponse, message: RegExp, method: string, resourceType: 'BUCKET' | 'OBJECT'): void {
  const body = r.body.toString();
  assertXmlError({ status: r.status, headers: r.headers, body }, 'AccessForbidden', 403);
  assert.match(xmlField(body, 'Message') ?? '', message);
  assert.equal(xmlField(body, 'Method'), method);
  assert.equal(xmlField(body, 'ResourceType'), resourceType);
  assertNoCorsHeaders(r);
}

const NOT_ALLOWED = /^CORSResponse: This CORS request is not allowed\./;

// Rules the preflight and actual-request tests share: an exact origin with headers, a wildcard
// subdomain without any, and any origin for HEAD only.
const RULES: CORSRule[] = [
  {
    ID: 'exact',
    AllowedOrigins: ['http://exact.example'],
    AllowedMethods: ['GET', 'PUT'],
    AllowedHeaders: ['Content-Type', 'x-amz-*'],
    ExposeHeaders: ['ETag', 'x-amz-request-id'],
    MaxAgeSeconds: 600,
  },
  { AllowedOrigins: ['http://*.wild.example'], AllowedMethods: ['GET'] },
  { AllowedOrigins: ['*'], AllowedMethods: ['HEAD'] },
];

describe('PutBucketCors, GetBucketCors, DeleteBucketCors', () => {
  test('a configuration round-trips: every member as sent, absent members stay absent', T, async () => {
    const b = await newBucket('cors-rt', RULES);
    const got = await s3.send(new GetBucketCorsCommand({ Bucket: b }));
    assert.deepEqual(got.CORSRules, [
      RULES[0],
      { AllowedOrigins: ['http://*.wild.example'], AllowedMethods: ['GET'] },
      { AllowedOrigins: ['*'], AllowedMethods: ['HEAD'] },
    ]);
  });

  test('without a configuration GetBucketCors is 404 NoSuchCORSConfiguration; delete is 204 either way', T, async () => {
    const b = await newBucket('cors-none');
    const err = await expectS3Error(s3.send(new GetBucketCorsCommand({ Bucket: b })), 'NoSuchCORSConfiguration', 404);
    assert.equal(err.message, 'The CORS configuration does not exist');
    const d1 = await s3.send(new DeleteBucketCorsCommand({ Bucket: b }));
    assert.equal(d1.$metadata.httpStatusCode, 204);
    await s3.send(new PutBucketCorsCommand({ Bucket: b, CORSConfiguration: { CORSRules: [RULES[1]] } }));
    const d2 = await s3.send(new DeleteBucketCorsCommand({ Bucket: b }));
    assert.equal(d2.$metadata.httpStatusCode, 204);
    await expectS3Error(s3.send(new GetBucketCorsCommand({ Bucket: b })), 'NoSuchCORSConfiguration', 404);
  });

  test('a new configuration replaces the old one', T, async () => {
    const b = await newBucket('cors-replace', RULES);
    await s3.send(new PutBucketCorsCommand({ Bucket: b, CORSConfiguration: { CORSRules: [RULES[2]] } }));
    const got = await s3.send(new GetBucketCorsCommand({ Bucket: b }));
    assert.deepEqual(got.CORSRules, [RULES[2]]);
  });

  test('a missing bucket is NoSuchBucket for all three', T, async () => {
    const b = uniqueBucket('cors-gone');
    await expectS3Error(s3.send(new PutBucketCorsCommand({ Bucket: b, CORSConfiguration: { CORSRules: RULES } })), 'NoSuchBucket', 404);
    await expectS3Error(s3.send(new GetBucketCorsCommand({ Bucket: b })), 'NoSuchBucket', 404);
    await expectS3Error(s3.send(new DeleteBucketCorsCommand({ Bucket: b })), 'NoSuchBucket', 404);
  });

  const invalid: Array<[string, CORSRule[], string, number, RegExp]> = [
    ['an unsupported method', [{ AllowedOrigins: ['*'], AllowedMethods: ['GET', 'PATCH'] }], 'InvalidRequest', 400, /^Found unsupported HTTP method in CORS config\. Unsupported method is PATCH$/],
    ['a lower-case method', [{ AllowedOrigins: ['*'], AllowedMethods: ['get'] }], 'InvalidRequest', 400, /Unsupported method is get$/],
    ['two wildcards in an origin', [{ AllowedOrigins: ['http://*.*.example'], AllowedMethods: ['GET'] }], 'InvalidRequest', 400, /^AllowedOrigin "http:\/\/\*\.\*\.example" can not have more than one wildcard\.$/],
    ['two wildcards in a header', [{ AllowedOrigins: ['*'], AllowedMethods: ['GET'], AllowedHeaders: ['x-*-*'] }], 'InvalidRequest', 400, /^AllowedHeader "x-\*-\*" can not have more than one wildcard\.$/],
    ['a wildcard in an ExposeHeader', [{ AllowedOrigins: ['*'], AllowedMethods: ['GET'], ExposeHeaders: ['x-amz-meta-*'] }], 'InvalidRequest', 400, /^ExposeHeader "x-amz-meta-\*" contains wildcard\./],
    ['no rules', [], 'MalformedXML', 400, /not well-formed/],
    ['a rule without origins', [{ AllowedOrigins: [], AllowedMethods: ['GET'] }], 'MalformedXML', 400, /not well-formed/],
    ['a rule without methods', [{ AllowedOrigins: ['*'], AllowedMethods: [] }], 'MalformedXML', 400, /not well-formed/],
    ['101 rules', Array.from({ length: 101 }, () => RULES[2]), 'MalformedXML', 400, /not well-formed/],
  ];
  for (const [what, rules, code, status, message] of invalid) {
    test(`${what} → ${code}, and the configuration is left as it was`, T, async () => {
      const b = await newBucket('cors-bad', [RULES[1]]);
      const err = await expectS3Error(s3.send(new PutBucketCorsCommand({ Bucket: b, CORSConfiguration: { CORSRules: rules } })), code, status);
      assert.match(err.message ?? '', message);
      const got = await s3.send(new GetBucketCorsCommand({ Bucket: b }));
      assert.deepEqual(got.CORSRules, [RULES[1]]);
    });
  }

  test('100 rules are accepted', T, async () => {
    const b = await newBucket('cors-100', Array.from({ length: 100 }, (_, i) => ({ ID: `r${i}`, AllowedOrigins: [`http://o${i}.example`], AllowedMethods: ['GET'] })));
    const got = await s3.send(new GetBucketCorsCommand({ Bucket: b }));
    assert.equal(got.CORSRules?.length, 100);
    assert.equal(got.CORSRules?.[99]?.ID, 'r99');
  });

  const rule = '<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>';
  const rawCases: Array<[string, string, Record<string, string> | undefined, string, number]> = [
    ['not XML', 'not xml at all', undefined, 'MalformedXML', 400],
    ['another root element', `<Tagging><CORSRule>${rule}</CORSRule></Tagging>`, undefined, 'MalformedXML', 400],
    ['an empty body', '', undefined, 'MalformedXML', 400],
    ['MaxAgeSeconds that is not an integer', `<CORSConfiguration><CORSRule>${rule}<MaxAgeSeconds>ten</MaxAgeSeconds></CORSRule></CORSConfiguration>`, undefined, 'MalformedXML', 400],
    ['two MaxAgeSeconds', `<CORSConfiguration><CORSRule>${rule}<MaxAgeSeconds>1</MaxAgeSeconds><MaxAgeSeconds>2</MaxAgeSeconds></CORSRule></CORSConfiguration>`, undefined, 'MalformedXML', 400],
    ['an ID of 256 characters', `<CORSConfiguration><CORSRule><ID>${'i'.repeat(256)}</ID>${rule}</CORSRule></CORSConfiguration>`, undefined, 'InvalidArgument', 400],
    ['no Content-MD5 and no checksum', `<CORSConfiguration><CORSRule>${rule}</CORSRule></CORSConfiguration>`, {}, 'InvalidRequest', 400],
    ['a wrong Content-MD5', `<CORSConfiguration><CORSRule>${rule}</CORSRule></CORSConfiguration>`, { 'Content-MD5': md5b64('other') }, 'BadDigest', 400],
    ['a malformed Content-MD5', `<CORSConfiguration><CORSRule>${rule}</CORSRule></CORSConfiguration>`, { 'Content-MD5': 'nope' }, 'InvalidDigest', 400],
    ['a body over 64 KiB', `<CORSConfiguration><CORSRule>${rule}<ID>${'i'.repeat(70_000)}</ID></CORSRule></CORSConfiguration>`, undefined, 'MaxMessageLengthExceeded', 400],
  ];
  for (const [what, body, headers, code, status] of rawCases) {
    test(`raw body: ${what} → ${code}`, T, async () => {
      const b = await newBucket('cors-raw');
      const r = await putCorsRaw(b, body, headers);
      assertXmlError({ status: r.status, headers: r.headers, body: r.body.toString() }, code, status);
      await expectS3Error(s3.send(new GetBucketCorsCommand({ Bucket: b })), 'NoSuchCORSConfiguration', 404);
    });
  }

  test('raw body with Content-MD5: namespace optional, values trimmed, the answer is 200', T, async () => {
    const b = await newBucket('cors-raw-ok');
    const body = '<CORSConfiguration><CORSRule>\n  <AllowedOrigin> http://a.example </AllowedOrigin>\n  <AllowedMethod>PUT</AllowedMethod>\n  <MaxAgeSeconds>0</MaxAgeSeconds>\n</CORSRule></CORSConfiguration>';
    const r = await putCorsRaw(b, body);
    assert.equal(r.status, 200, r.body.toString());
    const got = await s3.send(new GetBucketCorsCommand({ Bucket: b }));
    assert.deepEqual(got.CORSRules, [{ AllowedOrigins: ['http://a.example'], AllowedMethods: ['PUT'], MaxAgeSeconds: 0 }]);
  });
});

describe('preflight (OPTIONS, unsigned)', () => {
  let bucket: string | undefined;
  // One bucket with RULES for the whole suite, made by the first test that needs it.
  const setup = async () => (bucket ??= await newBucket('preflight', RULES));

  test('exact origin, allowed method and headers: 200 with every CORS header', T, async () => {
    const b = await setup();
    const r = await options(`/${b}/some/key?X-Amz-Expires=60`, { Origin: 'http://exact.example', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'Content-Type,X-Amz-Meta-Color' });
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.body.length, 0);
    assert.equal(r.headers['access-control-allow-origin'], 'http://exact.example');
    assert.equal(r.headers['access-control-allow-methods'], 'GET, PUT');
    assert.equal(r.headers['access-control-allow-headers'], 'content-type, x-amz-meta-color');
    assert.equal(r.headers['access-control-expose-headers'], 'ETag, x-amz-request-id');
    assert.equal(r.headers['access-control-max-age'], '600');
    assert.equal(r.headers['access-control-allow-credentials'], 'true');
    assert.equal(r.headers.vary, VARY);
    assert.ok(r.headers['x-amz-request-id']);
  });

  test('on the bucket itself and in virtual-host style too', T, async () => {
    const b = await setup();
    const h = { Origin: 'http://exact.example', 'Access-Control-Request-Method': 'GET' };
    for (const r of [await options(`/${b}`, h), await options('/', h, `${b}.localhost:${server.port}`), await options('/k', h, `${b}.localhost:${server.port}`)]) {
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(r.headers['access-control-allow-origin'], 'http://exact.example');
      assert.equal(r.headers['access-control-allow-headers'], undefined, 'no headers were requested');
    }
  });

  test('wildcard subdomain: any run of characters before the suffix, the origin echoed', T, async () => {
    const b = await setup();
    for (const origin of ['http://a.wild.example', 'http://a.b.wild.example', 'http://.wild.example']) {
      const r = await options(`/${b}/k`, { Origin: origin, 'Access-Control-Request-Method': 'GET' });
      assert.equal(r.status, 200, `${origin}: ${r.body.toString()}`);
      assert.equal(r.headers['access-control-allow-origin'], origin);
      assert.equal(r.headers['access-control-allow-methods'], 'GET');
      assert.equal(r.headers['access-control-allow-credentials'], 'true');
      assert.equal(r.headers['access-control-max-age'], undefined);
      assert.equal(r.headers['access-control-expose-headers'], undefined);
    }
    for (const origin of ['http://wild.example', 'https://a.wild.example', 'http://a.wild.example.evil', 'http://a.wild.example/']) {
      assertCorsRefusal(await options(`/${b}/k`, { Origin: origin, 'Access-Control-Request-Method': 'GET' }), NOT_ALLOWED, 'GET', 'OBJECT');
    }
  });

  test('the `*` origin: answered `*`, without credentials', T, async () => {
    const b = await setup();
    const r = await options(`/${b}/k`, { Origin: 'http://anyone.example:8080', 'Access-Control-Request-Method': 'HEAD' });
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.equal(r.headers['access-control-allow-methods'], 'HEAD');
    assert.equal(r.headers['access-control-allow-credentials'], undefined);
    assert.equal(r.headers.vary, VARY);
  });

  test('refused: wrong origin, method or header → 403 AccessForbidden without CORS headers', T, async () => {
    const b = await setup();
    const cases: Array<[Record<string, string>, string]> = [
      [{ Origin: 'http://other.example', 'Access-Control-Request-Method': 'GET' }, 'GET'],
      [{ Origin: 'https://exact.example', 'Access-Control-Request-Method': 'GET' }, 'GET'],
      [{ Origin: 'http://exact.example', 'Access-Control-Request-Method': 'DELETE' }, 'DELETE'],
      [{ Origin: 'http://exact.example', 'Access-Control-Request-Method': 'PATCH' }, 'PATCH'],
      [{ Origin: 'http://exact.example', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'content-type, x-custom' }, 'PUT'],
      // The wildcard-subdomain rule allows no header at all.
      [{ Origin: 'http://a.wild.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'content-type' }, 'GET'],
      // Without Access-Control-Request-Method it is evaluated as a preflight for OPTIONS.
      [{ Origin: 'http://exact.example' }, 'OPTIONS'],
    ];
    for (const [headers, method] of cases) {
      assertCorsRefusal(await options(`/${b}/k`, headers), NOT_ALLOWED, method, 'OBJECT');
    }
    assertCorsRefusal(await options(`/${b}`, { Origin: 'http://other.example', 'Access-Control-Request-Method': 'GET' }), NOT_ALLOWED, 'GET', 'BUCKET');
  });

  test('no CORS configuration, no bucket, no bucket named → 403 AccessForbidden', T, async () => {
    const plain = await newBucket('preflight-none');
    const h = { Origin: 'http://exact.example', 'Access-Control-Request-Method': 'GET' };
    assertCorsRefusal(await options(`/${plain}/k`, h), /^CORSResponse: CORS is not enabled for this bucket\.$/, 'GET', 'BUCKET');
    assertCorsRefusal(await options(`/${uniqueBucket('preflight-gone')}/k`, h), /^CORSResponse: Bucket not found$/, 'GET', 'BUCKET');
    assertCorsRefusal(await options('/Not_A_Bucket/k', h), /^CORSResponse: Bucket not found$/, 'GET', 'BUCKET');
    assertCorsRefusal(await options('/', h), /^CORSResponse: Bucket not found$/, 'GET', 'BUCKET');
  });

  test('missing Origin, or an Access-Control-Request-Method S3 does not know → 400 BadRequest', T, async () => {
    const b = await setup();
    const noOrigin = await options(`/${b}/k`, { 'Access-Control-Request-Method': 'GET' });
    assertXmlError({ status: noOrigin.status, headers: noOrigin.headers, body: noOrigin.body.toString() }, 'BadRequest', 400);
    assert.equal(xmlField(noOrigin.body.toString(), 'Message'), 'Insufficient information. Origin request header needed.');
    for (const m of ['get', 'TRACE', '']) {
      const r = await options(`/${b}/k`, { Origin: 'http://exact.example', 'Access-Control-Request-Method': m });
      assertXmlError({ status: r.status, headers: r.headers, body: r.body.toString() }, 'BadRequest', 400);
      assert.equal(xmlField(r.body.toString(), 'Message'), `Invalid Access-Control-Request-Method: ${m}`);
      assertNoCorsHeaders(r);
    }
  });

  test('odd input never crashes the server: long and non-ASCII values, a signature that is wrong', T, async () => {
    const b = await setup();
    const odd: Array<Record<string, string>> = [
      { Origin: 'http://' + 'x'.repeat(8000) + '.wild.example', 'Access-Control-Request-Method': 'GET' },
      { Origin: 'http://caf\u00e9.wild.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': ',,, ,' },
      { Origin: 'http://exact.example', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'X-AMZ-\u00c9T\u00c9' },
      { Origin: 'http://exact.example', 'Access-Control-Request-Method': 'GET', Authorization: 'AWS4-HMAC-SHA256 garbage' },
    ];
    for (const h of odd) {
      const r = await rawRequest(server, { method: 'OPTIONS', path: `/${b}/k`, headers: { Host: `127.0.0.1:${server.port}`, ...h } });
      assert.ok(r.status === 200 || r.status === 403, `status ${r.status}: ${r.body.toString()}`);
    }
    const r = await options(`/${b}/k`, odd[2]!);
    assert.equal(r.headers['access-control-allow-headers'], 'x-amz-\u00e9t\u00e9');
  });
});

describe('actual requests with an Origin', () => {
  const host = () => `127.0.0.1:${server.port}`;

  test('a signed GET from an allowed origin carries the rule\'s headers; without Origin, none', T, async () => {
    const b = await newBucket('actual', RULES);
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'data' }));
    const r = await signedRawRequest(server, { method: 'GET', host: host(), path: `/${b}/k`, headers: { Origin: 'http://exact.example' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'data');
    assert.equal(r.headers['access-control-allow-origin'], 'http://exact.example');
    assert.equal(r.headers['access-control-allow-methods'], 'GET, PUT');
    assert.equal(r.headers['access-control-expose-headers'], 'ETag, x-amz-request-id');
    assert.equal(r.headers['access-control-max-age'], '600');
    assert.equal(r.headers['access-control-allow-credentials'], 'true');
    assert.equal(r.headers.vary, VARY);
    assertNoCorsHeaders(await signedRawRequest(server, { method: 'GET', host: host(), path: `/${b}/k` }));
  });

  test('no rule for the origin or the method: served as usual, without CORS headers', T, async () => {
    const b = await newBucket('actual-nomatch', RULES);
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'data' }));
    const wrongOrigin = await signedRawRequest(server, { method: 'GET', host: host(), path: `/${b}/k`, headers: { Origin: 'http://other.example' } });
    assert.equal(wrongOrigin.status, 200);
    assertNoCorsHeaders(wrongOrigin);
    const wrongMethod = await signedRawRequest(server, { method: 'DELETE', host: host(), path: `/${b}/k`, headers: { Origin: 'http://a.wild.example' } });
    assert.equal(wrongMethod.status, 204);
    assertNoCorsHeaders(wrongMethod);
    const noConfig = await newBucket('actual-noconfig');
    const r = await signedRawRequest(server, { method: 'GET', host: host(), path: `/${noConfig}?list-type=2`, headers: { Origin: 'http://exact.example' } });
    assert.equal(r.status, 200);
    assertNoCorsHeaders(r);
  });

  test('error replies keep the CORS headers: NoSuchKey, a bad signature, an unsigned request', T, async () => {
    const b = await newBucket('actual-err', RULES);
    const noKey = await signedRawRequest(server, { method: 'GET', host: host(), path: `/${b}/missing`, headers: { Origin: 'http://exact.example' } });
    assertXmlError({ status: noKey.status, headers: noKey.headers, body: noKey.body.toString() }, 'NoSuchKey', 404);
    assert.equal(noKey.headers['access-control-allow-origin'], 'http://exact.example');
    assert.equal(noKey.headers['access-control-expose-headers'], 'ETag, x-amz-request-id');
    assert.equal(noKey.headers.vary, VARY);

    const unsigned = await rawRequest(server, { method: 'GET', path: `/${b}/missing`, headers: { Host: host(), Origin: 'http://a.wild.example' } });
    assert.equal(unsigned.status, 403, unsigned.body.toString());
    assert.equal(unsigned.headers['access-control-allow-origin'], 'http://a.wild.example');

    const badSig = await rawRequest(server, {
      method: 'GET',
      path: `/${b}/missing`,
      headers: {
        Host: host(),
        Origin: 'http://exact.example',
        'x-amz-date': '20990101T000000Z',
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        Authorization: `AWS4-HMAC-SHA256 Credential=${server.accessKeyId}/20990101/${server.region}/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
      },
    });
    assert.equal(badSig.status, 403, badSig.body.toString());
    assert.equal(badSig.headers['access-control-allow-origin'], 'http://exact.example');

    // A HEAD error has no body but keeps the headers too.
    const head = await rawRequest(server, { method: 'HEAD', path: `/${b}/missing`, headers: { Host: host(), Origin: 'http://anywhere.example' } });
    assert.equal(head.status, 403);
    assert.equal(head.headers['access-control-allow-origin'], '*');
  });
});

// ---------------------------------------------------------------------------------------------
// Headless Chromium: a page on another localhost port uploads with fetch and reads the ETag.

/** Serves one page, on 127.0.0.1 port 0, whose script PUTs 'hello' to the URL and shows the outcome. */
async function servePage(putUrl: string): Promise<{ origin: string; url: string; close: () => Promise<void> }> {
  // A PUT is not a CORS-safelisted method, so the browser sends a preflight first.
  const script = `
    (async () => {
      const out = document.getElementById('out');
      try {
        const res = await fetch(${JSON.stringify(putUrl).replace(/</g, '\\u003c')}, { method: 'PUT', headers: { 'Content-Type': 'text/plain' }, body: 'hello' });
        out.textContent = 'STATUS=' + res.status + ' ETAG=' + res.headers.get('ETag');
      } catch (e) {
        out.textContent = 'FETCH-FAILED ' + e.name;
      }
    })();`;
  const html = `<!doctype html><html><body><pre id="out">PENDING</pre><script>${script}</script></body></html>`;
  const page = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
  return { origin, url: `${origin}/`, close: () => new Promise((resolve) => page.close(() => resolve())) };
}

/** Runs headless Chromium on the page and returns the DOM after its script ran. A missing chromium fails the test. */
async function chromiumDom(url: string): Promise<string> {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'tessera-chromium-'));
  try {
    const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', `--user-data-dir=${profile}`, '--virtual-time-budget=10000', '--dump-dom', url];
    const r = await run('chromium', args, { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `chromium exited with ${r.code}: ${r.stderr.slice(-2000)}`);
    return r.stdout;
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

function outText(dom: string): string {
  return /<pre id="out">([^<]*)<\/pre>/.exec(dom)?.[1] ?? `(no output element in ${dom.slice(0, 500)})`;
}

describe('headless Chromium', () => {
  const putUrl = (b: string, key: string) => getSignedUrl(s3, new PutObjectCommand({ Bucket: b, Key: key }), { expiresIn: 300 });

  test('an allowed origin uploads through the preflight and reads the ETag', { timeout: 120_000 }, async () => {
    const b = await newBucket('chromium-ok');
    const page = await servePage(await putUrl(b, 'from-browser.txt'));
    try {
      await s3.send(new PutBucketCorsCommand({
        Bucket: b,
        CORSConfiguration: { CORSRules: [{ AllowedOrigins: [page.origin], AllowedMethods: ['PUT'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'] }] },
      }));
      const out = outText(await chromiumDom(page.url));
      const etag = `"${createHash('md5').update('hello').digest('hex')}"`;
      assert.equal(out, `STATUS=200 ETAG=${etag}`);
      const head = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'from-browser.txt' }));
      assert.equal(head.ETag, etag);
      assert.equal(head.ContentLength, 5);
    } finally {
      await page.close();
    }
  });

  test('an origin the configuration does not allow: the preflight fails and nothing is stored', { timeout: 120_000 }, async () => {
    const b = await newBucket('chromium-refused');
    const page = await servePage(await putUrl(b, 'from-browser.txt'));
    try {
      await s3.send(new PutBucketCorsCommand({
        Bucket: b,
        CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['http://127.0.0.1:1'], AllowedMethods: ['PUT'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'] }] },
      }));
      const out = outText(await chromiumDom(page.url));
      assert.equal(out, 'FETCH-FAILED TypeError');
      await expectStatusError(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'from-browser.txt' })), 404);
    } finally {
      await page.close();
    }
  });
});
