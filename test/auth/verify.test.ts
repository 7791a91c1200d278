import assert from 'node:assert/strict';
import { test } from 'node:test';
import aws4 from 'aws4';
import {
  EMPTY_SHA256,
  canonicalRequest,
  credentialScope,
  sha256Hex,
  signatureHex,
  signingKey,
  stringToSign,
} from '../../src/auth/sigv4.js';
import { verifyRequest, type AuthRequest, type AuthResult, type VerifyOptions } from '../../src/auth/verify.js';
import {
  EXAMPLE_ACCESS_KEY,
  EXAMPLE_SECRET,
  EXAMPLE_TIME,
  exampleCreds,
  s3ErrorFrom,
} from './helpers.js';

const opts: VerifyOptions = { region: 'us-east-1', now: () => EXAMPLE_TIME };

function authHeader(signedHeaders: string, signature: string): string {
  return `AWS4-HMAC-SHA256 Credential=${EXAMPLE_ACCESS_KEY}/20130524/us-east-1/s3/aws4_request,` +
    `SignedHeaders=${signedHeaders},Signature=${signature}`;
}

// ---------------------------------------------------------------------------------------------
// The examples of the S3 API reference, "Signature Calculations for the Authorization Header"
// (single chunk), "Authenticating Requests: Using Query Parameters", and the chunked upload
// pages. All use the example key above, 20130524T000000Z, bucket examplebucket, us-east-1.

const AWS_EXAMPLES: Record<string, () => AuthRequest> = {
  'GET Object (range)': () => ({
    method: 'GET',
    rawPath: '/test.txt',
    rawQuery: '',
    headers: {
      host: 'examplebucket.s3.amazonaws.com',
      range: 'bytes=0-9',
      'x-amz-content-sha256': EMPTY_SHA256,
      'x-amz-date': '20130524T000000Z',
      authorization: authHeader('host;range;x-amz-content-sha256;x-amz-date',
        'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'),
    },
  }),
  'PUT Object (test$file.text)': () => ({
    method: 'PUT',
    rawPath: '/test$file.text',
    rawQuery: '',
    headers: {
      host: 'examplebucket.s3.amazonaws.com',
      date: 'Fri, 24 May 2013 00:00:00 GMT',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      // sha256("Welcome to Amazon S3.")
      'x-amz-content-sha256': '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
      authorization: authHeader('date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class',
        '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd'),
    },
  }),
  'GET Bucket lifecycle': () => ({
    method: 'GET',
    rawPath: '/',
    rawQuery: 'lifecycle',
    headers: {
      host: 'examplebucket.s3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-content-sha256': EMPTY_SHA256,
      authorization: authHeader('host;x-amz-content-sha256;x-amz-date',
        'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543'),
    },
  }),
  'GET Bucket (list objects)': () => ({
    method: 'GET',
    rawPath: '/',
    rawQuery: 'max-keys=2&prefix=J',
    headers: {
      host: 'examplebucket.s3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-content-sha256': EMPTY_SHA256,
      authorization: authHeader('host;x-amz-content-sha256;x-amz-date',
        '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7'),
    },
  }),
  'presigned GET Object': () => ({
    method: 'GET',
    rawPath: '/test.txt',
    rawQuery: 'X-Amz-Algorithm=AWS4-HMAC-SHA256' +
      '&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
      '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
      '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
    headers: { host: 'examplebucket.s3.amazonaws.com' },
  }),
  'chunked PUT Object (seed signature)': () => ({
    method: 'PUT',
    rawPath: '/examplebucket/chunkObject.txt',
    rawQuery: '',
    headers: {
      host: 's3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '66560',
      'content-length': '66824',
      authorization: authHeader(
        'content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class',
        '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9'),
    },
  }),
  'chunked PUT Object with trailer (seed signature)': () => ({
    method: 'PUT',
    rawPath: '/examplebucket/chunkObject.txt',
    rawQuery: '',
    headers: {
      host: 's3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '66560',
      'x-amz-trailer': 'x-amz-checksum-crc32c',
      authorization: authHeader(
        'content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer',
        '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e'),
    },
  }),
};

for (const [name, make] of Object.entries(AWS_EXAMPLES)) {
  test(`AWS example "${name}" is accepted`, () => {
    const res = verifyRequest(make(), exampleCreds, opts);
    assert.equal(res.accessKeyId, EXAMPLE_ACCESS_KEY);
  });

  test(`AWS example "${name}" is refused when one byte changes`, () => {
    const tamperings: Array<[string, (r: AuthRequest) => void]> = [
      ['method', (r) => { r.method = r.method === 'GET' ? 'HEAD' : 'POST'; }],
      ['path', (r) => { r.rawPath = r.rawPath.length > 1 ? `${r.rawPath.slice(0, -1)}X` : '/X'; }],
      ['query', (r) => { r.rawQuery = r.rawQuery === '' ? 'x' : r.rawQuery.replace(/.$/, (c) => (c === '4' ? '5' : '4')); }],
      ['host', (r) => { r.headers.host = `${String(r.headers.host)}.`; }],
    ];
    for (const [what, tamper] of tamperings) {
      const req = make();
      tamper(req);
      const err = s3ErrorFrom(() => verifyRequest(req, exampleCreds, opts));
      assert.equal(err.code, 'SignatureDoesNotMatch', `${name}: changed ${what}`);
      assert.equal(err.status, 403);
    }
  });
}

test('AWS examples report the payload mode the body verifier needs', () => {
  const get = verifyRequest(AWS_EXAMPLES['GET Object (range)'](), exampleCreds, opts);
  assert.deepEqual(get.payload, { kind: 'sha256', hex: EMPTY_SHA256 });
  assert.equal(get.presigned, false);

  const presigned = verifyRequest(AWS_EXAMPLES['presigned GET Object'](), exampleCreds, opts);
  assert.deepEqual(presigned.payload, { kind: 'unsigned' });
  assert.equal(presigned.presigned, true);

  const chunked = verifyRequest(AWS_EXAMPLES['chunked PUT Object (seed signature)'](), exampleCreds, opts);
  assert.equal(chunked.decodedContentLength, 66560);
  assert.equal(chunked.payload.kind, 'streaming-signed');
  if (chunked.payload.kind === 'streaming-signed') {
    assert.equal(chunked.payload.seedSignature, '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9');
    assert.equal(chunked.payload.scope, '20130524/us-east-1/s3/aws4_request');
    assert.equal(chunked.payload.amzDate, '20130524T000000Z');
    assert.equal(chunked.payload.trailer, false);
    assert.deepEqual(chunked.payload.signingKey, signingKey(EXAMPLE_SECRET, '20130524', 'us-east-1', 's3'));
  }
  const trailer = verifyRequest(AWS_EXAMPLES['chunked PUT Object with trailer (seed signature)'](), exampleCreds, opts);
  assert.equal(trailer.payload.kind === 'streaming-signed' && trailer.payload.trailer, true);
});

test('the PUT example verifies whether or not the client percent-encoded "$"', () => {
  const req = AWS_EXAMPLES['PUT Object (test$file.text)']();
  req.rawPath = '/test%24file.text';
  verifyRequest(req, exampleCreds, opts);
});

test('query parameter order on the wire does not matter', () => {
  const req = AWS_EXAMPLES['GET Bucket (list objects)']();
  req.rawQuery = 'prefix=J&max-keys=2';
  verifyRequest(req, exampleCreds, opts);
});

test('SignatureDoesNotMatch carries what S3 shows for debugging', () => {
  const req = AWS_EXAMPLES['GET Object (range)']();
  req.headers.authorization = String(req.headers.authorization).replace(/1$/, '2');
  const err = s3ErrorFrom(() => verifyRequest(req, exampleCreds, opts));
  assert.equal(err.code, 'SignatureDoesNotMatch');
  assert.equal(err.fields.AWSAccessKeyId, EXAMPLE_ACCESS_KEY);
  assert.equal(err.fields.SignatureProvided, 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb42');
  assert.equal(
    err.fields.StringToSign,
    'AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n' +
      '7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972',
  );
  assert.match(err.fields.CanonicalRequest, /^GET\n\/test\.txt\n\nhost:examplebucket\.s3\.amazonaws\.com\nrange:bytes=0-9\n/);
  assert.ok(err.fields.StringToSignBytes.startsWith('41 57 53 34 2d 48 4d 41 43'), 'hex bytes, space separated');
  assert.ok(err.fields.CanonicalRequestBytes.startsWith('47 45 54 0a'));
});

// ---------------------------------------------------------------------------------------------
// Error codes, as S3 sends them

test('no authentication at all → an anonymous request with an unsigned body (policies decide later)', () => {
  const r = verifyRequest({ method: 'GET', rawPath: '/b/k', rawQuery: '', headers: { host: 'h' } }, exampleCreds, opts);
  assert.equal(r.anonymous, true);
  assert.equal(r.accessKeyId, '');
  assert.deepEqual(r.payload, { kind: 'unsigned' });
});

test('Signature Version 2 (header or query) → InvalidRequest asking for AWS4-HMAC-SHA256', () => {
  const message = 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.';
  const header = s3ErrorFrom(() => verifyRequest({
    method: 'GET', rawPath: '/b/k', rawQuery: '',
    headers: { host: 'h', authorization: 'AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=' },
  }, exampleCreds, opts));
  assert.equal(header.code, 'InvalidRequest');
  assert.equal(header.message, message);
  const query = s3ErrorFrom(() => verifyRequest({
    method: 'GET', rawPath: '/b/k',
    rawQuery: 'AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1141889120&Signature=vjbyPxybdZaNmGa%2ByT272YEAiv4%3D',
    headers: { host: 'h' },
  }, exampleCreds, opts));
  assert.equal(query.code, 'InvalidRequest');
  assert.equal(query.message, message);
});

test('an unknown Authorization scheme → InvalidArgument "Unsupported Authorization Type"', () => {
  const err = s3ErrorFrom(() => verifyRequest({
    method: 'GET', rawPath: '/', rawQuery: '', headers: { host: 'h', authorization: 'Bearer abc' },
  }, exampleCreds, opts));
  assert.equal(err.code, 'InvalidArgument');
  assert.equal(err.message, 'Unsupported Authorization Type');
  assert.equal(err.fields.ArgumentName, 'Authorization');
});

test('both an Authorization header and a presigned query → InvalidArgument', () => {
  const req = AWS_EXAMPLES['presigned GET Object']();
  req.headers.authorization = String(AWS_EXAMPLES['GET Object (range)']().headers.authorization);
  assert.equal(s3ErrorFrom(() => verifyRequest(req, exampleCreds, opts)).code, 'InvalidArgument');
});

test('malformed Authorization headers → AuthorizationHeaderMalformed', () => {
  const base = AWS_EXAMPLES['GET Object (range)']();
  const variants = [
    'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host',
    'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1,SignedHeaders=host,Signature=abc',
    'AWS4-HMAC-SHA256 Credential=/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=abc',
    'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,garbage',
    'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;;range,Signature=abc',
    'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/ec2/aws4_request,SignedHeaders=host,Signature=abc',
    'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_reques,SignedHeaders=host,Signature=abc',
    'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130525/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=abc',
  ];
  for (const authorization of variants) {
    const err = s3ErrorFrom(() => verifyRequest({ ...base, headers: { ...base.headers, authorization } }, exampleCreds, opts));
    assert.equal(err.code, 'AuthorizationHeaderMalformed', authorization);
    assert.equal(err.status, 400);
    assert.match(err.message, /^The authorization header is malformed; /);
  }
});

// aws4 signs with the current time unless told otherwise; pin it to the example time.
function aws4Sign(
  req: { method: string; path: string; headers?: Record<string, string>; body?: string; region?: string; signQuery?: boolean },
  secret = EXAMPLE_SECRET,
  accessKeyId = EXAMPLE_ACCESS_KEY,
): AuthRequest {
  const headers: Record<string, string> = { ...(req.headers ?? {}) };
  const query = req.signQuery ? 'X-Amz-Date=20130524T000000Z' : '';
  if (!req.signQuery) headers['X-Amz-Date'] = '20130524T000000Z';
  const path = query ? `${req.path}${req.path.includes('?') ? '&' : '?'}${query}` : req.path;
  const signed = aws4.sign(
    { host: 'localhost:9000', service: 's3', region: req.region ?? 'us-east-1', method: req.method, path, headers, body: req.body, signQuery: req.signQuery },
    { accessKeyId, secretAccessKey: secret },
  );
  const fullPath = String(signed.path);
  const q = fullPath.indexOf('?');
  const lower: Record<string, string> = { host: 'localhost:9000' };
  for (const [k, v] of Object.entries(signed.headers ?? {})) lower[k.toLowerCase()] = String(v);
  return { method: req.method, rawPath: q < 0 ? fullPath : fullPath.slice(0, q), rawQuery: q < 0 ? '' : fullPath.slice(q + 1), headers: lower };
}

test('aws4 round trips: header auth with a body, odd keys and query strings', () => {
  const put = aws4Sign({ method: 'PUT', path: '/bucket/dir/some key (1)~é€.txt', body: 'hello', headers: { 'x-amz-meta-a': '  spaced   out  ' } });
  const res = verifyRequest(put, exampleCreds, opts);
  assert.deepEqual(res.payload, { kind: 'sha256', hex: sha256Hex('hello') });

  const list = aws4Sign({ method: 'GET', path: '/bucket?list-type=2&prefix=a%20b%2Fc&delimiter=%2F&encoding-type=url' });
  verifyRequest(list, exampleCreds, opts);

  const acl = aws4Sign({ method: 'GET', path: '/bucket/key?acl' });
  verifyRequest(acl, exampleCreds, opts);
});

test('aws4 round trip: presigned query', () => {
  const req = aws4Sign({ method: 'GET', path: '/bucket/photos/cat.jpg?versionId=abc', signQuery: true });
  const res = verifyRequest(req, exampleCreds, { ...opts, now: () => EXAMPLE_TIME + 3600_000 });
  assert.equal(res.presigned, true);
  assert.deepEqual(res.payload, { kind: 'unsigned' });
});

test('wrong secret → SignatureDoesNotMatch', () => {
  const req = aws4Sign({ method: 'GET', path: '/bucket/key' }, 'not-the-secret');
  assert.equal(s3ErrorFrom(() => verifyRequest(req, exampleCreds, opts)).code, 'SignatureDoesNotMatch');
  const presigned = aws4Sign({ method: 'GET', path: '/bucket/key', signQuery: true }, 'not-the-secret');
  assert.equal(s3ErrorFrom(() => verifyRequest(presigned, exampleCreds, opts)).code, 'SignatureDoesNotMatch');
});

test('unknown access key → InvalidAccessKeyId', () => {
  const req = aws4Sign({ method: 'GET', path: '/bucket/key' }, EXAMPLE_SECRET, 'AKIDUNKNOWN');
  const err = s3ErrorFrom(() => verifyRequest(req, exampleCreds, opts));
  assert.equal(err.code, 'InvalidAccessKeyId');
  assert.equal(err.status, 403);
  assert.equal(err.fields.AWSAccessKeyId, 'AKIDUNKNOWN');
});

test('wrong region → AuthorizationHeaderMalformed naming both regions, with a Region field', () => {
  const req = aws4Sign({ method: 'GET', path: '/bucket/key', region: 'eu-west-1' });
  const err = s3ErrorFrom(() => verifyRequest(req, exampleCreds, opts));
  assert.equal(err.code, 'AuthorizationHeaderMalformed');
  assert.equal(err.message, "The authorization header is malformed; the region 'eu-west-1' is wrong; expecting 'us-east-1'");
  assert.equal(err.fields.Region, 'us-east-1');
});

test('clock skew over 15 minutes → RequestTimeTooSkewed', () => {
  const req = aws4Sign({ method: 'GET', path: '/bucket/key' });
  // 15 minutes exactly is still fine, either way.
  verifyRequest(req, exampleCreds, { ...opts, now: () => EXAMPLE_TIME + 15 * 60_000 });
  verifyRequest(req, exampleCreds, { ...opts, now: () => EXAMPLE_TIME - 15 * 60_000 });
  for (const delta of [15 * 60_000 + 1000, -(15 * 60_000 + 1000)]) {
    const now = EXAMPLE_TIME + delta;
    const err = s3ErrorFrom(() => verifyRequest(req, exampleCreds, { ...opts, now: () => now }));
    assert.equal(err.code, 'RequestTimeTooSkewed');
    assert.equal(err.status, 403);
    assert.equal(err.fields.RequestTime, '20130524T000000Z');
    assert.equal(err.fields.ServerTime, new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    assert.equal(err.fields.MaxAllowedSkewMilliseconds, '900000');
  }
});

test('missing x-amz-content-sha256 with header auth → InvalidRequest', () => {
  const req = AWS_EXAMPLES['GET Object (range)']();
  delete req.headers['x-amz-content-sha256'];
  const err = s3ErrorFrom(() => verifyRequest(req, exampleCreds, opts));
  assert.equal(err.code, 'InvalidRequest');
  assert.equal(err.message, 'Missing required header for this request: x-amz-content-sha256');
});

test('an x-amz-content-sha256 that is neither a hash nor a known mode → InvalidArgument', () => {
  const req = AWS_EXAMPLES['GET Object (range)']();
  req.headers['x-amz-content-sha256'] = 'abc';
  const err = s3ErrorFrom(() => verifyRequest(req, exampleCreds, opts));
  assert.equal(err.code, 'InvalidArgument');
  assert.equal(err.fields.ArgumentName, 'x-amz-content-sha256');
});

test('missing or invalid x-amz-date / Date → AccessDenied', () => {
  for (const date of [undefined, 'yesterday', '20130524T250000Z']) {
    const req = AWS_EXAMPLES['GET Object (range)']();
    req.headers['x-amz-date'] = date;
    const err = s3ErrorFrom(() => verifyRequest(req, exampleCreds, opts));
    assert.equal(err.code, 'AccessDenied', String(date));
    assert.equal(err.message, 'AWS authentication requires a valid Date or x-amz-date header');
  }
});

test('a Date header alone dates the request (SigV4 uses its ISO 8601 form)', () => {
  const headers: Record<string, string> = {
    host: 'localhost:9000',
    date: 'Fri, 24 May 2013 00:00:00 GMT',
    'x-amz-content-sha256': EMPTY_SHA256,
  };
  const signedHeaders = ['date', 'host', 'x-amz-content-sha256'];
  const canonical = canonicalRequest({ method: 'GET', rawPath: '/b/k', rawQuery: '', headers, signedHeaders, payloadHash: EMPTY_SHA256 });
  const scope = credentialScope('20130524', 'us-east-1', 's3');
  const sig = signatureHex(signingKey(EXAMPLE_SECRET, '20130524', 'us-east-1', 's3'), stringToSign('20130524T000000Z', scope, canonical));
  headers.authorization = authHeader(signedHeaders.join(';'), sig);
  verifyRequest({ method: 'GET', rawPath: '/b/k', rawQuery: '', headers }, exampleCreds, opts);
});

test('x-amz-* headers and Host must be signed → AccessDenied with HeadersNotSigned', () => {
  const req = aws4Sign({ method: 'PUT', path: '/bucket/key', body: 'x' });
  req.headers['x-amz-acl'] = 'public-read';
  const err = s3ErrorFrom(() => verifyRequest(req, exampleCreds, opts));
  assert.equal(err.code, 'AccessDenied');
  assert.equal(err.message, 'There were headers present in the request which were not signed');
  assert.equal(err.fields.HeadersNotSigned, 'x-amz-acl');

  const presigned = AWS_EXAMPLES['presigned GET Object']();
  presigned.headers['x-amz-server-side-encryption'] = 'AES256';
  assert.equal(s3ErrorFrom(() => verifyRequest(presigned, exampleCreds, opts)).fields.HeadersNotSigned, 'x-amz-server-side-encryption');
});

test('session tokens are refused → InvalidToken (no STS here)', () => {
  const req = aws4Sign({ method: 'GET', path: '/bucket/key', headers: { 'X-Amz-Security-Token': 'tok' } });
  assert.equal(s3ErrorFrom(() => verifyRequest(req, exampleCreds, opts)).code, 'InvalidToken');
});

test('a malformed x-amz-decoded-content-length → InvalidArgument', () => {
  const req = AWS_EXAMPLES['chunked PUT Object (seed signature)']();
  req.headers['x-amz-decoded-content-length'] = '12abc';
  assert.equal(s3ErrorFrom(() => verifyRequest(req, exampleCreds, opts)).code, 'InvalidArgument');
});

// ---------------------------------------------------------------------------------------------
// Presigned URLs

function presigned(mutate: (q: URLSearchParams) => void): AuthRequest {
  const req = AWS_EXAMPLES['presigned GET Object']();
  const q = new URLSearchParams(req.rawQuery);
  mutate(q);
  return { ...req, rawQuery: q.toString() };
}

test('an expired presigned URL → AccessDenied "Request has expired" with the times', () => {
  const req = AWS_EXAMPLES['presigned GET Object']();
  verifyRequest(req, exampleCreds, { ...opts, now: () => EXAMPLE_TIME + 86400_000 });
  const now = EXAMPLE_TIME + 86400_000 + 1000;
  const err = s3ErrorFrom(() => verifyRequest(req, exampleCreds, { ...opts, now: () => now }));
  assert.equal(err.code, 'AccessDenied');
  assert.equal(err.message, 'Request has expired');
  assert.deepEqual(err.fields, {
    'X-Amz-Expires': '86400',
    Expires: '2013-05-25T00:00:00Z',
    ServerTime: '2013-05-25T00:00:01Z',
  });
});

test('a negative expiry → AccessDenied "Request has expired" (S3 answers 403, never 400)', () => {
  const req = presigned((q) => q.set('X-Amz-Expires', '-1'));
  const err = s3ErrorFrom(() => verifyRequest(req, exampleCreds, { ...opts, now: () => EXAMPLE_TIME }));
  assert.equal(err.code, 'AccessDenied');
  assert.equal(err.message, 'Request has expired');
});

test('a presigned URL dated in the future → AccessDenied', () => {
  const req = AWS_EXAMPLES['presigned GET Object']();
  const err = s3ErrorFrom(() => verifyRequest(req, exampleCreds, { ...opts, now: () => EXAMPLE_TIME - 3600_000 }));
  assert.equal(err.code, 'AccessDenied');
});

test('presigned parameter errors → AuthorizationQueryParametersError', () => {
  const cases: Array<[string, (q: URLSearchParams) => void, string | RegExp]> = [
    ['expiry over a week', (q) => q.set('X-Amz-Expires', '604801'),
      'X-Amz-Expires must be less than a week (in seconds) that is; 604800'],
    ['non-numeric expiry', (q) => q.set('X-Amz-Expires', 'soon'), 'X-Amz-Expires should be a number'],
    ['missing signature', (q) => q.delete('X-Amz-Signature'), /^Query-string authentication version 4 requires/],
    ['missing expiry', (q) => q.delete('X-Amz-Expires'), /^Query-string authentication version 4 requires/],
    ['bad algorithm', (q) => q.set('X-Amz-Algorithm', 'AWS4-HMAC-SHA1'), 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"'],
    ['bad date', (q) => q.set('X-Amz-Date', '2013-05-24'), /^X-Amz-Date must be in the ISO8601 Long Format/],
    ['bad credential', (q) => q.set('X-Amz-Credential', 'AKIAIOSFODNN7EXAMPLE/20130524'), /^Error parsing the X-Amz-Credential parameter; the Credential is mal-formed/],
    ['wrong region', (q) => q.set('X-Amz-Credential', 'AKIAIOSFODNN7EXAMPLE/20130524/eu-west-1/s3/aws4_request'),
      "Error parsing the X-Amz-Credential parameter; the region 'eu-west-1' is wrong; expecting 'us-east-1'"],
  ];
  for (const [what, mutate, message] of cases) {
    const err = s3ErrorFrom(() => verifyRequest(presigned(mutate), exampleCreds, opts));
    assert.equal(err.code, 'AuthorizationQueryParametersError', what);
    assert.equal(err.status, 400);
    if (typeof message === 'string') assert.equal(err.message, message, what);
    else assert.match(err.message, message, what);
  }
  const maxWeek = s3ErrorFrom(() => verifyRequest(presigned((q) => q.set('X-Amz-Expires', '604800')), exampleCreds, opts));
  assert.equal(maxWeek.code, 'SignatureDoesNotMatch', 'a week is allowed (the changed value then fails the signature)');
});

test('a presigned URL with an extra or changed parameter → SignatureDoesNotMatch', () => {
  for (const mutate of [(q: URLSearchParams) => q.append('response-content-type', 'text/html'), (q: URLSearchParams) => q.set('X-Amz-SignedHeaders', 'host;range')]) {
    const req = presigned(mutate);
    req.headers.range = 'bytes=0-1';
    assert.equal(s3ErrorFrom(() => verifyRequest(req, exampleCreds, opts)).code, 'SignatureDoesNotMatch');
  }
});

test('a presigned request with x-amz-content-sha256 signs that hash as its payload', () => {
  const body = 'payload';
  const headers: Record<string, string> = { host: 'localhost:9000', 'x-amz-content-sha256': sha256Hex(body) };
  const q = new URLSearchParams({
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `${EXAMPLE_ACCESS_KEY}/20130524/us-east-1/s3/aws4_request`,
    'X-Amz-Date': '20130524T000000Z',
    'X-Amz-Expires': '60',
    'X-Amz-SignedHeaders': 'host',
  });
  const canonical = canonicalRequest({ method: 'PUT', rawPath: '/b/k', rawQuery: q.toString(), headers, signedHeaders: ['host'], payloadHash: sha256Hex(body) });
  const sig = signatureHex(signingKey(EXAMPLE_SECRET, '20130524', 'us-east-1', 's3'), stringToSign('20130524T000000Z', credentialScope('20130524', 'us-east-1', 's3'), canonical));
  q.set('X-Amz-Signature', sig);
  const res: AuthResult = verifyRequest({ method: 'PUT', rawPath: '/b/k', rawQuery: q.toString(), headers }, exampleCreds, opts);
  assert.deepEqual(res.payload, { kind: 'sha256', hex: sha256Hex(body) });
});
