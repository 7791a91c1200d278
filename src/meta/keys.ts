// Key encoding for the LevelDB metadata store.
//
// Every record key is `<tag> \0 <part> \0 <part> …` in UTF-8. LevelDB compares keys as raw
// bytes, so records sort by the UTF-8 bytes of bucket names and object keys — exactly the
// order S3 lists in. Two properties make the layout work:
//   - no part contains \0 (asserted here), so \0 is a separator that sorts before every
//     byte a key can continue with: "a" and all its versions sort before "a/b";
//   - UTF-8 never contains the byte 0xFF, so `prefix + 0xFF` is an exclusive upper bound
//     for every key that starts with `prefix` (see `end`).
//
//   B \0 bucket                              bucket record (JSON)
//   C \0 bucket \0 key                       current record, what ListObjects scans (JSON)
//   V \0 bucket \0 key \0 sortKey            version record; sortKey ascending = newest first
//   N \0 bucket \0 key \0 versionId          → sortKey: finds a version by id in one lookup
//   I \0 dataId                              inline object data (raw bytes)
//   U \0 bucket \0 key \0 uploadId           multipart upload (JSON)
//   T \0 initiated(16 digits) \0 uploadId    → U key: uploads by age, for expiry
//   P \0 uploadId \0 partNumber(5 digits)    uploaded part (JSON)
//   G \0 id                                  garbage queue entry (JSON)
//   A \0 kind \0 name                        identity record: user, access key or policy (JSON)
//   E \0 target \0 seq(16 digits)           event notification waiting for delivery (JSON)
//   Q \0 bucket                              bytes and versions stored in the bucket (JSON),
//                                            kept by every batch that adds or removes a version
//   W \0 name                               a background worker's progress record (JSON): the
//                                            lifecycle pass's cursor
//   Z \0 state                               which journal record the index reflects, and its
//                                            digest (JSON); not part of the digest or checkpoints

const SEP = 0x00;
const HIGH = 0xff;

export type Tag = 'A' | 'B' | 'C' | 'E' | 'V' | 'N' | 'I' | 'U' | 'T' | 'P' | 'G' | 'Q' | 'W' | 'Z';

/** Throws unless `s` can be one part of a key: a non-empty, well-formed string without \0. */
export function assertPart(what: string, s: unknown): asserts s is string {
  if (typeof s !== 'string' || s.length === 0) throw new Error(`meta: ${what} must be a non-empty string`);
  if (s.includes('\0')) throw new Error(`meta: ${what} must not contain \\0: ${JSON.stringify(s)}`);
  // A lone surrogate would encode as U+FFFD, so two different keys would share one record.
  if (!isWellFormed(s)) throw new Error(`meta: ${what} is not well-formed Unicode: ${JSON.stringify(s)}`);
}

const LONE_SURROGATE = /\p{Cs}/u;
const nativeWellFormed = (String.prototype as { isWellFormed?: () => boolean }).isWellFormed;
const isWellFormed = (s: string): boolean => (nativeWellFormed ? nativeWellFormed.call(s) : !LONE_SURROGATE.test(s));

/** `tag \0 p1 \0 p2 …` — each part validated. */
export function key(tag: Tag, ...parts: string[]): Buffer {
  // One string, encoded once: the parts are well-formed (asserted), so the UTF-8 of the
  // whole is the concatenation of the parts' UTF-8, \0 separators included.
  let s: string = tag;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    assertPart(`${tag} key part ${i}`, p);
    s += '\0' + p;
  }
  return Buffer.from(s, 'utf8');
}

/** Namespace under which every record of `parts` lives: `tag \0 p1 \0 … \0`. */
export function ns(tag: Tag, ...parts: string[]): Buffer {
  return Buffer.concat([key(tag, ...parts), Buffer.of(SEP)]);
}

/** Exclusive upper bound of every key that starts with `prefix`. */
export function end(prefix: Buffer): Buffer {
  return Buffer.concat([prefix, Buffer.of(HIGH)]);
}

/** The smallest key greater than `k` (for turning "after k" into a `gte` bound). */
export function justAfter(k: Buffer): Buffer {
  return Buffer.concat([k, Buffer.of(SEP)]);
}

/** The smallest key greater than every `k \0 …`: skips all records of one object key. */
export function afterAllOf(k: Buffer): Buffer {
  return Buffer.concat([k, Buffer.of(SEP + 1)]);
}

export function utf8(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

/** Zero-padded decimal, so numeric order equals byte order. */
export function padded(n: number, width: number, what: string): string {
  if (!Number.isSafeInteger(n) || n < 0 || String(n).length > width) {
    throw new Error(`meta: ${what} must be an integer in 0..${'9'.repeat(width)}: ${n}`);
  }
  return String(n).padStart(width, '0');
}

export const bucketKey = (name: string) => key('B', name);
export const currentKey = (bucket: string, k: string) => key('C', bucket, k);
export const versionKey = (bucket: string, k: string, sortKey: string) => key('V', bucket, k, sortKey);
export const versionIdKey = (bucket: string, k: string, versionId: string) => key('N', bucket, k, versionId);
export const inlineKey = (dataId: string) => key('I', dataId);
export const uploadKey = (bucket: string, k: string, uploadId: string) => key('U', bucket, k, uploadId);
export const uploadAgeKey = (initiated: number, uploadId: string) =>
  key('T', padded(initiated, 16, 'upload initiated time'), uploadId);
export const partKey = (uploadId: string, partNumber: number) =>
  key('P', uploadId, padded(partNumber, 5, 'part number'));
export const garbageKey = (id: string) => key('G', id);
export const iamKey = (kind: string, name: string) => key('A', kind, name);
export const usageKey = (bucket: string) => key('Q', bucket);
export const workerStateKey = (name: string) => key('W', name);
export const EVENT_SEQ_DIGITS = 16;
export const eventKey = (target: string, seq: number) => key('E', target, padded(seq, EVENT_SEQ_DIGITS, 'event sequence'));
/** The state record; 'Z' is the last tag, so every other record sorts before it. */
export const stateKey = key('Z', 'state');

/** Namespace of the upload-age index; `T \0 <time>` bounds "initiated before time". */
export const uploadAgeBound = (before: number) => Buffer.concat([ns('T'), utf8(padded(before, 16, 'time'))]);
