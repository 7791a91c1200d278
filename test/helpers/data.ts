// Deterministic pseudo-random test data, generated on the fly so large objects never sit in
// memory, and streaming digests to compare them.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

/** xorshift-based bytes: the same (seed, size) always gives the same content. */
export function fillPseudoRandom(buf: Buffer, seed: number, offset: number): void {
  // Content at absolute position p depends only on (seed, p div 4), so any chunking agrees.
  for (let i = 0; i < buf.length; i++) {
    const p = offset + i;
    let x = (Math.imul((p >>> 2) + 1, 2654435761) ^ seed) >>> 0;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    buf[i] = (x >>> ((p & 3) * 8)) & 0xff;
  }
}

export function patternBuffer(size: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(size);
  fillPseudoRandom(b, seed, 0);
  return b;
}

/** A stream of `size` bytes, produced chunk by chunk (fast path: a repeated 1 MiB block). */
export function patternStream(size: number, seed = 1, chunk = 1024 * 1024): Readable {
  const block = patternBuffer(chunk, seed);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      const n = Math.min(chunk, size - sent);
      // Vary each chunk a little so stripes differ (catches swapped stripes).
      const out = Buffer.from(block.subarray(0, n));
      if (n >= 4) out.writeUInt32BE((sent / chunk) >>> 0, 0);
      sent += n;
      this.push(out);
    },
  });
}

export async function md5OfStream(s: AsyncIterable<Buffer | Uint8Array>): Promise<{ md5: string; size: number }> {
  const h = createHash('md5');
  let size = 0;
  for await (const c of s) {
    h.update(c);
    size += c.length;
  }
  return { md5: h.digest('hex'), size };
}

export async function collect(s: AsyncIterable<Buffer | Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}
