// The journal's record format and segment parsing: round trips, damage found by the header
// and payload CRCs, torn last appends, and no way for bytes inside a payload (which hold
// client data) to be read as a record.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeWrites, encodeRecord, encodeWrites, HEADER_BYTES, Kind, type RawWrite } from '../../src/meta/journal/record.js';
import { parseSegment } from '../../src/meta/journal/scan.js';

const digest = { count: 3, bytes: 99, sum: 0xdeadbeef };

function rec(seq: number, payload: Buffer, epoch = 1 << 20) {
  return encodeRecord({ kind: Kind.Ops, id: { epoch, seq }, prev: { epoch, seq: seq - 1 }, digest }, payload);
}

function parse(buf: Buffer) {
  const seqs: number[] = [];
  let damaged = 0;
  parseSegment(buf, (h) => seqs.push(h.id.seq), () => damaged++);
  return { seqs, damaged };
}

test('writes round-trip through a record, ids and digest included', () => {
  const writes: RawWrite[] = [
    { type: 'put', key: Buffer.from('B\0bucket'), value: Buffer.from('{"x":1}') },
    { type: 'del', key: Buffer.from('C\0bucket\0key') },
    { type: 'put', key: Buffer.from('I\0id'), value: Buffer.alloc(0) },
  ];
  const r = rec(7, encodeWrites(writes));
  const got: RawWrite[] = [];
  parseSegment(r, (h, offset) => {
    assert.equal(h.id.seq, 7);
    assert.equal(h.prev.seq, 6);
    assert.deepEqual(h.digest, digest);
    got.push(...decodeWrites(r.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + h.payloadLength)));
  }, () => assert.fail('no damage'));
  assert.deepEqual(got.map((w) => [w.type, w.key.toString(), w.type === 'put' ? w.value.toString() : null]), writes.map((w) => [w.type, w.key.toString(), w.type === 'put' ? w.value.toString() : null]));
});

test('a rotted payload is skipped and the records after it still read', () => {
  const seg = Buffer.concat([rec(1, Buffer.from('one')), rec(2, Buffer.from('two-two')), rec(3, Buffer.from('three'))]);
  seg[HEADER_BYTES * 2 + 3 + 2] ^= 1; // inside record 2's payload
  assert.deepEqual(parse(seg), { seqs: [1, 3], damaged: 1 });
});

test('a rotted header ends the segment on this disk (other disks hold the copies)', () => {
  const seg = Buffer.concat([rec(1, Buffer.from('one')), rec(2, Buffer.from('two')), rec(3, Buffer.from('three'))]);
  seg[HEADER_BYTES + 3 + 20] ^= 1; // record 2's header (its id)
  assert.deepEqual(parse(seg), { seqs: [1], damaged: 1 });
});

test('a torn last append is not damage', () => {
  const whole = Buffer.concat([rec(1, Buffer.from('one')), rec(2, Buffer.alloc(5000, 7))]);
  for (const cut of [whole.length - 1, whole.length - 4000, HEADER_BYTES + 3 + 10]) {
    assert.deepEqual(parse(whole.subarray(0, cut)), { seqs: [1], damaged: 0 }, `cut at ${cut}`);
  }
});

test('a record planted inside a payload (client bytes) is never taken for a real one', () => {
  const forged = encodeRecord({ kind: Kind.Ops, id: { epoch: 2 ** 50, seq: 99 }, prev: { epoch: 0, seq: 0 } , digest }, encodeWrites([{ type: 'del', key: Buffer.from('B\0victim') }]));
  const carrier = rec(2, Buffer.concat([Buffer.from('inline object bytes: '), forged, Buffer.from(' more')]));
  const seg = Buffer.concat([rec(1, Buffer.from('one')), carrier, rec(3, Buffer.from('three'))]);
  assert.deepEqual(parse(seg), { seqs: [1, 2, 3], damaged: 0 });
  const rotPayload = Buffer.from(seg);
  rotPayload[HEADER_BYTES + 3 + HEADER_BYTES + 5] ^= 1;
  assert.deepEqual(parse(rotPayload), { seqs: [1, 3], damaged: 1 });
  const rotHeader = Buffer.from(seg);
  rotHeader[HEADER_BYTES + 3 + 30] ^= 1;
  assert.deepEqual(parse(rotHeader), { seqs: [1], damaged: 1 });
});
