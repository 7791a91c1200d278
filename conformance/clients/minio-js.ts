// minio-js (the `minio` package), in this process, only when node_modules/minio exists (it is
// not one of Tessera's dependencies; install it next to the checkout, or run from a directory
// whose node_modules has it, to get this column). Path-style, the calls its README shows:
// makeBucket, fPutObject (multipart above its 64 MiB part size), statObject, fGetObject,
// getPartialObject, listObjectsV2, copyObject, presignedGetObject, removeObject(s), removeBucket.

import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { hostPort, packageDir, packageEntry, packageVersion, walkFiles, type Driver, type Endpoint, type ListResult, type Op, type Session } from '../lib.js';

let ClientCtor: (new (o: Record<string, unknown>) => any) | undefined;

export const minioJs: Driver = {
  name: 'minio-js',
  multipartAt20MiB: false,
  uploadNote: 'minio-js uploads files below its 64 MiB part size in one PUT',
  async detect() {
    const dir = packageDir('minio', [process.cwd()]);
    if (!dir) return { available: false, reason: 'node_modules/minio does not exist' };
    try {
      const mod = (await import(pathToFileURL(packageEntry(dir, 'minio')).href)) as any;
      ClientCtor = mod.Client ?? mod.default?.Client;
      if (typeof ClientCtor !== 'function') return { available: false, reason: `${dir} has no Client export` };
    } catch (e) {
      return { available: false, reason: `cannot load minio from ${dir}: ${(e as Error).message}` };
    }
    return { available: true, version: packageVersion(dir), detail: `minio ${packageVersion(dir)} (${dir})` };
  },
  async open(ep) {
    if (!ClientCtor) throw new Error('minio-js: detect() first');
    const hp = hostPort(ep.url);
    const client = new ClientCtor({ endPoint: hp.host, port: hp.port, useSSL: hp.https, accessKey: ep.accessKey, secretKey: ep.secretKey, region: ep.region, pathStyle: true });
    return minioSession(client, ep);
  },
};

/** Races a minio call against the check's timeout (minio-js takes no AbortSignal). */
function guard<T>(op: Op, p: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('aborted: the check timed out'));
    if (op.signal.aborted) return onAbort();
    op.signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => op.signal.removeEventListener('abort', onAbort));
  });
}

function collect(stream: Readable): Promise<Array<{ name?: string; prefix?: string }>> {
  return new Promise((resolve, reject) => {
    const items: Array<{ name?: string; prefix?: string }> = [];
    stream.on('data', (d: { name?: string; prefix?: string }) => items.push(d));
    stream.on('error', reject);
    stream.on('end', () => resolve(items));
  });
}

function minioSession(c: any, ep: Endpoint): Session {
  const j = JSON.stringify;
  const call = <T = any>(op: Op, display: string, f: () => Promise<T>): Promise<T> => {
    op.note(`minio-js: ${display}`);
    return guard(op, Promise.resolve().then(f));
  };
  const listAll = async (op: Op, bucket: string, prefix: string, recursive: boolean): Promise<ListResult> => {
    const items = await call(op, `listObjectsV2(${j(bucket)}, ${j(prefix)}, ${recursive})`, () => collect(c.listObjectsV2(bucket, prefix, recursive)));
    return { keys: items.filter((i) => i.name !== undefined).map((i) => i.name!), prefixes: items.filter((i) => i.prefix !== undefined).map((i) => i.prefix!) };
  };
  const toFile = async (op: Op, stream: Readable, dest: string) => {
    await mkdir(path.dirname(dest), { recursive: true });
    await pipeline(stream, createWriteStream(dest), { signal: op.signal });
  };
  return {
    async createBucket(op, bucket) {
      await call(op, `makeBucket(${j(bucket)}, ${j(ep.region)})`, () => c.makeBucket(bucket, ep.region));
    },
    async listBuckets(op) {
      return ((await call(op, 'listBuckets()', () => c.listBuckets())) as Array<{ name: string }>).map((b) => b.name);
    },
    async putObject(op, bucket, key, file, o) {
      const meta = { 'Content-Type': o.contentType, ...o.metadata };
      await call(op, `putObject(${j(bucket)}, ${j(key)}, <buffer>, size, ${j(meta)})`, async () => {
        const body = await readFile(file);
        return c.putObject(bucket, key, body, body.length, meta);
      });
    },
    async headObject(op, bucket, key) {
      const st = await call(op, `statObject(${j(bucket)}, ${j(key)})`, () => c.statObject(bucket, key));
      const metadata: Record<string, string> = {};
      let contentType: string | undefined;
      for (const [k, v] of Object.entries((st.metaData ?? {}) as Record<string, string>)) {
        const lk = k.toLowerCase();
        if (lk === 'content-type') contentType = v;
        else metadata[lk.replace(/^x-amz-meta-/, '')] = v;
      }
      return { size: st.size, etag: st.etag, contentType, metadata };
    },
    async getObject(op, bucket, key, dest) {
      const stream = await call(op, `getObject(${j(bucket)}, ${j(key)})`, () => c.getObject(bucket, key));
      await toFile(op, stream, dest);
    },
    async uploadFile(op, bucket, key, file) {
      await call(op, `fPutObject(${j(bucket)}, ${j(key)}, ${j(file)})`, () => c.fPutObject(bucket, key, file, {}));
    },
    async downloadFile(op, bucket, key, dest) {
      await call(op, `fGetObject(${j(bucket)}, ${j(key)}, ${j(dest)})`, () => c.fGetObject(bucket, key, dest));
    },
    async getRange(op, bucket, key, start, end, dest) {
      const stream = await call(op, `getPartialObject(${j(bucket)}, ${j(key)}, ${start}, ${end - start + 1})`, () => c.getPartialObject(bucket, key, start, end - start + 1));
      await toFile(op, stream, dest);
    },
    async list(op, bucket, prefix, delimiter) {
      if (delimiter !== undefined && delimiter !== '/') throw new Error('minio-js lists with delimiter / only');
      return listAll(op, bucket, prefix, !delimiter);
    },
    async copy(op, bucket, srcKey, dstKey) {
      await call(op, `copyObject(${j(bucket)}, ${j(dstKey)}, ${j(`/${bucket}/${srcKey}`)})`, () => c.copyObject(bucket, dstKey, `/${bucket}/${srcKey}`));
    },
    async uploadDir(op, bucket, prefix, dir) {
      for (const rel of await walkFiles(dir)) {
        await call(op, `fPutObject(${j(bucket)}, ${j(prefix + rel)}, …)`, () => c.fPutObject(bucket, prefix + rel, path.join(dir, rel), {}));
      }
    },
    async downloadDir(op, bucket, prefix, dir) {
      for (const key of (await listAll(op, bucket, prefix, true)).keys) {
        const dest = path.join(dir, ...key.slice(prefix.length).split('/'));
        await mkdir(path.dirname(dest), { recursive: true });
        await call(op, `fGetObject(${j(bucket)}, ${j(key)}, …)`, () => c.fGetObject(bucket, key, dest));
      }
    },
    async presign(op, bucket, key, seconds) {
      return call(op, `presignedGetObject(${j(bucket)}, ${j(key)}, ${seconds})`, () => c.presignedGetObject(bucket, key, seconds));
    },
    async deleteObject(op, bucket, key) {
      await call(op, `removeObject(${j(bucket)}, ${j(key)})`, () => c.removeObject(bucket, key));
    },
    async deleteBucket(op, bucket) {
      const { keys } = await listAll(op, bucket, '', true);
      if (keys.length) await call(op, `removeObjects(${j(bucket)}, [${keys.length} keys])`, () => c.removeObjects(bucket, keys));
      await call(op, `removeBucket(${j(bucket)})`, () => c.removeBucket(bucket));
    },
    async close() {},
  };
}
