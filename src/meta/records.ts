// Value encoding of the current record (`C \0 bucket \0 key`), the record ListObjects walks.
//
// A listing page shows six fields of each object, but the version record holds everything
// (headers, user metadata, the data layout, …). Parsing a thousand full records per page was
// the largest cost of a listing, so the current record starts with a one-line header of the
// listed fields and the full record follows:
//
//   0x01 lastModified \t size \t etag \t storageClass \t checksumAlgorithm \t checksumType \n {full JSON}
//
// A listing reads the header only; GET/HEAD parse the JSON after it. A value that starts with
// '{' is a plain JSON record (the earlier layout, and the fallback for a field that could not
// sit in the header), so stores written before this layout read as before.

import type { ChecksumAlgorithm, ListedObject, ObjectVersion, StoredChecksum } from './types.js';

const HEADED = 0x01;
const NL = 0x0a;
const UNSAFE = /[\t\n]/;

export function encodeCurrent(v: ObjectVersion): Buffer {
  const full = JSON.stringify(v);
  const cs = v.checksum;
  const fields = [v.etag, v.storageClass ?? '', cs?.algorithm ?? '', cs?.type ?? ''];
  if (!Number.isFinite(v.lastModified) || !Number.isFinite(v.size) || fields.some((f) => typeof f !== 'string' || UNSAFE.test(f))) {
    return Buffer.from(full, 'utf8');
  }
  return Buffer.from(`\x01${v.lastModified}\t${v.size}\t${fields.join('\t')}\n${full}`, 'utf8');
}

export function decodeCurrent(raw: Buffer): ObjectVersion {
  if (raw[0] !== HEADED) return JSON.parse(raw.toString('utf8')) as ObjectVersion;
  return JSON.parse(raw.toString('utf8', raw.indexOf(NL, 1) + 1)) as ObjectVersion;
}

/** The listed fields of a current record (given as text); `key` comes from the record's key. */
export function decodeListed(key: string, raw: string): ListedObject {
  if (raw.charCodeAt(0) !== HEADED) return listed(JSON.parse(raw) as ObjectVersion);
  const p = raw.slice(1, raw.indexOf('\n', 1)).split('\t');
  const o: ListedObject = { key, lastModified: Number(p[0]), size: Number(p[1]), etag: p[2]! };
  if (p[3]) o.storageClass = p[3];
  if (p[4]) o.checksum = { algorithm: p[4] as ChecksumAlgorithm, type: p[5] as StoredChecksum['type'] };
  return o;
}

function listed(v: ObjectVersion): ListedObject {
  const o: ListedObject = { key: v.key, lastModified: v.lastModified, size: v.size, etag: v.etag };
  if (v.storageClass) o.storageClass = v.storageClass;
  if (v.checksum) o.checksum = { algorithm: v.checksum.algorithm, type: v.checksum.type };
  return o;
}
