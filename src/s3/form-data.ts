// A streaming reader of multipart/form-data (RFC 7578) for POST Object: the fields before the
// part named "file" are read into memory (bounded), the file part is handed out as a stream
// that pulls from the request as it is read, and whatever follows it is discarded.
//
// Written here rather than taken from a package because S3 decides what the file is by the
// part's name ("file"), not by whether it carries a filename, and must never turn its bytes
// into text; and because the 20 KiB that S3 allows before the file covers the whole pre-file
// part of the body (preamble, part headers, values), which a per-field limit cannot express.

import { S3Error } from '../errors.js';

/** What S3 accepts before the file part: "fields preceding the upload file" (20 KB). */
export const MAX_PRE_FILE_BYTES = 20 * 1024;
/** How long a boundary may be (RFC 2046 §5.1.1). */
const MAX_BOUNDARY = 70;
const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

export interface FormFile {
  /** The part's filename parameter (filename* wins), as sent; undefined when it had none. */
  filename?: string;
  /** Content-Type of the file part itself (S3 stores the Content-Type field, not this). */
  contentType?: string;
  /** The file's bytes as they arrive; throws if the form ends before the file part does. */
  body: AsyncGenerator<Buffer>;
}

export interface FormHead {
  /** Fields before the file, in order; names lower-cased (S3 matches them case-insensitively). */
  fields: Array<[string, string]>;
  /** Undefined when the form ended without a part named "file". */
  file?: FormFile;
}

interface PartHead {
  name: string;
  filename?: string;
  contentType?: string;
}

export function malformedForm(): S3Error {
  return new S3Error('MalformedPOSTRequest', 'The body of your POST request is not well-formed multipart/form-data.');
}

function tooMuchBeforeFile(): S3Error {
  return new S3Error('MaxPostPreDataLengthExceededError', 'Your POST request fields preceding the upload file were too large.');
}

/** The boundary parameter of a multipart/form-data Content-Type, or undefined if it is not one. */
export function formBoundary(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const [type, ...params] = contentType.split(';');
  if (type.trim().toLowerCase() !== 'multipart/form-data') return undefined;
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq < 0 || p.slice(0, eq).trim().toLowerCase() !== 'boundary') continue;
    let v = p.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    return v;
  }
  return '';
}

export function isMultipartForm(contentType: string | undefined): boolean {
  return formBoundary(contentType) !== undefined;
}

/**
 * Reads a form body from `source` (the request) up to the start of the file part. The file
 * body must be read to its end (or given up) before `discardRest` is called.
 */
export class FormReader {
  /** "\r\n--boundary": every delimiter but the first is preceded by CRLF; the first gets one below. */
  private readonly delimiter: Buffer;
  private readonly source: AsyncIterator<Buffer>;
  /** Bytes received and not yet consumed. Starts with the CRLF the first delimiter lacks. */
  private buf: Buffer = CRLF;
  private ended = false;
  /** Bytes consumed before the file part (counted against MAX_PRE_FILE_BYTES). */
  private preFile = 0;

  constructor(source: AsyncIterable<Buffer>, boundary: string) {
    if (boundary === '' || boundary.length > MAX_BOUNDARY) throw malformedForm();
    this.delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
    // The iterator is driven by hand and never returned early: returning it would destroy the
    // request, and with it the socket the reply has to go out on.
    this.source = source[Symbol.asyncIterator]();
  }

  async readHead(): Promise<FormHead> {
    const fields: Array<[string, string]> = [];
    await this.skipPreamble();
    for (;;) {
      if (await this.atCloseDelimiter()) return { fields };
      const part = await this.readPartHead();
      if (part.name.toLowerCase() === 'file') {
        return { fields, file: { filename: part.filename, contentType: part.contentType, body: this.partBody(false) } };
      }
      const value = await this.readSmallBody();
      fields.push([part.name.toLowerCase(), decodeText(value)]);
    }
  }

  /**
   * Reads and drops what is left of the request (fields after the file, the close delimiter),
   * at most `limit` bytes, so a keep-alive connection can serve the next request. False when
   * the limit stopped it: the caller should then close the connection.
   */
  async discardRest(limit: number): Promise<boolean> {
    let seen = this.buf.length;
    this.buf = Buffer.alloc(0);
    while (!this.ended) {
      if (seen > limit) return false;
      const r = await this.source.next();
      if (r.done) this.ended = true;
      else seen += r.value.length;
    }
    return true;
  }

  // ------------------------------------------------------------------------------- internals

  /** Appends the next chunk of the request; false at its end. */
  private async more(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.source.next();
    if (r.done) {
      this.ended = true;
      return false;
    }
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    return true;
  }

  /** Waits until at least n bytes are buffered; a form that ends first is malformed. */
  private async need(n: number): Promise<void> {
    while (this.buf.length < n) if (!(await this.more())) throw malformedForm();
  }

  private consume(n: number, countTowardsLimit: boolean): void {
    this.buf = this.buf.subarray(n);
    if (!countTowardsLimit) return;
    this.preFile += n;
    if (this.preFile > MAX_PRE_FILE_BYTES) throw tooMuchBeforeFile();
  }

  /** Drops everything up to the first delimiter (a preamble is allowed and ignored). */
  private async skipPreamble(): Promise<void> {
    for await (const chunk of this.partBody(true)) void chunk;
  }

  /**
   * Just past a delimiter: "--" ends the form; otherwise optional transport padding (spaces,
   * tabs) must lead to CRLF, which is left in place for readPartHead.
   */
  private async atCloseDelimiter(): Promise<boolean> {
    await this.need(2);
    if (this.buf[0] === 0x2d && this.buf[1] === 0x2d) return true;
    for (;;) {
      await this.need(2);
      const c = this.buf[0];
      if (c === 0x20 || c === 0x09) this.consume(1, true);
      else if (c === 0x0d && this.buf[1] === 0x0a) return false;
      else throw malformedForm();
    }
  }

  /** The header lines of a part, from the CRLF ending the delimiter line to the empty line. */
  private async readPartHead(): Promise<PartHead> {
    let end: number;
    while ((end = this.buf.indexOf(HEADER_END)) < 0) {
      if (this.preFile + this.buf.length > MAX_PRE_FILE_BYTES) throw tooMuchBeforeFile();
      if (!(await this.more())) throw malformedForm();
    }
    const text = decodeText(this.buf.subarray(2, end));
    this.consume(end + HEADER_END.length, true);
    return parsePartHeaders(text);
  }

  /** A field's value: the part's body, every byte of it counted against the pre-file limit. */
  private async readSmallBody(): Promise<Buffer> {
    const pieces: Buffer[] = [];
    for await (const piece of this.partBody(true)) pieces.push(Buffer.from(piece));
    return Buffer.concat(pieces);
  }

  /**
   * The body of the current part, yielded as it arrives, up to (not including) the next
   * delimiter, which is consumed. The last delimiter.length - 1 bytes are held back until
   * more arrive: they may be the start of the delimiter.
   */
  private async *partBody(countTowardsLimit: boolean): AsyncGenerator<Buffer> {
    for (;;) {
      const at = this.buf.indexOf(this.delimiter);
      if (at >= 0) {
        const piece = this.buf.subarray(0, at);
        this.consume(at + this.delimiter.length, countTowardsLimit);
        if (piece.length > 0) yield piece;
        return;
      }
      const safe = this.buf.length - (this.delimiter.length - 1);
      if (safe > 0) {
        const piece = this.buf.subarray(0, safe);
        this.consume(safe, countTowardsLimit);
        yield piece;
      }
      if (!(await this.more())) throw malformedForm();
    }
  }
}

/** Content-Disposition (name, filename) and Content-Type of one part. */
function parsePartHeaders(text: string): PartHead {
  let disposition: string | undefined;
  let contentType: string | undefined;
  for (const line of text.split('\r\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformedForm();
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-disposition') disposition = value;
    else if (name === 'content-type') contentType = value;
  }
  if (disposition === undefined) throw malformedForm();
  const { type, params } = parseDisposition(disposition);
  const name = params.get('name');
  if (type !== 'form-data' || name === undefined) throw malformedForm();
  const filename = params.has('filename*') ? decodeExtValue(params.get('filename*')!) : params.get('filename');
  return { name, filename, contentType };
}

/**
 * `form-data; name="a"; filename="b.txt"`: parameters as a map (names lower-cased). Inside
 * quotes only \" and \\ are escapes: browsers send Windows paths with plain backslashes.
 */
export function parseDisposition(value: string): { type: string; params: Map<string, string> } {
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const params = new Map<string, string>();
  const re = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  const rest = semi < 0 ? '' : value.slice(semi);
  for (let m = re.exec(rest); m !== null; m = re.exec(rest)) {
    const name = m[1].toLowerCase();
    const v = m[2] !== undefined ? m[2].replace(/\\(["\\])/g, '$1') : m[3].trim();
    if (!params.has(name)) params.set(name, v);
  }
  return { type, params };
}

/** RFC 5987 ext-value: charset'language'percent-encoded (UTF-8 or ISO-8859-1). */
function decodeExtValue(v: string): string | undefined {
  const m = /^([^']*)'[^']*'(.*)$/.exec(v);
  if (!m) return undefined;
  const bytes = Buffer.from(m[2].replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
  return m[1].toLowerCase() === 'utf-8' ? decodeText(bytes) : bytes.toString('latin1');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Form text is UTF-8 from every browser today; bytes that are not UTF-8 are read as Latin-1. */
function decodeText(b: Buffer): string {
  try {
    return utf8.decode(b);
  } catch {
    return b.toString('latin1');
  }
}
