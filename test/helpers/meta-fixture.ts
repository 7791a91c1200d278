// A metadata-rich data set for the durability tests (every kind of record the index keeps),
// and a dump of the whole index to compare two indexes record by record.

import { Readable } from 'node:stream';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Engine } from '../../src/object/engine.js';
import type { LevelMetaStore } from '../../src/meta/level-store.js';
import { patternBuffer } from './data.js';

export interface Fixture {
  /** Keys and the bytes their current version must read back as. */
  current: Map<string, Buffer>;
  uploadId: string;
  partEtags: string[];
  partData: Buffer[];
}

export async function put(e: Engine, bucket: string, key: string, data: Buffer) {
  return e.store.putObject(bucket, key, Readable.from([data]), { expectedSize: data.length });
}

/**
 * Buckets (one versioned, one tagged), inline and erasure-coded objects, overwritten versions,
 * a delete marker, a permanently deleted version, object tags, and an unfinished multipart
 * upload with two parts. Sizes assume an inline threshold of 4 KiB and 64 KiB blocks.
 */
export async function writeFixture(e: Engine, tag = 0): Promise<Fixture> {
  const s = e.store;
  const current = new Map<string, Buffer>();
  const plain = `plain${tag}`;
  const ver = `versioned${tag}`;
  await s.createBucket(plain, 'us-east-1');
  await s.createBucket(ver, 'us-east-1');
  await s.setVersioning(ver, 'Enabled');
  await s.setBucketTags(plain, { team: 'storage', tag: String(tag) });
  for (const [i, size] of [0, 10, 4000, 5000, 200_000, 700_001].entries()) {
    const data = patternBuffer(size, 100 + i + tag * 1000);
    await put(e, plain, `dir/obj-${size}`, data);
    current.set(`${plain}/dir/obj-${size}`, data);
  }
  await s.setObjectTags(plain, 'dir/obj-10', undefined, { color: 'blue' });
  for (let g = 0; g < 3; g++) {
    const small = patternBuffer(1000 + g, 200 + g + tag * 1000);
    const large = patternBuffer(150_000 + g, 300 + g + tag * 1000);
    await put(e, ver, 'small', small);
    await put(e, ver, 'large', large);
    current.set(`${ver}/small`, small);
    current.set(`${ver}/large`, large);
  }
  const gone = await put(e, ver, 'deleted', patternBuffer(50, 7));
  await s.deleteObject(ver, 'deleted'); // delete marker on top of `gone`
  await put(e, ver, 'removed', patternBuffer(60, 8));
  const r2 = await put(e, ver, 'removed', patternBuffer(61, 9));
  await s.deleteObject(ver, 'removed', { versionId: r2.versionId }); // permanent delete: the older one is current again
  current.set(`${ver}/removed`, patternBuffer(60, 8));
  void gone;
  const upload = await s.multipart.create(plain, 'big-upload', { headers: { 'content-type': 'application/x-test' }, userMeta: { who: 'fixture' } });
  const partData = [patternBuffer(5 * 1024 * 1024, 400 + tag), patternBuffer(3000, 401 + tag)];
  const partEtags: string[] = [];
  for (const [i, d] of partData.entries()) {
    const p = await s.multipart.uploadPart(plain, 'big-upload', upload.uploadId, i + 1, Readable.from([d]), { expectedSize: d.length });
    partEtags.push(p.etag);
  }
  return { current, uploadId: upload.uploadId, partEtags, partData };
}

/** Every record of the index but its state record, as hex key → hex value. */
export async function dumpIndex(meta: LevelMetaStore): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const [k, v] of meta.entries()) out.set(k.toString('hex'), v.toString('hex'));
  return out;
}

/** Flips one byte in the middle of every file of the index whose name matches. */
export async function flipBytes(dir: string, match: RegExp): Promise<string[]> {
  const hit: string[] = [];
  for (const name of await readdir(dir)) {
    if (!match.test(name)) continue;
    const file = path.join(dir, name);
    const buf = await readFile(file);
    if (buf.length < 16) continue;
    for (const at of [Math.floor(buf.length / 3), Math.floor(buf.length / 2), Math.floor((buf.length * 2) / 3)]) buf[at] ^= 0x5a;
    await writeFile(file, buf);
    hit.push(name);
  }
  return hit;
}
