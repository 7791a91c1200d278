import { randomBytes } from 'node:crypto';

const ID_BYTES = 28;
const POOL_IDS = 256;
let pool = Buffer.alloc(0);
let offset = 0;

/** S3-style request ids: 16 upper-case hex chars, plus the longer x-amz-id-2 host id. */
export function newRequestId(): { requestId: string; hostId: string } {
  // One call into the random source per 256 requests rather than one per request.
  if (offset + ID_BYTES > pool.length) {
    pool = randomBytes(ID_BYTES * POOL_IDS);
    offset = 0;
  }
  const b = pool.subarray(offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return { requestId: b.toString('hex', 0, 8).toUpperCase(), hostId: b.toString('base64', 8) };
}
