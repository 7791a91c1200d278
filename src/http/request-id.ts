import { randomBytes } from 'node:crypto';

/** S3-style request ids: 16 upper-case hex chars, plus the longer x-amz-id-2 host id. */
export function newRequestId(): { requestId: string; hostId: string } {
  const b = randomBytes(28);
  return { requestId: b.subarray(0, 8).toString('hex').toUpperCase(), hostId: b.subarray(8).toString('base64') };
}
