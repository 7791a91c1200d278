// CRC32C guards every shard block and every inline object against bit rot.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const crc: { calculate(b: Buffer | string, initial?: number): number } = require('fast-crc32c');

export function crc32c(buf: Buffer, initial = 0): number {
  return crc.calculate(buf, initial) >>> 0;
}

/** fast-crc32c silently falls back to a 13x slower JS implementation if its addon is missing. */
export function crc32cIsNative(): boolean {
  try {
    return require('fast-crc32c/impls/sse4_crc32c') === crc;
  } catch {
    return false;
  }
}
