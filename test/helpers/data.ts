// Deterministic pseudo-random test data, generated on the fly so large objects never sit in
// memory, and streaming digests to compare them.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

export function md5hex(b: Buffer | string): string {
  return createHash('md5').update(b).digest('hex');
}

export function md5b64(b: Buffer | string): string {
  return createHash('md5').update(b).digest('base64');
}

/** Deterministic bytes: position p holds a value that depends only on (seed, p). */
export function fillPattern(buf: Buffer, seed: number, offset: number): void {
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
  fillPattern(b, seed, 0);
  return b;
}

/**
 * A stream of `size` bytes generated on the fly, chunk by chunk; every chunk differs (a 1 MiB
 * base block with the chunk index and seed stamped into it), so swapped or repeated stripes show.
 */
export function patternStream(size: number, seed = 1, chunk = 1024 * 1024): Readable {
  const block = patternBuffer(chunk, seed);
  let sent = 0;
  let index = 0;
  return new Readable({
    highWaterMark: chunk,
    read() {
      if (sent >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(chunk, size - sent);
      const out = Buffer.from(block.subarray(0, n));
      for (let off = 0; off + 8 <= n; off += 65536) {
        out.writeUInt32BE(index >>> 0, off);
        out.writeUInt32BE(seed >>> 0, off + 4);
      }
      sent += n;
      index++;
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
