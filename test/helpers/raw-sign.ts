// Raw HTTP requests signed with SigV4, for input no SDK will send: NULs, invalid UTF-8 and
// over-long values in paths, query parameters and headers, absurd lengths, truncated bodies.
// aws4 computes the signature (scope, header canonicalisation, key derivation); the path and
// query are put into the canonical request exactly as given, byte for byte, because aws4
// would decode and re-encode them (turning %FF into U+FFFD) and the point here is to send
// bytes a well-behaved client never would. Callers pass the path and query already in
// canonical form (each byte outside A-Z a-z 0-9 -._~ escaped as upper-case %XX).
// Requests go out over a plain socket, so header values may hold any byte but CR and LF.

import aws4 from 'aws4';
import net from 'node:net';

export interface RawTarget {
  host: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

export interface RawRequest {
  method: string;
  /** Canonical (already escaped) path, e.g. "/bucket/a%00b". */
  path: string;
  /** Canonical query without "?", parameters already sorted by name, e.g. "key-marker=%00". */
  query?: string;
  /** Extra headers; values are sent as latin1 bytes (so "\xff" is one raw byte 0xFF). */
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Leave unsigned (anonymous). */
  unsigned?: boolean;
  /** Sign, then change one character of the signature. */
  badSignature?: boolean;
  /** Write the head and only this many body bytes, then wait for the answer. */
  sendBodyBytes?: number;
  /** Give up after this long (ms). */
  timeoutMs?: number;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** The connection closed before a complete response arrived. */
  closedEarly: boolean;
}

/** Returns the headers to send (signed unless `unsigned`). */
export function signRaw(t: RawTarget, r: RawRequest): Record<string, string> {
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, 'latin1');
  const host = `${t.host}:${t.port}`;
  const headers: Record<string, string> = { ...(r.headers ?? {}) };
  if (r.unsigned) return { host, ...headers };
  if (!Object.keys(headers).some((h) => h.toLowerCase() === 'x-amz-content-sha256')) headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  const opts = { host, method: r.method, path: r.path, headers, service: 's3', region: t.region, body };
  const signer = new aws4.RequestSigner(opts, { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey }) as aws4.RequestSigner & {
    canonicalString(): string;
    canonicalHeaders(): string;
    signedHeaders(): string;
    request: { headers: Record<string, string> };
  };
  const self = signer;
  signer.canonicalString = function canonicalString(): string {
    const hs = self.request.headers;
    const payloadHash = hs['X-Amz-Content-Sha256'] ?? hs['x-amz-content-sha256'];
    return [r.method, r.path, r.query ?? '', self.canonicalHeaders() + '\n', self.signedHeaders(), payloadHash].join('\n');
  };
  const signed = signer.sign() as { headers: Record<string, string> };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) out[k] = String(v);
  if (r.badSignature) out.Authorization = out.Authorization.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
  return out;
}

/** Sends one request on a fresh connection and reads one response (or the connection's end). */
export function sendRaw(t: RawTarget, r: RawRequest): Promise<RawResponse> {
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, 'latin1');
  const headers = signRaw(t, r);
  const lower = Object.keys(headers).map((h) => h.toLowerCase());
  if (!lower.includes('content-length') && !lower.includes('transfer-encoding') && body.length > 0) headers['Content-Length'] = String(body.length);
  if (!lower.includes('connection')) headers.Connection = 'close';
  const target = r.query ? `${r.path}?${r.query}` : r.path;
  const head = `${r.method} ${target} HTTP/1.1\r\n` + Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n';
  return exchange(t, Buffer.concat([Buffer.from(head, 'latin1'), r.sendBodyBytes !== undefined ? body.subarray(0, r.sendBodyBytes) : body]), r.timeoutMs ?? 10_000, false, r.method === 'HEAD');
}

/** Writes bytes as they are (any request, well-formed or not) and reads one response. */
export function exchange(t: { host: string; port: number }, bytes: Buffer, timeoutMs = 10_000, halfClose = false, head = false): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(t.port, t.host);
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closedEarly: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const all = Buffer.concat(chunks);
      const parsed = parseResponse(all, head);
      if (!parsed) {
        resolve({ status: 0, headers: {}, body: all, closedEarly: true });
        return;
      }
      resolve({ ...parsed, closedEarly: closedEarly && !parsed.complete });
    };
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      sock.destroy();
      reject(new Error(`no complete response within ${timeoutMs} ms: ${Buffer.concat(chunks).toString('latin1').slice(0, 300)}`));
    }, timeoutMs);
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      const p = parseResponse(Buffer.concat(chunks), head);
      if (p?.complete) finish(false);
    });
    sock.on('error', () => finish(true));
    sock.on('close', () => finish(true));
    // halfClose: say nothing more will come (a truncated request then ends instead of waiting).
    if (halfClose) sock.end(bytes);
    else sock.write(bytes);
  });
}

/** `head`: the answer to a HEAD request, which never has a body whatever its Content-Length says. */
function parseResponse(all: Buffer, head = false): (Omit<RawResponse, 'closedEarly'> & { complete: boolean }) | undefined {
  // Interim responses (100 Continue) come before the final one: skip them.
  while (/^HTTP\/1\.[01] 1\d\d /.test(all.subarray(0, 16).toString('latin1'))) {
    const e = all.indexOf('\r\n\r\n');
    if (e < 0) return undefined;
    all = all.subarray(e + 4);
  }
  const end = all.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = all.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const rest = all.subarray(end + 4);
  const status = Number(m[1]);
  if (head) return { status, headers, body: Buffer.alloc(0), complete: true };
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    const out: Buffer[] = [];
    let pos = 0;
    for (;;) {
      const nl = rest.indexOf('\r\n', pos);
      if (nl < 0) return { status, headers, body: Buffer.concat(out), complete: false };
      const size = parseInt(rest.subarray(pos, nl).toString('latin1'), 16);
      if (size === 0) return { status, headers, body: Buffer.concat(out), complete: true };
      if (rest.length < nl + 2 + size + 2) return { status, headers, body: Buffer.concat(out), complete: false };
      out.push(rest.subarray(nl + 2, nl + 2 + size));
      pos = nl + 2 + size + 2;
    }
  }
  const cl = headers['content-length'];
  if (cl !== undefined) {
    const n = Number(cl);
    return { status, headers, body: rest.subarray(0, n), complete: rest.length >= n };
  }
  // No length: 1xx/204/304 or a body that ends with the connection.
  const bodiless = status === 204 || status === 304 || status < 200;
  return { status, headers, body: rest, complete: bodiless };
}

/** The S3 error in an XML body, or undefined when the body is not one. */
export function s3ErrorOf(body: Buffer): { code: string; requestId: string; message: string } | undefined {
  const s = body.toString('utf8');
  if (!/^<\?xml[^>]*\?>\s*<Error>/.test(s) || !s.trimEnd().endsWith('</Error>')) return undefined;
  const tag = (n: string) => new RegExp(`<${n}>([^<]*)</${n}>`).exec(s)?.[1];
  const code = tag('Code');
  const requestId = tag('RequestId');
  if (!code || !requestId) return undefined;
  return { code, requestId, message: tag('Message') ?? '' };
}

/** Escapes a string's UTF-8 bytes (or raw bytes) into canonical SigV4 form. */
export function esc(s: string | Buffer, keepSlash = false): string {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8');
  let out = '';
  for (const c of b) {
    const ch = String.fromCharCode(c);
    if (/[A-Za-z0-9\-._~]/.test(ch) || (keepSlash && ch === '/')) out += ch;
    else out += '%' + c.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}
