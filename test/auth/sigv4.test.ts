import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  EMPTY_SHA256,
  canonicalHeaderValue,
  canonicalQueryString,
  canonicalRequest,
  canonicalUri,
  formatAmzDate,
  formatIsoSeconds,
  parseAmzDate,
  parseHttpDate,
  sha256Hex,
  signatureHex,
  signaturesEqual,
  signingKey,
  stringToSign,
  uriEncode,
} from '../../src/auth/sigv4.js';
import { EXAMPLE_KEY, EXAMPLE_SCOPE } from './helpers.js';

test('uriEncode: RFC 3986 unreserved characters pass, everything else is %XX uppercase', () => {
  assert.equal(uriEncode('A-z_0.9~', true), 'A-z_0.9~');
  assert.equal(uriEncode('a b+c', true), 'a%20b%2Bc');
  assert.equal(uriEncode("!'()*$&=?#", true), '%21%27%28%29%2A%24%26%3D%3F%23');
  assert.equal(uriEncode('ü€', true), '%C3%BC%E2%82%AC');
  assert.equal(uriEncode('a/b', true), 'a%2Fb');
  assert.equal(uriEncode('a/b', false), 'a/b');
});

test('canonicalUri: decodes once and re-encodes each segment, never normalises', () => {
  assert.equal(canonicalUri('/test$file.text'), '/test%24file.text');
  assert.equal(canonicalUri('/test%24file.text'), '/test%24file.text');
  assert.equal(canonicalUri('/b/%c3%bc.txt'), '/b/%C3%BC.txt');
  assert.equal(canonicalUri('/b/ü.txt'), '/b/%C3%BC.txt');
  assert.equal(canonicalUri('/b/a%20b'), '/b/a%20b');
  assert.equal(canonicalUri('/b/a+b'), '/b/a%2Bb', "'+' in a path is a plus, not a space");
  assert.equal(canonicalUri('/b/a%2Fb/c'), '/b/a%2Fb/c', 'an encoded slash stays inside its segment');
  assert.equal(canonicalUri('/b//x/./../y/'), '/b//x/./../y/', 'S3 keys may contain //, . and ..');
  assert.equal(canonicalUri('/b/100%'), '/b/100%25', 'a stray % is literal');
  assert.equal(canonicalUri('/b/%zz'), '/b/%25zz');
  assert.equal(canonicalUri('/b/%ff'), '/b/%FF', 'bytes that are not UTF-8 survive exactly');
  assert.equal(canonicalUri('/'), '/');
  assert.equal(canonicalUri(''), '/');
});

test('canonicalQueryString: sorted by encoded name then value, empty values kept', () => {
  assert.equal(canonicalQueryString(''), '');
  assert.equal(canonicalQueryString('lifecycle'), 'lifecycle=');
  assert.equal(canonicalQueryString('prefix=J&max-keys=2'), 'max-keys=2&prefix=J');
  assert.equal(canonicalQueryString('a=2&a=1&B=0'), 'B=0&a=1&a=2');
  assert.equal(canonicalQueryString('prefix=a+b%2Bc'), 'prefix=a%20b%2Bc', "'+' in a query is a space");
  assert.equal(canonicalQueryString('k=%7e%2f/'), 'k=~%2F%2F');
  assert.equal(canonicalQueryString('uploads&x='), 'uploads=&x=');
  assert.equal(canonicalQueryString('a=1&&b=2'), 'a=1&b=2');
  assert.equal(
    canonicalQueryString('X-Amz-Signature=abc&X-Amz-Date=1', 'X-Amz-Signature'),
    'X-Amz-Date=1',
  );
});

test('canonicalHeaderValue: trims, collapses inner whitespace, joins repeats with commas', () => {
  assert.equal(canonicalHeaderValue('  a   b\t c  '), 'a b c');
  assert.equal(canonicalHeaderValue(['x', ' y ']), 'x,y');
  assert.equal(canonicalHeaderValue(undefined), '');
});

test('signing key derivation matches the AWS documentation example', () => {
  // "Examples of how to derive a signing key for Signature Version 4" (IAM example).
  const key = signingKey('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', '20120215', 'us-east-1', 'iam');
  assert.equal(key.toString('hex'), 'f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d');
  // Cached: the same Buffer comes back.
  assert.equal(signingKey('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', '20120215', 'us-east-1', 'iam'), key);
});

test('S3 example "GET Object": canonical request, string to sign and signature', () => {
  const canonical = canonicalRequest({
    method: 'GET',
    rawPath: '/test.txt',
    rawQuery: '',
    headers: {
      host: 'examplebucket.s3.amazonaws.com',
      range: 'bytes=0-9',
      'x-amz-content-sha256': EMPTY_SHA256,
      'x-amz-date': '20130524T000000Z',
    },
    signedHeaders: ['host', 'range', 'x-amz-content-sha256', 'x-amz-date'],
    payloadHash: EMPTY_SHA256,
  });
  assert.equal(
    canonical,
    'GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n' +
      `x-amz-content-sha256:${EMPTY_SHA256}\nx-amz-date:20130524T000000Z\n\n` +
      `host;range;x-amz-content-sha256;x-amz-date\n${EMPTY_SHA256}`,
  );
  const sts = stringToSign('20130524T000000Z', EXAMPLE_SCOPE, canonical);
  assert.equal(
    sts,
    'AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n' +
      '7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972',
  );
  assert.equal(signatureHex(EXAMPLE_KEY, sts), 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
});

test('sha256Hex of the empty string is the constant S3 uses', () => {
  assert.equal(sha256Hex(''), EMPTY_SHA256);
});

test('signaturesEqual: exact, length-safe comparison', () => {
  assert.equal(signaturesEqual('abc', 'abc'), true);
  assert.equal(signaturesEqual('abd', 'abc'), false);
  assert.equal(signaturesEqual('ab', 'abc'), false);
  assert.equal(signaturesEqual('', 'abc'), false);
});

test('dates: ISO 8601 basic format, HTTP dates, error-body format', () => {
  assert.equal(parseAmzDate('20130524T000000Z'), Date.UTC(2013, 4, 24));
  assert.equal(parseAmzDate('20130524T235959Z'), Date.UTC(2013, 4, 24, 23, 59, 59));
  assert.equal(parseAmzDate('20130231T000000Z'), undefined);
  assert.equal(parseAmzDate('20130524T240000Z'), undefined);
  assert.equal(parseAmzDate('20130524000000Z'), undefined);
  assert.equal(parseAmzDate('2013-05-24T00:00:00Z'), undefined);
  assert.equal(formatAmzDate(Date.UTC(2013, 4, 24, 1, 2, 3, 456)), '20130524T010203Z');
  assert.equal(formatIsoSeconds(Date.UTC(2013, 4, 25)), '2013-05-25T00:00:00Z');
  assert.equal(parseHttpDate('Fri, 24 May 2013 00:00:00 GMT'), Date.UTC(2013, 4, 24));
  assert.equal(parseHttpDate('yesterday'), undefined);
  assert.equal(parseHttpDate('Fri, 24 May 2013 00:00:00'), undefined, 'no zone → not trusted');
});
