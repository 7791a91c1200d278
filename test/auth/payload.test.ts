import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  AwsChunkedDecoder,
  MAX_CHUNK_SIZE,
  awsChunkedDecoder,
  checksumVerifier,
  makeBodyVerifier,
  sha256Verifier,
  type AwsChunkedOptions,
} from '../../src/auth/payload.js';
import { EMPTY_SHA256, sha256Hex } from '../../src/auth/sigv4.js';
import type { AuthResult } from '../../src/auth/verify.js';
import { CHECKSUM_ALGORITHMS, checksumBase64, checksumHeaderName } from '../../src/util/checksums.js';
import {
  EXAMPLE_DATE,
  EXAMPLE_KEY,
  EXAMPLE_SCOPE,
  encodeAwsChunked,
  randomSlices,
  runThrough,
  s3ErrorFrom,
  s3ErrorOf,
  slices,
} from './helpers.js';

// ---------------------------------------------------------------------------------------------
// The chunked upload examples of the S3 API reference: 65 KiB of 'a' in a 64 KiB and a 1 KiB
// chunk, with the published seed and chunk signatures.

const A65K = Buffer.alloc(66560, 'a');

function awsExampleBody(sigs: [string, string, string], trailer = ''): Buffer {
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${sigs[0]}\r\n`),
    A65K.subarray(0, 65536),
    Buffer.from(`\r\n400;chunk-signature=${sigs[1]}\r\n`),
    A65K.subarray(65536),
    Buffer.from(`\r\n0;chunk-signature=${sigs[2]}\r\n${trailer}\r\n`),
  ]);
}

const STREAMING_EXAMPLE = {
  seed: '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
  body: awsExampleBody([
    'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
    '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
    'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
  ]),
};

const TRAILER_EXAMPLE = {
  seed: '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e',
  body: awsExampleBody(
    [
      'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
      '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
      '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992',
    ],
    'x-amz-checksum-crc32c:sOO8/Q==\r\n' +
      'x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n',
  ),
};

function signedOpts(seedSignature: string, extra: Partial<AwsChunkedOptions> = {}): AwsChunkedOptions {
  return {
    signed: { seedSignature, signingKey: EXAMPLE_KEY, scope: EXAMPLE_SCOPE, amzDate: EXAMPLE_DATE },
    trailer: false,
    ...extra,
  };
}

test('AWS streaming example: the body is 66824 bytes and decodes to 65 KiB of "a"', async () => {
  assert.equal(STREAMING_EXAMPLE.body.length, 66824, 'matches the example Content-Length');
  const out = await runThrough(awsChunkedDecoder(signedOpts(STREAMING_EXAMPLE.seed, { decodedContentLength: 66560 })), [STREAMING_EXAMPLE.body]);
  assert.deepEqual(out, A65K);
});

test('AWS streaming example, fed byte by byte and at random split points', async () => {
  const opts = signedOpts(STREAMING_EXAMPLE.seed, { decodedContentLength: 66560 });
  assert.deepEqual(await runThrough(awsChunkedDecoder(opts), slices(STREAMING_EXAMPLE.body, 1)), A65K);
  for (let seed = 1; seed <= 5; seed++) {
    assert.deepEqual(await runThrough(awsChunkedDecoder(opts), randomSlices(STREAMING_EXAMPLE.body, seed, 5000)), A65K);
  }
});

test('AWS streaming example: any changed data byte or signature → SignatureDoesNotMatch', async () => {
  const opts = signedOpts(STREAMING_EXAMPLE.seed, { decodedContentLength: 66560 });
  const positions = [
    88, // first data byte of chunk 1 (after "10000;chunk-signature=<64 hex>\r\n")
    88 + 65535, // its last byte
    STREAMING_EXAMPLE.body.indexOf('\r\n400;') + 30, // inside chunk 2's signature
    STREAMING_EXAMPLE.body.length - 10, // inside the final chunk's signature
  ];
  for (const pos of positions) {
    const body = Buffer.from(STREAMING_EXAMPLE.body);
    body[pos] = body[pos] === 0x61 ? 0x62 : body[pos] === 0x30 ? 0x31 : 0x30;
    const err = await s3ErrorOf(runThrough(awsChunkedDecoder(opts), [body]));
    assert.equal(err.code, 'SignatureDoesNotMatch', `byte ${pos}`);
    assert.equal(err.status, 403);
  }
  const wrongSeed = signedOpts('0'.repeat(64));
  assert.equal((await s3ErrorOf(runThrough(awsChunkedDecoder(wrongSeed), [STREAMING_EXAMPLE.body]))).code, 'SignatureDoesNotMatch');
});

test('AWS trailer example: signed chunks, signed CRC32C trailer, checksum exposed after the end', async () => {
  const dec = awsChunkedDecoder(signedOpts(TRAILER_EXAMPLE.seed, {
    trailer: true,
    decodedContentLength: 66560,
    expectedTrailerAlgs: ['CRC32C'],
  }));
  assert.deepEqual(await runThrough(dec, slices(TRAILER_EXAMPLE.body, 1)), A65K);
  assert.deepEqual(dec.trailerChecksum, { algorithm: 'CRC32C', value: 'sOO8/Q==' });
});

test('AWS trailer example: a changed trailer or trailer signature → SignatureDoesNotMatch', async () => {
  const opts = signedOpts(TRAILER_EXAMPLE.seed, { trailer: true, expectedTrailerAlgs: ['CRC32C'] });
  const text = TRAILER_EXAMPLE.body.toString('latin1');
  for (const [from, to] of [['sOO8/Q==', 'sOO8/A=='], ['d81f82fc', 'd81f82fd']]) {
    const body = Buffer.from(text.replace(from, to), 'latin1');
    assert.equal((await s3ErrorOf(runThrough(awsChunkedDecoder(opts), [body]))).code, 'SignatureDoesNotMatch', from);
  }
  const unsignedTrailer = Buffer.from(text.replace(/x-amz-trailer-signature:[0-9a-f]+\r\n/, ''), 'latin1');
  assert.equal((await s3ErrorOf(runThrough(awsChunkedDecoder(opts), [unsignedTrailer]))).code, 'MalformedTrailerError');
});

// ---------------------------------------------------------------------------------------------
// Unsigned bodies with a trailing checksum (what the SDKs send by default over TLS)

for (const alg of CHECKSUM_ALGORITHMS) {
  test(`unsigned aws-chunked with a ${alg} trailer: verified, exposed, and BadDigest when wrong`, async () => {
    const data = randomBytes(200_000);
    const name = checksumHeaderName(alg);
    const good = encodeAwsChunked(data, { chunkSize: 65536, trailers: [[name, checksumBase64(alg, data)]] });
    const opts: AwsChunkedOptions = { trailer: true, decodedContentLength: data.length, expectedTrailerAlgs: [alg] };
    const dec = awsChunkedDecoder(opts);
    assert.deepEqual(await runThrough(dec, randomSlices(good, 7, 70_000)), data);
    assert.deepEqual(dec.trailerChecksum, { algorithm: alg, value: checksumBase64(alg, data) });

    const other = checksumBase64(alg, data.subarray(1));
    const bad = encodeAwsChunked(data, { chunkSize: 65536, trailers: [[name, other]] });
    const err = await s3ErrorOf(runThrough(awsChunkedDecoder(opts), [bad]));
    assert.equal(err.code, 'BadDigest');
    assert.equal(err.message, `The ${alg} you specified did not match the calculated checksum.`);
  });
}

test('unsigned trailer body fed byte by byte', async () => {
  const data = Buffer.from('hello, trailing world');
  const body = encodeAwsChunked(data, { chunkSize: 5, trailers: [['x-amz-checksum-crc64nvme', checksumBase64('CRC64NVME', data)]] });
  const dec = awsChunkedDecoder({ trailer: true, expectedTrailerAlgs: ['CRC64NVME'], decodedContentLength: data.length });
  assert.deepEqual(await runThrough(dec, slices(body, 1)), data);
  assert.equal(dec.trailerChecksum?.algorithm, 'CRC64NVME');
});

test('signed chunks with a signed trailer, from our encoder, at every split size', async () => {
  const data = randomBytes(30_000);
  const seed = 'f'.repeat(64);
  const body = encodeAwsChunked(data, {
    chunkSize: 8192,
    signed: { seedSignature: seed },
    trailers: [['x-amz-checksum-sha256', checksumBase64('SHA256', data)]],
  });
  for (const size of [1, 2, 3, 89, 90, 91, 8192, body.length]) {
    const dec = awsChunkedDecoder(signedOpts(seed, { trailer: true, expectedTrailerAlgs: ['SHA256'], decodedContentLength: data.length }));
    assert.deepEqual(await runThrough(dec, slices(body, size)), data, `pieces of ${size}`);
    assert.equal(dec.trailerChecksum?.value, checksumBase64('SHA256', data));
  }
});

test('empty bodies decode to nothing', async () => {
  const unsigned = encodeAwsChunked(Buffer.alloc(0), { chunkSize: 10, trailers: [['x-amz-checksum-crc32', 'AAAAAA==']] });
  assert.equal(unsigned.toString(), '0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n');
  const dec = awsChunkedDecoder({ trailer: true, expectedTrailerAlgs: ['CRC32'], decodedContentLength: 0 });
  assert.equal((await runThrough(dec, [unsigned])).length, 0);
  const signed = encodeAwsChunked(Buffer.alloc(0), { chunkSize: 10, signed: { seedSignature: 'a'.repeat(64) } });
  assert.equal((await runThrough(awsChunkedDecoder(signedOpts('a'.repeat(64))), [signed])).length, 0);
});

test('decoded data streams out before the chunk ends (memory stays bounded)', async () => {
  const dec = new AwsChunkedDecoder({ trailer: false });
  const seen: Buffer[] = [];
  dec.on('data', (b: Buffer) => seen.push(b));
  dec.write(Buffer.from('3e8\r\n'));
  dec.write(Buffer.alloc(10, 'x'));
  await new Promise((r) => setImmediate(r));
  assert.equal(Buffer.concat(seen).length, 10, '10 of 1000 bytes already passed on');
  dec.destroy();
});

// ---------------------------------------------------------------------------------------------
// Trailer and framing errors

test('trailer problems → MalformedTrailerError', async () => {
  const data = Buffer.from('abc');
  const crc = checksumBase64('CRC32', data);
  const cases: Array<[string, Buffer, AwsChunkedOptions]> = [
    ['checksum not announced in x-amz-trailer', encodeAwsChunked(data, { chunkSize: 3, trailers: [['x-amz-checksum-crc32', crc]] }), { trailer: true }],
    ['announced checksum missing', encodeAwsChunked(data, { chunkSize: 3 }), { trailer: true, expectedTrailerAlgs: ['CRC32'] }],
    ['trailer that is not a checksum', encodeAwsChunked(data, { chunkSize: 3, trailers: [['x-amz-meta-a', 'b']] }), { trailer: true }],
    ['trailer line without a colon', Buffer.from('3\r\nabc\r\n0\r\nnonsense\r\n\r\n'), { trailer: true }],
    ['same checksum twice', encodeAwsChunked(data, { chunkSize: 3, trailers: [['x-amz-checksum-crc32', crc], ['x-amz-checksum-crc32', crc]] }), { trailer: true, expectedTrailerAlgs: ['CRC32'] }],
    ['trailer when none was declared', encodeAwsChunked(data, { chunkSize: 3, trailers: [['x-amz-checksum-crc32', crc]] }), { trailer: false }],
    ['trailer signature on an unsigned body', Buffer.from(`3\r\nabc\r\n0\r\nx-amz-checksum-crc32:${crc}\r\nx-amz-trailer-signature:${'0'.repeat(64)}\r\n\r\n`), { trailer: true, expectedTrailerAlgs: ['CRC32'] }],
    ['trailer over 16 KiB', Buffer.from(`0\r\nx-amz-checksum-crc32:${'A'.repeat(17000)}\r\n\r\n`), { trailer: true, expectedTrailerAlgs: ['CRC32'] }],
  ];
  for (const [what, body, opts] of cases) {
    const err = await s3ErrorOf(runThrough(awsChunkedDecoder(opts), [body]));
    assert.equal(err.code, 'MalformedTrailerError', what);
    assert.equal(err.status, 400);
  }
});

test('a trailing checksum that is not valid base64 of the right size → InvalidRequest', async () => {
  const body = Buffer.from('3\r\nabc\r\n0\r\nx-amz-checksum-crc32:abc\r\n\r\n');
  const err = await s3ErrorOf(runThrough(awsChunkedDecoder({ trailer: true, expectedTrailerAlgs: ['CRC32'] }), [body]));
  assert.equal(err.code, 'InvalidRequest');
});

test('framing errors', async () => {
  const signed = signedOpts('a'.repeat(64));
  const cases: Array<[string, string | Buffer, AwsChunkedOptions, string]> = [
    ['size is not hex', 'zz\r\nabc\r\n0\r\n\r\n', { trailer: false }, 'InvalidRequest'],
    ['size line without CR', '3\nabc\r\n0\r\n\r\n', { trailer: false }, 'InvalidRequest'],
    ['no CRLF after data', '3\r\nabcd\r\n0\r\n\r\n', { trailer: false }, 'InvalidRequest'],
    ['data after the end', '3\r\nabc\r\n0\r\n\r\nmore', { trailer: false }, 'InvalidRequest'],
    ['endless size line', 'f'.repeat(5000), { trailer: false }, 'InvalidRequest'],
    ['signed chunk without a signature', '3\r\nabc\r\n0\r\n\r\n', signed, 'InvalidRequest'],
    ['signed chunk with a short signature', '3;chunk-signature=abc\r\nabc\r\n', signed, 'InvalidRequest'],
    ['truncated inside a chunk', '10\r\nabc', { trailer: false }, 'IncompleteBody'],
    ['truncated between chunks', '3\r\nabc\r\n', { trailer: false }, 'IncompleteBody'],
    ['truncated inside a size line', '3\r\nabc\r\n0', { trailer: false }, 'IncompleteBody'],
    ['empty body', '', { trailer: false }, 'IncompleteBody'],
    ['shorter than x-amz-decoded-content-length', '3\r\nabc\r\n0\r\n\r\n', { trailer: false, decodedContentLength: 4 }, 'IncompleteBody'],
    ['longer than x-amz-decoded-content-length', '3\r\nabc\r\n0\r\n\r\n', { trailer: false, decodedContentLength: 2 }, 'IncompleteBody'],
  ];
  for (const [what, body, opts, code] of cases) {
    const input = typeof body === 'string' ? Buffer.from(body) : body;
    const err = await s3ErrorOf(runThrough(awsChunkedDecoder(opts), input.length ? [input] : []));
    assert.equal(err.code, code, what);
  }
});

test('a declared chunk size above 16 MiB is refused before any of it is read', async () => {
  const header = Buffer.from(`${(MAX_CHUNK_SIZE + 1).toString(16)}\r\n`);
  const err = await s3ErrorOf(runThrough(awsChunkedDecoder({ trailer: false }), [header]));
  assert.equal(err.code, 'InvalidRequest');
  assert.match(err.message, /exceeds the maximum/);
  const ok = Buffer.from(`${MAX_CHUNK_SIZE.toString(16)}\r\n`);
  assert.equal((await s3ErrorOf(runThrough(awsChunkedDecoder({ trailer: false }), [ok]))).code, 'IncompleteBody');
});

test('unsigned chunk extensions are ignored; a missing final CRLF is tolerated', async () => {
  assert.equal((await runThrough(awsChunkedDecoder({ trailer: false }), [Buffer.from('3;foo=bar\r\nabc\r\n0\r\n\r\n')])).toString(), 'abc');
  assert.equal((await runThrough(awsChunkedDecoder({ trailer: false }), [Buffer.from('3\r\nabc\r\n0\r\n')])).toString(), 'abc');
  const crc = checksumBase64('CRC32', Buffer.from('abc'));
  const dec = awsChunkedDecoder({ trailer: true, expectedTrailerAlgs: ['CRC32'] });
  assert.equal((await runThrough(dec, [Buffer.from(`3\r\nabc\r\n0\r\nx-amz-checksum-crc32:${crc}\r\n`)])).toString(), 'abc');
  assert.equal(dec.trailerChecksum?.value, crc);
});

// ---------------------------------------------------------------------------------------------
// Plain bodies

test('sha256Verifier passes matching bodies and reports mismatches as S3 does', async () => {
  const body = Buffer.from('Welcome to Amazon S3.');
  assert.deepEqual(await runThrough(sha256Verifier('44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072'), slices(body, 4)), body);
  assert.equal((await runThrough(sha256Verifier(EMPTY_SHA256), [])).length, 0);
  const err = await s3ErrorOf(runThrough(sha256Verifier(EMPTY_SHA256), [body]));
  assert.equal(err.code, 'XAmzContentSHA256Mismatch');
  assert.equal(err.status, 400);
  assert.deepEqual(err.fields, { ClientComputedContentSHA256: EMPTY_SHA256, S3ComputedContentSHA256: sha256Hex(body) });
});

test('checksumVerifier: match, BadDigest on mismatch, InvalidRequest on a malformed value', async () => {
  const body = Buffer.from('123456789');
  assert.deepEqual(await runThrough(checksumVerifier('CRC32', 'y/Q5Jg=='), [body]), body);
  const err = await s3ErrorOf(runThrough(checksumVerifier('CRC32C', 'y/Q5Jg=='), [body]));
  assert.equal(err.code, 'BadDigest');
  assert.equal(err.message, 'The CRC32C you specified did not match the calculated checksum.');
  const bad = s3ErrorFrom(() => checksumVerifier('CRC32', 'nope'));
  assert.equal(bad.code, 'InvalidRequest');
  assert.equal(bad.message, 'Value for x-amz-checksum-crc32 header is invalid.');
});

// ---------------------------------------------------------------------------------------------
// Choosing the verifier

function auth(payload: AuthResult['payload'], decodedContentLength?: number): AuthResult {
  return { accessKeyId: 'AK', payload, decodedContentLength, presigned: false };
}

test('makeBodyVerifier picks the verifier the payload mode needs', async () => {
  const data = Buffer.from('some object data');
  const crc = checksumBase64('CRC32', data);

  assert.equal(makeBodyVerifier(auth({ kind: 'unsigned' }), {}), null);

  const unsignedWithHeader = makeBodyVerifier(auth({ kind: 'unsigned' }), { 'x-amz-checksum-crc32': crc });
  assert.ok(unsignedWithHeader);
  assert.deepEqual(await runThrough(unsignedWithHeader, [data]), data);
  const wrongHeader = makeBodyVerifier(auth({ kind: 'unsigned' }), { 'x-amz-checksum-crc32': 'AAAAAA==' });
  assert.ok(wrongHeader);
  assert.equal((await s3ErrorOf(runThrough(wrongHeader, [data]))).code, 'BadDigest');

  // sha256 mode checks the hash and a checksum header together.
  const both = makeBodyVerifier(auth({ kind: 'sha256', hex: sha256Hex(data) }), { 'x-amz-checksum-crc32': 'AAAAAA==' });
  assert.ok(both);
  assert.equal((await s3ErrorOf(runThrough(both, [data]))).code, 'BadDigest');

  // CompleteMultipartUpload: the checksum header describes the object, not the XML body.
  assert.equal(makeBodyVerifier(auth({ kind: 'unsigned' }), { 'x-amz-checksum-crc32': 'AAAAAA==' }, { checksumHeaderDescribesBody: false }), null);

  const unsignedTrailer = makeBodyVerifier(auth({ kind: 'streaming-unsigned-trailer' }, data.length), { 'x-amz-trailer': 'x-amz-checksum-crc32' });
  assert.ok(unsignedTrailer instanceof AwsChunkedDecoder);
  const body = encodeAwsChunked(data, { chunkSize: 4, trailers: [['x-amz-checksum-crc32', crc]] });
  assert.deepEqual(await runThrough(unsignedTrailer, [body]), data);
  assert.deepEqual(unsignedTrailer.trailerChecksum, { algorithm: 'CRC32', value: crc });

  const seed = 'c'.repeat(64);
  const signed = makeBodyVerifier(
    auth({ kind: 'streaming-signed', seedSignature: seed, signingKey: EXAMPLE_KEY, scope: EXAMPLE_SCOPE, amzDate: EXAMPLE_DATE, trailer: false }, data.length),
    { 'x-amz-checksum-crc32': crc },
  );
  assert.ok(signed instanceof AwsChunkedDecoder);
  assert.deepEqual(await runThrough(signed, [encodeAwsChunked(data, { chunkSize: 8192, signed: { seedSignature: seed } })]), data);

  const signedWrongHeader = makeBodyVerifier(
    auth({ kind: 'streaming-signed', seedSignature: seed, signingKey: EXAMPLE_KEY, scope: EXAMPLE_SCOPE, amzDate: EXAMPLE_DATE, trailer: false }),
    { 'x-amz-checksum-crc32': 'AAAAAA==' },
  );
  assert.ok(signedWrongHeader);
  const err = await s3ErrorOf(runThrough(signedWrongHeader, [encodeAwsChunked(data, { chunkSize: 8192, signed: { seedSignature: seed } })]));
  assert.equal(err.code, 'BadDigest');
});

test('makeBodyVerifier refuses bad checksum headers before the body is read', () => {
  const several = s3ErrorFrom(() => makeBodyVerifier(auth({ kind: 'unsigned' }), { 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-checksum-sha1': 'x' }));
  assert.equal(several.code, 'InvalidRequest');
  assert.equal(several.message, 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  assert.equal(s3ErrorFrom(() => makeBodyVerifier(auth({ kind: 'unsigned' }), { 'x-amz-checksum-sha256': 'short' })).code, 'InvalidRequest');
  assert.equal(s3ErrorFrom(() => makeBodyVerifier(auth({ kind: 'streaming-unsigned-trailer' }), { 'x-amz-trailer': 'x-amz-meta-foo' })).code, 'InvalidRequest');
  // x-amz-checksum-algorithm / -mode / -type are not checksums of the body.
  assert.equal(makeBodyVerifier(auth({ kind: 'unsigned' }), { 'x-amz-checksum-algorithm': 'CRC32', 'x-amz-checksum-type': 'FULL_OBJECT' }), null);
});
