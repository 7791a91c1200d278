// Request body verifiers, as stream Transforms: the bytes flow through (decoded, for
// aws-chunked) while digests are computed, and the stream errors with an S3Error when a
// check fails. Data is passed on before the final checks complete: the object layer must
// commit only when the stream ended without error (see docs/architecture.md, "The data path of a PUT").
// Memory stays bounded by one input buffer plus a short header line, whatever the body size.
//
// Error codes chosen for aws-chunked bodies:
//   body ends early / decoded length differs from x-amz-decoded-content-length → IncompleteBody
//   malformed chunk framing (bad size line, missing CRLF, data after the end)   → InvalidRequest
//   declared chunk size above 16 MiB                                            → InvalidRequest
//   wrong chunk or trailer signature                                            → SignatureDoesNotMatch
//   malformed, undeclared or missing trailer                                    → MalformedTrailerError
//   checksum value that is not valid base64 of the right length                → InvalidRequest
//   checksum mismatch (header or trailer)                                      → BadDigest

import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { S3Error } from '../errors.js';
import {
  CHECKSUM_ALGORITHMS,
  checksumAlgorithmFromHeaderName,
  checksumHeaderName,
  createChecksummer,
  decodeChecksumValue,
  type ChecksumAlgorithm,
  type Checksummer,
} from '../util/checksums.js';
import {
  chunkStringToSign,
  signatureHex,
  signaturesEqual,
  trailerStringToSign,
  type HeaderMap,
} from './sigv4.js';
import { headerValue, type AuthResult } from './verify.js';

export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
const MAX_CHUNK_HEADER_LINE = 4096;
const MAX_TRAILER_BYTES = 16 * 1024;
const TRAILER_SIGNATURE_NAME = 'x-amz-trailer-signature';

export interface ChecksumValue {
  algorithm: ChecksumAlgorithm;
  /** base64, as S3 sends and stores it */
  value: string;
}

// ---------------------------------------------------------------------------------------------
// Plain bodies: digests over the bytes as they are

interface DigestCheck {
  hasher: Checksummer;
  expected: Buffer;
  mismatch(computed: Buffer): S3Error;
}

class DigestCheckTransform extends Transform {
  constructor(private readonly checks: DigestCheck[]) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    for (const c of this.checks) c.hasher.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    for (const c of this.checks) {
      const computed = c.hasher.digest();
      if (!computed.equals(c.expected)) return cb(c.mismatch(computed));
    }
    cb();
  }
}

function sha256Check(expectedHex: string): DigestCheck {
  const expected = expectedHex.toLowerCase();
  return {
    hasher: createChecksummer('SHA256'),
    expected: Buffer.from(expected, 'hex'),
    mismatch: (computed) =>
      new S3Error('XAmzContentSHA256Mismatch', undefined, {
        ClientComputedContentSHA256: expected,
        S3ComputedContentSHA256: computed.toString('hex'),
      }),
  };
}

function badDigest(alg: ChecksumAlgorithm): S3Error {
  return new S3Error('BadDigest', `The ${alg} you specified did not match the calculated checksum.`);
}

function checksumCheck(alg: ChecksumAlgorithm, expectedBase64: string, where: 'header' | 'trailing header'): DigestCheck {
  const expected = decodeChecksumValue(alg, expectedBase64);
  if (!expected) throw new S3Error('InvalidRequest', `Value for ${checksumHeaderName(alg)} ${where} is invalid.`);
  return { hasher: createChecksummer(alg), expected, mismatch: () => badDigest(alg) };
}

/** Passes bytes through; at the end errors with XAmzContentSHA256Mismatch unless SHA-256 matches. */
export function sha256Verifier(expectedHex: string): Transform {
  return new DigestCheckTransform([sha256Check(expectedHex)]);
}

/**
 * Passes bytes through; at the end errors with BadDigest unless the checksum matches.
 * Throws InvalidRequest at once when `expectedBase64` is not a valid value for `alg`.
 */
export function checksumVerifier(alg: ChecksumAlgorithm, expectedBase64: string): Transform {
  return new DigestCheckTransform([checksumCheck(alg, expectedBase64, 'header')]);
}

// ---------------------------------------------------------------------------------------------
// aws-chunked bodies

export interface SignedChunkContext {
  seedSignature: string;
  signingKey: Buffer;
  scope: string;
  amzDate: string;
}

export interface AwsChunkedOptions {
  /** Present for STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]: every chunk is signed. */
  signed?: SignedChunkContext;
  /** The body ends with trailing headers (…-TRAILER payload modes). */
  trailer: boolean;
  /** x-amz-decoded-content-length; the decoded byte count must equal it. */
  decodedContentLength?: number;
  /** Checksums announced in x-amz-trailer: each must arrive in the trailer, and only these may. */
  expectedTrailerAlgs?: ChecksumAlgorithm[];
  /** A checksum sent as a request header, to check over the decoded bytes. */
  headerChecksum?: ChecksumValue;
}

const enum State {
  ChunkHeader,
  ChunkData,
  ChunkDataEnd,
  Trailer,
  Done,
}

/**
 * Decodes `hex-size[;chunk-signature=sig]\r\n data \r\n … 0[;chunk-signature=sig]\r\n`,
 * then trailing `name:value\r\n` lines (with `x-amz-trailer-signature:sig\r\n` when signed)
 * and a final `\r\n`. Input may be split anywhere, down to single bytes.
 */
export class AwsChunkedDecoder extends Transform {
  /** The verified trailing checksum, set once the stream has ended without error. */
  trailerChecksum?: ChecksumValue;

  private state = State.ChunkHeader;
  private readonly line: Buffer[] = [];
  private lineLength = 0;
  private remaining = 0;
  private crlfSeen = 0;
  private decodedBytes = 0;

  private previousSignature: string;
  private chunkHash: Hash | undefined;
  private chunkSignature = '';

  private readonly trailerChecks = new Map<ChecksumAlgorithm, Checksummer>();
  private readonly headerCheck: DigestCheck | undefined;
  private readonly trailers: Array<[string, string]> = [];
  private trailerSignature: string | undefined;
  private trailerBytes = 0;

  constructor(private readonly opts: AwsChunkedOptions) {
    super();
    this.previousSignature = opts.signed?.seedSignature ?? '';
    for (const alg of opts.expectedTrailerAlgs ?? []) this.trailerChecks.set(alg, createChecksummer(alg));
    if (opts.headerChecksum) {
      this.headerCheck = checksumCheck(opts.headerChecksum.algorithm, opts.headerChecksum.value, 'header');
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.consume(chunk);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      // Tolerate a body that stops right after the last trailer line, without the empty line.
      if (this.state === State.Trailer && this.lineLength === 0) this.state = State.Done;
      if (this.state !== State.Done) throw incomplete('The aws-chunked body ended before its final chunk.');
      this.finish();
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  private consume(buf: Buffer): void {
    let i = 0;
    while (i < buf.length) {
      switch (this.state) {
        case State.ChunkHeader:
        case State.Trailer: {
          const line = this.readLine(buf, i);
          if (line === undefined) return;
          i = line.next;
          if (this.state === State.ChunkHeader) this.onChunkHeader(line.text);
          else this.onTrailerLine(line.text);
          break;
        }
        case State.ChunkData: {
          const n = Math.min(this.remaining, buf.length - i);
          this.onData(buf.subarray(i, i + n));
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            this.verifyChunkSignature();
            this.state = State.ChunkDataEnd;
            this.crlfSeen = 0;
          }
          break;
        }
        case State.ChunkDataEnd: {
          const want = this.crlfSeen === 0 ? 0x0d : 0x0a;
          if (buf[i] !== want) throw malformed('chunk data is not followed by CRLF');
          i++;
          if (++this.crlfSeen === 2) this.state = State.ChunkHeader;
          break;
        }
        case State.Done:
          throw malformed('data follows the end of the aws-chunked body');
      }
    }
  }

  /** Collects one CRLF-terminated line; returns it (without CRLF) once complete. */
  private readLine(buf: Buffer, start: number): { text: string; next: number } | undefined {
    const nl = buf.indexOf(0x0a, start);
    const end = nl < 0 ? buf.length : nl;
    const limit = this.state === State.Trailer ? MAX_TRAILER_BYTES - this.trailerBytes : MAX_CHUNK_HEADER_LINE;
    if (this.lineLength + (end - start) > limit) {
      throw this.state === State.Trailer ? malformedTrailer() : malformed('chunk header line is too long');
    }
    // Copy: a subarray would pin the whole input buffer until the line completes.
    if (end > start) this.line.push(Buffer.from(buf.subarray(start, end)));
    this.lineLength += end - start;
    if (nl < 0) return undefined;

    const raw = Buffer.concat(this.line, this.lineLength);
    if (this.state === State.Trailer) this.trailerBytes += raw.length + 1;
    this.line.length = 0;
    this.lineLength = 0;
    if (raw.length === 0 || raw[raw.length - 1] !== 0x0d) {
      throw this.state === State.Trailer ? malformedTrailer() : malformed('chunk header line does not end with CRLF');
    }
    return { text: raw.subarray(0, raw.length - 1).toString('latin1'), next: nl + 1 };
  }

  private onChunkHeader(text: string): void {
    const semi = text.indexOf(';');
    const sizeText = semi < 0 ? text : text.slice(0, semi);
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) throw malformed(`invalid chunk size "${sizeText.slice(0, 16)}"`);
    const size = parseInt(sizeText, 16);
    if (size > MAX_CHUNK_SIZE) {
      throw new S3Error('InvalidRequest', `Chunk size ${size} exceeds the maximum of ${MAX_CHUNK_SIZE} bytes.`);
    }
    if (this.opts.signed) {
      const ext = semi < 0 ? '' : text.slice(semi + 1);
      const m = /^chunk-signature=([0-9a-f]{64})$/.exec(ext);
      if (!m) throw malformed('a chunk of a signed aws-chunked body has no valid chunk-signature');
      this.chunkSignature = m[1];
      this.chunkHash = createHash('sha256');
    }
    // Unsigned bodies may carry chunk extensions; they mean nothing to us and are ignored.
    if (size === 0) {
      this.verifyChunkSignature();
      this.state = State.Trailer;
      return;
    }
    this.remaining = size;
    this.state = State.ChunkData;
  }

  private onData(data: Buffer): void {
    this.decodedBytes += data.length;
    const declared = this.opts.decodedContentLength;
    if (declared !== undefined && this.decodedBytes > declared) {
      throw incomplete('The aws-chunked body holds more data than x-amz-decoded-content-length declares.');
    }
    this.chunkHash?.update(data);
    for (const c of this.trailerChecks.values()) c.update(data);
    this.headerCheck?.hasher.update(data);
    this.push(data);
  }

  private verifyChunkSignature(): void {
    const signed = this.opts.signed;
    if (!signed || !this.chunkHash) return;
    const dataHash = this.chunkHash.digest('hex');
    this.chunkHash = undefined;
    const toSign = chunkStringToSign(signed.amzDate, signed.scope, this.previousSignature, dataHash);
    const expected = signatureHex(signed.signingKey, toSign);
    if (!signaturesEqual(this.chunkSignature, expected)) {
      throw new S3Error('SignatureDoesNotMatch', undefined, {
        StringToSign: toSign,
        SignatureProvided: this.chunkSignature,
      });
    }
    this.previousSignature = expected;
  }

  private onTrailerLine(text: string): void {
    if (text === '') {
      this.state = State.Done;
      return;
    }
    // Nothing but the closing empty line may follow the trailer signature.
    if (!this.opts.trailer || this.trailerSignature !== undefined) throw malformedTrailer();
    const colon = text.indexOf(':');
    if (colon <= 0) throw malformedTrailer();
    const name = text.slice(0, colon).trim().toLowerCase();
    const value = text.slice(colon + 1).trim();
    if (name === TRAILER_SIGNATURE_NAME) {
      if (!this.opts.signed) throw malformedTrailer();
      this.trailerSignature = value;
      return;
    }
    // Only checksums are defined as trailers; each may appear once.
    if (checksumAlgorithmFromHeaderName(name) === undefined || this.trailers.some(([n]) => n === name)) {
      throw malformedTrailer();
    }
    this.trailers.push([name, value]);
  }

  /** End-of-body checks: trailer signature, length, checksums — in that order. */
  private finish(): void {
    const signed = this.opts.signed;
    if (signed && this.opts.trailer) {
      if (this.trailerSignature === undefined) throw malformedTrailer();
      const canonical = this.trailers.map(([n, v]) => `${n}:${v}\n`).join('');
      const toSign = trailerStringToSign(signed.amzDate, signed.scope, this.previousSignature, canonical);
      const expected = signatureHex(signed.signingKey, toSign);
      if (!signaturesEqual(this.trailerSignature, expected)) {
        throw new S3Error('SignatureDoesNotMatch', undefined, {
          StringToSign: toSign,
          SignatureProvided: this.trailerSignature,
        });
      }
    }

    const declared = this.opts.decodedContentLength;
    if (declared !== undefined && this.decodedBytes !== declared) {
      throw incomplete('The aws-chunked body holds less data than x-amz-decoded-content-length declares.');
    }

    if (this.headerCheck) {
      const computed = this.headerCheck.hasher.digest();
      if (!computed.equals(this.headerCheck.expected)) throw this.headerCheck.mismatch(computed);
    }

    let verified: ChecksumValue | undefined;
    for (const [name, value] of this.trailers) {
      const alg = checksumAlgorithmFromHeaderName(name) as ChecksumAlgorithm;
      const hasher = this.trailerChecks.get(alg);
      if (!hasher) throw malformedTrailer(); // not announced in x-amz-trailer: nothing computed it
      const check = checksumCheck(alg, value, 'trailing header');
      if (!hasher.digest().equals(check.expected)) throw badDigest(alg);
      verified ??= { algorithm: alg, value };
    }
    for (const alg of this.trailerChecks.keys()) {
      if (!this.trailers.some(([n]) => n === checksumHeaderName(alg))) throw malformedTrailer();
    }
    this.trailerChecksum = verified;
  }
}

function malformed(detail: string): S3Error {
  return new S3Error('InvalidRequest', `Malformed aws-chunked body: ${detail}.`);
}

function incomplete(message: string): S3Error {
  return new S3Error('IncompleteBody', message);
}

function malformedTrailer(): S3Error {
  return new S3Error(
    'MalformedTrailerError',
    'The request contained trailing data that was not well-formed or did not conform to our published schema.',
  );
}

/** Sugar for tests and callers that build the options themselves. */
export function awsChunkedDecoder(opts: AwsChunkedOptions): AwsChunkedDecoder {
  return new AwsChunkedDecoder(opts);
}

// ---------------------------------------------------------------------------------------------
// Choosing the verifier for a request

/**
 * The x-amz-checksum-<alg> request header, if any (x-amz-checksum-algorithm, -type and -mode
 * are other things and are not looked at). Several → InvalidRequest, as S3.
 */
export function declaredHeaderChecksum(headers: HeaderMap): ChecksumValue | undefined {
  const found: ChecksumValue[] = [];
  for (const alg of CHECKSUM_ALGORITHMS) {
    const value = headerValue(headers, checksumHeaderName(alg));
    if (value !== undefined) found.push({ algorithm: alg, value: value.trim() });
  }
  if (found.length > 1) {
    throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  }
  return found[0];
}

/** The checksums that x-amz-trailer announces. */
export function declaredTrailerChecksums(headers: HeaderMap): ChecksumAlgorithm[] {
  const value = headerValue(headers, 'x-amz-trailer');
  if (value === undefined || value.trim() === '') return [];
  const algs = value.split(',').map((name) => checksumAlgorithmFromHeaderName(name));
  if (algs.length > 1 || algs.some((a) => a === undefined)) {
    throw new S3Error('InvalidRequest', 'The value specified in the x-amz-trailer header is not supported');
  }
  return algs as ChecksumAlgorithm[];
}

export interface BodyVerifierOptions {
  /**
   * Whether an x-amz-checksum-* header describes the request body. True for PutObject,
   * UploadPart and XML-bodied requests; false for CompleteMultipartUpload, where the header
   * is the checksum of the whole object, not of the XML.
   */
  checksumHeaderDescribesBody?: boolean;
}

/**
 * The Transform a request body must flow through before anything in it is trusted, or
 * null when nothing needs checking (unsigned payload, no checksum). For aws-chunked bodies
 * the result is an AwsChunkedDecoder: its output is the decoded object data and, after the
 * end, `trailerChecksum` holds the verified trailing checksum.
 * Throws S3Error (InvalidRequest) at once for malformed checksum/trailer headers.
 */
export function makeBodyVerifier(auth: AuthResult, headers: HeaderMap, opts: BodyVerifierOptions = {}): Transform | null {
  const headerChecksum = opts.checksumHeaderDescribesBody === false ? undefined : declaredHeaderChecksum(headers);
  const payload = auth.payload;
  switch (payload.kind) {
    case 'sha256': {
      const checks = [sha256Check(payload.hex)];
      if (headerChecksum) checks.push(checksumCheck(headerChecksum.algorithm, headerChecksum.value, 'header'));
      return new DigestCheckTransform(checks);
    }
    case 'unsigned':
      return headerChecksum ? checksumVerifier(headerChecksum.algorithm, headerChecksum.value) : null;
    case 'streaming-signed':
      return new AwsChunkedDecoder({
        signed: {
          seedSignature: payload.seedSignature,
          signingKey: payload.signingKey,
          scope: payload.scope,
          amzDate: payload.amzDate,
        },
        trailer: payload.trailer,
        decodedContentLength: auth.decodedContentLength,
        expectedTrailerAlgs: payload.trailer ? declaredTrailerChecksums(headers) : undefined,
        headerChecksum,
      });
    case 'streaming-unsigned-trailer':
      return new AwsChunkedDecoder({
        trailer: true,
        decodedContentLength: auth.decodedContentLength,
        expectedTrailerAlgs: declaredTrailerChecksums(headers),
        headerChecksum,
      });
  }
}
