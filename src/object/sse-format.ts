// The stored form of an encrypted object's bytes (SSE-S3 and SSE-C), below the object layer's
// idea of versions and above erasure coding: the erasure layer only ever sees what this module
// produced, so every shard, inline record and journal copy holds ciphertext.
//
// A stream (one object, or one part of a multipart object) is cut into CHUNK plaintext bytes;
// each chunk is sealed on its own with AES-256-GCM and stored as ciphertext followed by its
// 16-byte tag. Fixed-size chunks let a range GET read and open only the chunks it covers.
//
//   stream key = HKDF-SHA256(data key, info = LABEL ‖ dataId)
//   nonce      = 4 zero bytes ‖ chunk index (u64 big-endian)
//   AAD        = LABEL ‖ dataId ‖ chunk index (u64) ‖ final flag (1 byte)
//
// The dataId is the generated name of the stored stream (shard files and inline records are
// named by it), unique per PUT and per UploadPart, so every stream has a key of its own and a
// counter nonce never repeats under one key. Binding the index and the final flag in the AAD
// means chunks cannot be reordered, dropped from the end or moved between streams (each
// stream has another key) without the tag check failing.

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { S3Error } from '../errors.js';

/** Plaintext bytes per chunk. */
export const CHUNK = 64 * 1024;
const TAG = 16;
/** Stored bytes per full chunk. */
export const SEALED_CHUNK = CHUNK + TAG;
const LABEL = Buffer.from('tessera-sse-v1\0', 'latin1');

/** Stored size of a stream of `plain` bytes. */
export function sealedSize(plain: number): number {
  return plain + TAG * Math.ceil(plain / CHUNK);
}

function chunkCount(plain: number): number {
  return Math.ceil(plain / CHUNK);
}

/** The per-stream key (see the top of this file). */
function streamKey(dataKey: Buffer, dataId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), Buffer.concat([LABEL, Buffer.from(dataId, 'utf8')]), 32));
}

function nonceOf(index: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(index), 4);
  return n;
}

function aadOf(dataId: Buffer, index: number, final: boolean): Buffer {
  const tail = Buffer.alloc(9);
  tail.writeBigUInt64BE(BigInt(index), 0);
  tail[8] = final ? 1 : 0;
  return Buffer.concat([LABEL, dataId, tail]);
}

function sealChunk(key: Buffer, dataId: Buffer, index: number, final: boolean, plain: Buffer): Buffer {
  const c = createCipheriv('aes-256-gcm', key, nonceOf(index));
  c.setAAD(aadOf(dataId, index, final));
  const out = Buffer.allocUnsafe(plain.length + TAG);
  const n = c.update(plain).copy(out, 0);
  c.final();
  c.getAuthTag().copy(out, n);
  return out;
}

/** The error a failed tag check becomes: the stored bytes are not what was written. */
function tamperedError(): S3Error {
  return new S3Error('InternalError', 'The stored data of this object failed its authentication check (encrypted chunk altered, moved or truncated).');
}

function openChunk(key: Buffer, dataId: Buffer, index: number, final: boolean, sealed: Buffer): Buffer {
  if (sealed.length < TAG) throw tamperedError();
  const d = createDecipheriv('aes-256-gcm', key, nonceOf(index));
  d.setAAD(aadOf(dataId, index, final));
  d.setAuthTag(sealed.subarray(sealed.length - TAG));
  const head = d.update(sealed.subarray(0, sealed.length - TAG));
  try {
    d.final();
  } catch {
    throw tamperedError();
  }
  return head;
}

/**
 * Plaintext in, stored form out. Holds at most one chunk: a full chunk is sealed only once
 * the next byte arrives, because only then is it known not to be the final one. `onPlain`
 * sees every plaintext byte once (digests of what the client sent).
 */
export class SealStream extends Transform {
  private readonly key: Buffer;
  private readonly id: Buffer;
  private buf = Buffer.allocUnsafe(CHUNK);
  private fill = 0;
  private index = 0;
  /** Plaintext bytes seen. */
  size = 0;

  constructor(dataKey: Buffer, dataId: string, private readonly onPlain: (chunk: Buffer) => void = () => undefined) {
    super();
    this.key = streamKey(dataKey, dataId);
    this.id = Buffer.from(dataId, 'utf8');
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.size += chunk.length;
      this.onPlain(chunk);
      let off = 0;
      while (off < chunk.length) {
        if (this.fill === CHUNK) {
          this.push(sealChunk(this.key, this.id, this.index++, false, this.buf));
          this.fill = 0;
        }
        const n = chunk.copy(this.buf, this.fill, off);
        this.fill += n;
        off += n;
      }
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    if (this.fill > 0) this.push(sealChunk(this.key, this.id, this.index++, true, this.buf.subarray(0, this.fill)));
    cb();
  }
}

/** Where the plaintext bytes [start, end] of a stream of `plain` bytes are stored. */
export interface SealedRange {
  firstChunk: number;
  /** Stored byte range to read, inclusive. */
  start: number;
  end: number;
  /** Plaintext bytes to drop from the front of the first chunk opened. */
  skip: number;
  /** Plaintext bytes wanted in all. */
  length: number;
}

export function sealedRange(plain: number, start: number, end: number): SealedRange {
  const first = Math.floor(start / CHUNK);
  const last = Math.floor(end / CHUNK);
  return {
    firstChunk: first,
    start: first * SEALED_CHUNK,
    end: Math.min((last + 1) * SEALED_CHUNK, sealedSize(plain)) - 1,
    skip: start - first * CHUNK,
    length: end - start + 1,
  };
}

/**
 * Stored form in (the bytes of sealedRange(...), as read), plaintext [start, end] out. The
 * chunks are opened in order from `range.firstChunk`; a stream that ends early, or a tag that
 * does not match, is an error, never short or altered plaintext.
 */
export class OpenStream extends Transform {
  private readonly key: Buffer;
  private readonly id: Buffer;
  private readonly chunks: number;
  private buf = Buffer.allocUnsafe(SEALED_CHUNK);
  private fill = 0;
  private index: number;
  private skip: number;
  private left: number;

  constructor(dataKey: Buffer, dataId: string, plain: number, range: SealedRange) {
    super();
    this.key = streamKey(dataKey, dataId);
    this.id = Buffer.from(dataId, 'utf8');
    this.chunks = chunkCount(plain);
    this.index = range.firstChunk;
    this.skip = range.skip;
    this.left = range.length;
  }

  private emit1(sealed: Buffer): void {
    const final = this.index === this.chunks - 1;
    let plain = openChunk(this.key, this.id, this.index++, final, sealed);
    if (this.skip > 0) {
      plain = plain.subarray(this.skip);
      this.skip = 0;
    }
    if (plain.length > this.left) plain = plain.subarray(0, this.left);
    this.left -= plain.length;
    if (plain.length > 0) this.push(plain);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      let off = 0;
      while (off < chunk.length) {
        const n = chunk.copy(this.buf, this.fill, off);
        this.fill += n;
        off += n;
        if (this.fill === SEALED_CHUNK) {
          // The buffer is reused: emit1 pushes a fresh plaintext buffer, never a view of it.
          this.emit1(this.buf);
          this.fill = 0;
        }
      }
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      if (this.fill > 0) this.emit1(this.buf.subarray(0, this.fill));
      if (this.left !== 0) throw tamperedError();
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Wrapping data keys

const WRAP_NONCE = 12;

/** A data key sealed under a key-encryption key: nonce ‖ ciphertext ‖ tag, base64. */
export function wrapKey(kek: Buffer, dataKey: Buffer, label: string): string {
  const nonce = randomBytes(WRAP_NONCE);
  const c = createCipheriv('aes-256-gcm', kek, nonce);
  c.setAAD(Buffer.from(label, 'utf8'));
  const ct = Buffer.concat([c.update(dataKey), c.final()]);
  return Buffer.concat([nonce, ct, c.getAuthTag()]).toString('base64');
}

/** The data key, or undefined when `kek` is not the key it was wrapped under (or it was altered). */
export function unwrapKey(kek: Buffer, wrapped: string, label: string): Buffer | undefined {
  const raw = Buffer.from(wrapped, 'base64');
  if (raw.length !== WRAP_NONCE + 32 + TAG) return undefined;
  const d = createDecipheriv('aes-256-gcm', kek, raw.subarray(0, WRAP_NONCE));
  d.setAAD(Buffer.from(label, 'utf8'));
  d.setAuthTag(raw.subarray(raw.length - TAG));
  try {
    return Buffer.concat([d.update(raw.subarray(WRAP_NONCE, raw.length - TAG)), d.final()]);
  } catch {
    return undefined;
  }
}
