// The metadata journal's record format. Every committed change of the metadata index is one
// record, appended to a journal on every disk; a record is durable (the write is committed)
// once it is synced on write-quorum disks.
//
//   0  magic  u32 "TMJ1"
//   4  payload length u32
//   8  CRC32C u32 of the payload
//  12  kind u8 (ops | epoch | checkpoint), 3 bytes zero
//  16  epoch u64, 24 seq u64          this record's id
//  32  prevEpoch u64, 40 prevSeq u64  the id of the record it follows (0/0: the first)
//  48  digest count u64, 56 digest bytes u64, 64 digest sum u32
//  68  CRC32C u32 of bytes 0 .. 67 (the header)
//  72  payload
//
// The header has its own CRC so a reader knows where the next record starts even when a
// payload rotted, and never has to search for a magic number: payloads hold bytes clients
// chose (inline objects), and a search could take a record planted in one for a real one.
//
// Ids order records: a higher epoch wins, then a higher seq. Each process start opens a new
// epoch on quorum (a counter above every epoch seen, times 2^20, plus 20 random bits, so even
// two starts that saw different disks do not pick the same one), so a record that a previous
// process wrote to too few disks (and never acknowledged) can never be confused with a later
// one that reuses its seq. `prev` links every
// committed record to the one before it; the chain from the newest record back is the history,
// and a record that is not on it was never committed.
//
// An ops payload is the index's raw writes: per write, type u8 (1 put, 2 del), key length u32,
// key, and for a put value length u32 and value. Epoch and checkpoint payloads are JSON.

import { crc32c } from '../../erasure/bitrot.js';
import type { Digest } from '../digest.js';

export const MAGIC = 0x544d4a31; // "TMJ1"
export const HEADER_BYTES = 72;
/** Refuses absurd lengths while scanning a damaged file; far above any real group. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024 * 1024;

export const Kind = { Ops: 1, Epoch: 2, Checkpoint: 3 } as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export interface RecordId {
  epoch: number;
  seq: number;
}

export interface RecordHeader {
  kind: Kind;
  id: RecordId;
  prev: RecordId;
  /** Digest of the whole index once this record is applied. */
  digest: Digest;
  payloadLength: number;
}

export type RawWrite = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

export const GENESIS: RecordId = { epoch: 0, seq: 0 };

export function compareIds(a: RecordId, b: RecordId): number {
  return a.epoch !== b.epoch ? a.epoch - b.epoch : a.seq - b.seq;
}

export const idText = (id: RecordId) => `${id.epoch}.${id.seq}`;
export const sameId = (a: RecordId, b: RecordId) => a.epoch === b.epoch && a.seq === b.seq;

export function encodeRecord(h: Omit<RecordHeader, 'payloadLength'>, payload: Buffer): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  buf.writeUInt32BE(MAGIC, 0);
  buf.writeUInt32BE(payload.length, 4);
  buf.writeUInt32BE(crc32c(payload), 8);
  buf.writeUInt32BE(0, 12);
  buf[12] = h.kind;
  buf.writeBigUInt64BE(BigInt(h.id.epoch), 16);
  buf.writeBigUInt64BE(BigInt(h.id.seq), 24);
  buf.writeBigUInt64BE(BigInt(h.prev.epoch), 32);
  buf.writeBigUInt64BE(BigInt(h.prev.seq), 40);
  buf.writeBigUInt64BE(BigInt(h.digest.count), 48);
  buf.writeBigUInt64BE(BigInt(h.digest.bytes), 56);
  buf.writeUInt32BE(h.digest.sum >>> 0, 64);
  buf.writeUInt32BE(crc32c(buf.subarray(0, 68)), 68);
  payload.copy(buf, HEADER_BYTES);
  return buf;
}

/** Reads the header at `buf[0..72)`: undefined unless its magic and CRC hold. */
export function decodeHeader(buf: Buffer): RecordHeader | undefined {
  if (buf.length < HEADER_BYTES || buf.readUInt32BE(0) !== MAGIC) return undefined;
  if (crc32c(buf.subarray(0, 68)) !== buf.readUInt32BE(68)) return undefined;
  const payloadLength = buf.readUInt32BE(4);
  const kind = buf[12] as Kind;
  if (payloadLength > MAX_PAYLOAD_BYTES || (kind !== Kind.Ops && kind !== Kind.Epoch && kind !== Kind.Checkpoint)) return undefined;
  return {
    kind,
    id: { epoch: Number(buf.readBigUInt64BE(16)), seq: Number(buf.readBigUInt64BE(24)) },
    prev: { epoch: Number(buf.readBigUInt64BE(32)), seq: Number(buf.readBigUInt64BE(40)) },
    digest: { count: Number(buf.readBigUInt64BE(48)), bytes: Number(buf.readBigUInt64BE(56)), sum: buf.readUInt32BE(64) },
    payloadLength,
  };
}

/** True when `record` (a valid header + its payload, exactly) carries a matching payload CRC. */
export function verifyRecord(record: Buffer): boolean {
  return record.length >= HEADER_BYTES && crc32c(record.subarray(HEADER_BYTES)) === record.readUInt32BE(8);
}

export function encodeWrites(writes: RawWrite[]): Buffer {
  let size = 0;
  for (const w of writes) size += 5 + w.key.length + (w.type === 'put' ? 4 + w.value.length : 0);
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  for (const w of writes) {
    buf[at] = w.type === 'put' ? 1 : 2;
    buf.writeUInt32BE(w.key.length, at + 1);
    at += 5;
    at += w.key.copy(buf, at);
    if (w.type === 'put') {
      buf.writeUInt32BE(w.value.length, at);
      at += 4;
      at += w.value.copy(buf, at);
    }
  }
  return buf;
}

export function decodeWrites(buf: Buffer): RawWrite[] {
  const out: RawWrite[] = [];
  let at = 0;
  while (at < buf.length) {
    const type = buf[at];
    const klen = buf.readUInt32BE(at + 1);
    at += 5;
    const key = buf.subarray(at, at + klen);
    at += klen;
    if (type === 1) {
      const vlen = buf.readUInt32BE(at);
      at += 4;
      out.push({ type: 'put', key, value: buf.subarray(at, at + vlen) });
      at += vlen;
    } else if (type === 2) {
      out.push({ type: 'del', key });
    } else {
      throw new Error(`journal: unknown write type ${type}`);
    }
    if (at > buf.length) throw new Error('journal: truncated ops payload');
  }
  return out;
}
