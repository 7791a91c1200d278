// The S3 "additional checksums" (x-amz-checksum-*): incremental digests over a byte stream,
// producing the big-endian bytes that S3 base64-encodes in headers, trailers and XML.

import { createHash, type Hash } from 'node:crypto';
import { createRequire } from 'node:module';
import { crc32 } from 'node:zlib';
import type { ChecksumAlgorithm } from '../meta/types.js';
import { Crc64Nvme } from './crc64nvme.js';

export type { ChecksumAlgorithm } from '../meta/types.js';

export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];

export interface Checksummer {
  update(chunk: Buffer): void;
  /** Big-endian digest bytes. Call once, after the last update. */
  digest(): Buffer;
}

interface Crc32cModule {
  calculate(buf: Buffer | string, initial?: number): number;
}

// fast-crc32c is CommonJS without types; its loader picks the SSE4.2 native addon when it
// builds and works, else a slow pure-JS table. Both are loaded here so we can tell which.
const require = createRequire(import.meta.url);
const fastCrc32c = require('fast-crc32c') as Crc32cModule;

/** True when CRC32C runs on the native SSE4.2 addon rather than the pure-JS fallback. */
export function isNativeCrc32c(): boolean {
  try {
    return require('fast-crc32c/impls/sse4_crc32c') === fastCrc32c;
  } catch {
    return false;
  }
}

function uint32BE(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(value >>> 0, 0);
  return out;
}

class Crc32Checksummer implements Checksummer {
  private crc = 0;
  update(chunk: Buffer): void {
    this.crc = crc32(chunk, this.crc);
  }
  digest(): Buffer {
    return uint32BE(this.crc);
  }
}

class Crc32cChecksummer implements Checksummer {
  private crc = 0;
  update(chunk: Buffer): void {
    if (chunk.length > 0) this.crc = fastCrc32c.calculate(chunk, this.crc);
  }
  digest(): Buffer {
    return uint32BE(this.crc);
  }
}

class Crc64NvmeChecksummer implements Checksummer {
  private readonly crc = new Crc64Nvme();
  update(chunk: Buffer): void {
    this.crc.update(chunk);
  }
  digest(): Buffer {
    return this.crc.digest();
  }
}

class HashChecksummer implements Checksummer {
  private readonly hash: Hash;
  constructor(name: 'sha1' | 'sha256') {
    this.hash = createHash(name);
  }
  update(chunk: Buffer): void {
    this.hash.update(chunk);
  }
  digest(): Buffer {
    return this.hash.digest();
  }
}

export function createChecksummer(alg: ChecksumAlgorithm): Checksummer {
  switch (alg) {
    case 'CRC32': return new Crc32Checksummer();
    case 'CRC32C': return new Crc32cChecksummer();
    case 'CRC64NVME': return new Crc64NvmeChecksummer();
    case 'SHA1': return new HashChecksummer('sha1');
    case 'SHA256': return new HashChecksummer('sha256');
  }
}

/** Digest length in bytes; a header value must decode to exactly this many bytes. */
export function checksumLength(alg: ChecksumAlgorithm): number {
  switch (alg) {
    case 'CRC32':
    case 'CRC32C': return 4;
    case 'CRC64NVME': return 8;
    case 'SHA1': return 20;
    case 'SHA256': return 32;
  }
}

/** One-shot convenience: base64 checksum of a whole buffer. */
export function checksumBase64(alg: ChecksumAlgorithm, data: Buffer): string {
  const c = createChecksummer(alg);
  c.update(data);
  return c.digest().toString('base64');
}

/** 'CRC32' → 'x-amz-checksum-crc32' (header and trailer name). */
export function checksumHeaderName(alg: ChecksumAlgorithm): string {
  return `x-amz-checksum-${alg.toLowerCase()}`;
}

/** 'x-amz-checksum-crc32' (any case) → 'CRC32'; anything else → undefined. */
export function checksumAlgorithmFromHeaderName(name: string): ChecksumAlgorithm | undefined {
  const lower = name.trim().toLowerCase();
  const prefix = 'x-amz-checksum-';
  if (!lower.startsWith(prefix)) return undefined;
  return parseChecksumAlgorithm(lower.slice(prefix.length));
}

/** Parses an algorithm name as x-amz-sdk-checksum-algorithm / x-amz-checksum-algorithm send it. */
export function parseChecksumAlgorithm(s: string): ChecksumAlgorithm | undefined {
  const upper = s.trim().toUpperCase();
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(upper) ? (upper as ChecksumAlgorithm) : undefined;
}

/**
 * Decodes a client-supplied base64 checksum, or returns undefined when it is not canonical
 * base64 of the right length for the algorithm (S3 refuses those before reading the body).
 */
export function decodeChecksumValue(alg: ChecksumAlgorithm, base64: string): Buffer | undefined {
  const value = base64.trim();
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length !== checksumLength(alg) || bytes.toString('base64') !== value) return undefined;
  return bytes;
}
