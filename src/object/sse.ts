// Server-side encryption in the object layer: which data key a write uses, who may read, and
// the decrypting read of a version's bytes. The stored format is in sse-format.ts.
//
// Every object (or multipart upload) gets a fresh random 256-bit data key. It is kept only
// wrapped (AES-256-GCM) in the version's metadata record: under the server's master key for
// SSE-S3, under the customer's own key for SSE-C. For SSE-C a salted HMAC of the customer
// key is stored as well, so a wrong key is told apart (403) before anything is decrypted;
// neither the master key, the customer key nor a clear data key is ever stored.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Readable, pipeline } from 'node:stream';
import { S3Error } from '../errors.js';
import type { InlineLayout, ObjectVersion, ShardLayout, SseInfo } from '../meta/types.js';
import { OpenStream, sealedRange, unwrapKey, wrapKey } from './sse-format.js';
import { openDataStream, openDataStreamReady } from './read.js';
import type { ObjectStore } from './store.js';

/** What a request asks for: SSE-S3, or SSE-C with the customer's key (32 bytes) and its MD5 (base64). */
export type SseRequest = { mode: 'S3' } | { mode: 'C'; key: Buffer; keyMd5: string };

const S3_LABEL = 'tessera-sse-s3-data-key-v1';
const C_LABEL = 'tessera-sse-c-data-key-v1';

export function noMasterKeyError(): S3Error {
  return new S3Error('NotImplemented', 'Server-side encryption with Amazon S3 managed keys (SSE-S3) needs a master key: this server has none configured (sse.master_key_file / TESSERA_SSE_MASTER_KEY_FILE).', { Header: 'x-amz-server-side-encryption' });
}

function mismatchedUploadKeyError(): S3Error {
  return new S3Error('InvalidRequest', 'The provided encryption parameters did not match the ones used originally.');
}

export class SseKeyring {
  /** A short public name of the master key (HMAC of a constant under it), stored with each SSE-S3 object. */
  readonly masterKeyId: string | undefined;

  constructor(private readonly master?: Buffer) {
    if (master !== undefined && master.length !== 32) throw new Error('the SSE master key must be 32 bytes');
    this.masterKeyId = master ? createHmac('sha256', master).update('tessera master key id').digest('hex').slice(0, 16) : undefined;
  }

  /** True when SSE-S3 (and bucket default encryption) can be served. */
  get hasMasterKey(): boolean {
    return this.master !== undefined;
  }

  /** A fresh data key for a new object or upload, and what to store about it. */
  seal(req: SseRequest): { info: SseInfo; dataKey: Buffer } {
    const dataKey = randomBytes(32);
    if (req.mode === 'S3') {
      if (!this.master) throw noMasterKeyError();
      return { dataKey, info: { mode: 'S3', format: 1, wrappedKey: wrapKey(this.master, dataKey, S3_LABEL), masterKeyId: this.masterKeyId! } };
    }
    const salt = randomBytes(16);
    const check = Buffer.concat([salt, createHmac('sha256', salt).update(req.key).digest()]);
    return { dataKey, info: { mode: 'C', format: 1, wrappedKey: wrapKey(req.key, dataKey, C_LABEL), keyCheck: check.toString('base64') } };
  }

  /**
   * The data key of a stored object, checking what the reader supplied as S3 does: a customer
   * key for an object that has none is InvalidRequest, a missing one too, a wrong one 403.
   */
  dataKeyForRead(info: SseInfo | undefined, customerKey: Buffer | undefined): Buffer | undefined {
    if (!info) {
      if (customerKey) throw new S3Error('InvalidRequest', 'The encryption parameters are not applicable to this object.');
      return undefined;
    }
    if (info.mode === 'S3') {
      if (customerKey) throw new S3Error('InvalidRequest', 'The encryption parameters are not applicable to this object.');
      return this.unwrapS3(info);
    }
    if (!customerKey) throw new S3Error('InvalidRequest', 'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.');
    if (!this.keyMatches(info, customerKey)) throw new S3Error('AccessDenied', 'Access Denied');
    return this.unwrapC(info, customerKey);
  }

  /** The data key an UploadPart encrypts with: the upload's, given the same customer key as CreateMultipartUpload. */
  dataKeyForPart(info: SseInfo | undefined, req: SseRequest | undefined): Buffer | undefined {
    if (!info) {
      if (req) throw new S3Error('InvalidRequest', 'The multipart upload initiate did not request encryption; its parts cannot be encrypted.');
      return undefined;
    }
    if (info.mode === 'S3') {
      if (req?.mode === 'C') throw mismatchedUploadKeyError();
      return this.unwrapS3(info);
    }
    if (!req || req.mode !== 'C') throw new S3Error('InvalidRequest', 'The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.');
    if (!this.keyMatches(info, req.key)) throw mismatchedUploadKeyError();
    return this.unwrapC(info, req.key);
  }

  private keyMatches(info: SseInfo, key: Buffer): boolean {
    const check = Buffer.from(info.keyCheck ?? '', 'base64');
    if (check.length !== 48) return false;
    const mac = createHmac('sha256', check.subarray(0, 16)).update(key).digest();
    return timingSafeEqual(mac, check.subarray(16));
  }

  private unwrapS3(info: SseInfo): Buffer {
    if (!this.master) throw noMasterKeyError();
    const k = unwrapKey(this.master, info.wrappedKey, S3_LABEL);
    if (!k) {
      const other = info.masterKeyId !== undefined && info.masterKeyId !== this.masterKeyId;
      throw new S3Error('InternalError', other
        ? `This object was encrypted under another master key (id ${info.masterKeyId}; the configured key is ${this.masterKeyId}).`
        : 'The wrapped data key of this object failed its authentication check.');
    }
    return k;
  }

  private unwrapC(info: SseInfo, key: Buffer): Buffer {
    const k = unwrapKey(key, info.wrappedKey, C_LABEL);
    if (!k) throw new S3Error('InternalError', 'The wrapped data key of this object failed its authentication check.');
    return k;
  }
}

/**
 * Plaintext bytes [start, end] of an encrypted version: for each stream (the object, or each
 * part it covers) only the sealed chunks holding the range are read, then opened and trimmed.
 * Version and part sizes are plaintext sizes; each layout's size is its stored size.
 */
export function openDecrypted(store: ObjectStore, v: ObjectVersion, dataKey: Buffer, start: number, end: number, firstRaw?: Readable): Readable {
  return Readable.from(decrypting(store, v, dataKey, start, end, firstRaw), { objectMode: false, highWaterMark: 1 });
}

function decrypting(store: ObjectStore, v: ObjectVersion, dataKey: Buffer, start: number, end: number, firstRaw?: Readable): AsyncGenerator<Buffer> {
  const streams = planDecrypted(v, start, end);
  async function* plaintext(): AsyncGenerator<Buffer> {
    for (let i = 0; i < streams.length; i++) {
      const s = streams[i]!;
      const r = sealedRange(s.plain, s.start, s.end);
      const raw = i === 0 && firstRaw ? firstRaw : openDataStream(store, { ...v, data: s.layout }, r.start, r.end);
      const opened = pipeline(raw, new OpenStream(dataKey, s.layout.dataId, s.plain, r), () => undefined) as unknown as Readable;
      // Leaving the loop early (the consumer went away) destroys `opened`, and pipeline then `raw`.
      for await (const chunk of opened as AsyncIterable<Buffer>) yield chunk;
    }
  }
  return plaintext();
}

/**
 * openDecrypted, once the first stored chunks are read (see openDataStreamReady) and the first
 * of them opened: an object that cannot be read, or whose first chunk fails its tag check,
 * fails before any reply instead of cutting a 200 short.
 */
export async function openDecryptedReady(store: ObjectStore, v: ObjectVersion, dataKey: Buffer, start: number, end: number): Promise<Readable> {
  const first = planDecrypted(v, start, end)[0];
  if (!first) return openDecrypted(store, v, dataKey, start, end);
  const r = sealedRange(first.plain, first.start, first.end);
  const raw = await openDataStreamReady(store, { ...v, data: first.layout }, r.start, r.end);
  const gen = decrypting(store, v, dataKey, start, end, raw);
  const head = await gen.next();
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.done) return;
    yield head.value;
    // yield* hands return() on to gen, so a consumer that goes away still closes the reads.
    yield* gen;
  }
  const out = Readable.from(rest(), { objectMode: false, highWaterMark: 1 });
  // Destroyed before it was read from, rest() never ran: close the reads gen holds open.
  out.once('close', () => void gen.return(undefined).catch(() => undefined));
  return out;
}

interface PlannedStream {
  layout: ShardLayout | InlineLayout;
  /** Plaintext size of the whole stream. */
  plain: number;
  start: number;
  end: number;
}

function planDecrypted(v: ObjectVersion, start: number, end: number): PlannedStream[] {
  const data = v.data;
  const streams: PlannedStream[] = [];
  if (data && end >= start) {
    if (data.kind !== 'parts') streams.push({ layout: data, plain: v.size, start, end });
    else {
      let base = 0;
      for (const p of data.parts) {
        const pEnd = base + p.size - 1;
        if (p.size > 0 && pEnd >= start && base <= end) streams.push({ layout: p.data, plain: p.size, start: Math.max(start, base) - base, end: Math.min(end, pEnd) - base });
        base += p.size;
        if (base > end) break;
      }
    }
  }
  return streams;
}
