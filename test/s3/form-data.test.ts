// The multipart/form-data reader of POST Object, fed the same bodies cut into chunks at every
// position (and at random ones), so a delimiter, a part header or a "\r\n--" look-alike that
// straddles two chunks is read the same as in one piece.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { isS3Error } from '../../src/errors.js';
import { FormReader, MAX_PRE_FILE_BYTES, formBoundary, parseDisposition, type FormHead } from '../../src/s3/form-data.js';

const T = { timeout: 60_000 };
const BOUNDARY = 'xYzZY-boundary';

async function* chunked(body: Buffer, cuts: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (const c of [...cuts, body.length]) {
    if (c > at) yield body.subarray(at, c);
    at = Math.max(at, c);
  }
}

interface Read {
  head: FormHead;
  file?: Buffer;
  drained: boolean;
}

async function read(body: Buffer, cuts: number[] = []): Promise<Read> {
  const form = new FormReader(chunked(body, cuts), BOUNDARY);
  const head = await form.readHead();
  let file: Buffer | undefined;
  if (head.file) {
    const pieces: Buffer[] = [];
    for await (const p of head.file.body) pieces.push(Buffer.from(p));
    file = Buffer.concat(pieces);
  }
  return { head, file, drained: await form.discardRest(1 << 20) };
}

async function readError(body: Buffer, cuts: number[] = []): Promise<string> {
  try {
    await read(body, cuts);
  } catch (e) {
    assert.ok(isS3Error(e), String(e));
    return e.code;
  }
  assert.fail('expected an S3 error');
}

const fileData = Buffer.concat([
  Buffer.from('starts\r\n--xYzZY-boundar'), // a delimiter that falls one byte short
  Buffer.from('\r\n-'),
  randomBytes(300),
  Buffer.from('\r\n--xYzZY'),
]);

const body = Buffer.concat([
  Buffer.from('preamble to ignore\r\n'),
  Buffer.from(`--${BOUNDARY}  \t\r\nContent-Disposition: form-data; name="Key"\r\n\r\nuploads/\${filename}\r\n`),
  Buffer.from(`--${BOUNDARY}\r\ncontent-disposition: form-data; name="x-amz-meta-Note"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nnaïve ☃\r\n`),
  Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="empty"\r\n\r\n\r\n`),
  Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a \\"b\\".bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
  fileData,
  Buffer.from(`\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="after"\r\n\r\nignored\r\n--${BOUNDARY}--\r\nepilogue`),
]);

function checkRead(r: Read): void {
  assert.deepEqual(r.head.fields, [['key', 'uploads/${filename}'], ['x-amz-meta-note', 'naïve ☃'], ['empty', '']]);
  assert.equal(r.head.file?.filename, 'a "b".bin');
  assert.equal(r.head.file?.contentType, 'application/octet-stream');
  assert.ok(r.file?.equals(fileData), 'file bytes as sent');
  assert.equal(r.drained, true);
}

describe('FormReader', () => {
  test('reads fields and streams the file, whole or cut anywhere', T, async () => {
    checkRead(await read(body));
    for (let cut = 1; cut < body.length; cut++) checkRead(await read(body, [cut]));
    for (let i = 0; i < 200; i++) {
      const cuts = Array.from({ length: 8 }, () => Math.floor(Math.random() * body.length)).sort((a, b) => a - b);
      checkRead(await read(body, cuts));
    }
    // One byte at a time.
    checkRead(await read(body, Array.from({ length: body.length }, (_, i) => i)));
  });

  test('the part named "file" is the file with or without a filename; a form without one has none', T, async () => {
    const noName = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="key"\r\n\r\nk\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="FILE"\r\n\r\n\u0000\u00ff\r\n--${BOUNDARY}--`, 'latin1');
    const r = await read(noName);
    assert.equal(r.head.file?.filename, undefined);
    assert.deepEqual([...r.file!], [0, 0xff]);
    const none = await read(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="key"\r\n\r\nk\r\n--${BOUNDARY}--\r\n`));
    assert.equal(none.head.file, undefined);
    assert.deepEqual(none.head.fields, [['key', 'k']]);
  });

  test('filename* (RFC 5987) wins over filename', T, async () => {
    const b = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="plain.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt\r\n\r\nx\r\n--${BOUNDARY}--`);
    assert.equal((await read(b)).head.file?.filename, 'résumé.txt');
  });

  test('malformed forms', T, async () => {
    const cutInFile = body.subarray(0, body.indexOf(fileData) + 10);
    assert.equal(await readError(cutInFile), 'MalformedPOSTRequest');
    const noDisposition = Buffer.from(`--${BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--${BOUNDARY}--`);
    assert.equal(await readError(noDisposition), 'MalformedPOSTRequest');
    const garbageAfterDelimiter = Buffer.from(`--${BOUNDARY}xx\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--${BOUNDARY}--`);
    assert.equal(await readError(garbageAfterDelimiter), 'MalformedPOSTRequest');
    assert.equal(await readError(Buffer.from('no delimiter at all')), 'MalformedPOSTRequest');
  });

  test('more than 20 KiB before the file is refused, however it is spent', T, async () => {
    const bigValue = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\n\r\n${'v'.repeat(MAX_PRE_FILE_BYTES)}\r\n--${BOUNDARY}--`);
    assert.equal(await readError(bigValue), 'MaxPostPreDataLengthExceededError');
    const manyFields = Buffer.from(Array.from({ length: 400 }, (_, i) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\n${'v'.repeat(40)}\r\n`).join('') + `--${BOUNDARY}--`);
    assert.equal(await readError(manyFields, [1000, 5000]), 'MaxPostPreDataLengthExceededError');
    const endlessHeader = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\nX-Pad: ${'p'.repeat(MAX_PRE_FILE_BYTES)}`);
    assert.equal(await readError(endlessHeader), 'MaxPostPreDataLengthExceededError');
    // The file itself has no such limit.
    const bigFile = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n${'f'.repeat(5 * MAX_PRE_FILE_BYTES)}\r\n--${BOUNDARY}--`);
    assert.equal((await read(bigFile)).file?.length, 5 * MAX_PRE_FILE_BYTES);
  });

  test('discardRest stops at its limit', T, async () => {
    const b = Buffer.concat([Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"\r\n\r\n`), Buffer.alloc(100_000), Buffer.from(`\r\n--${BOUNDARY}--`)]);
    const form = new FormReader(chunked(b, [100, 20_000, 40_000, 60_000]), BOUNDARY);
    const head = await form.readHead();
    assert.ok(head.file);
    assert.equal(await form.discardRest(30_000), false);
  });
});

describe('form helpers', () => {
  test('formBoundary', () => {
    assert.equal(formBoundary('multipart/form-data; boundary=abc'), 'abc');
    assert.equal(formBoundary('Multipart/Form-Data; charset=utf-8; BOUNDARY="a b"'), 'a b');
    assert.equal(formBoundary('multipart/form-data'), '');
    assert.equal(formBoundary('multipart/mixed; boundary=abc'), undefined);
    assert.equal(formBoundary('application/x-www-form-urlencoded'), undefined);
    assert.equal(formBoundary(undefined), undefined);
  });

  test('parseDisposition keeps Windows paths and reads escaped quotes', () => {
    const d = parseDisposition('form-data; name="file"; filename="C:\\dir\\a \\"q\\".txt"');
    assert.equal(d.type, 'form-data');
    assert.equal(d.params.get('name'), 'file');
    assert.equal(d.params.get('filename'), 'C:\\dir\\a "q".txt');
    assert.equal(parseDisposition('form-data; name=plain').params.get('name'), 'plain');
  });
});
