// The request body as the object layer may read it: piped through the verifier that the
// request's signature mode asks for (SHA-256, aws-chunked with chunk signatures, trailing
// checksums). Errors (a bad digest, a client that hangs up) reach the reader as stream errors.

import { pipeline, type Readable } from 'node:stream';
import { AwsChunkedDecoder, makeBodyVerifier } from '../auth/payload.js';
import { S3Error } from '../errors.js';
import type { RequestBody, S3Ctx } from '../s3/context.js';

export function openBody(ctx: S3Ctx): RequestBody {
  const auth = ctx.state.auth;
  if (!auth) throw new S3Error('AccessDenied');
  const req = ctx.req;
  const verifier = makeBodyVerifier(auth, req.headers);
  const streaming = auth.payload.kind === 'streaming-signed' || auth.payload.kind === 'streaming-unsigned-trailer';
  const cl = req.headers['content-length'];
  let size: number | undefined = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : undefined;
  if (streaming) {
    size = auth.decodedContentLength;
    if (size === undefined) throw new S3Error('MissingContentLength', 'You must provide the x-amz-decoded-content-length header with an aws-chunked body.');
  }
  if (!verifier) return { stream: req, size, checksumVerified: false };
  const stream = pipeline(req, verifier, () => undefined) as Readable;
  const decoder = verifier instanceof AwsChunkedDecoder ? verifier : undefined;
  return {
    stream,
    size,
    trailerValue: decoder ? () => decoder.trailerChecksum?.value : undefined,
    checksumVerified: true,
  };
}
