// The AWS SDK for JavaScript v3 (@aws-sdk/client-s3), in this process, with its default
// settings apart from endpoint, region, keys and path-style addressing (so it sends its default
// CRC32 checksums). Big files go through @aws-sdk/lib-storage's Upload (multipart, 5 MiB parts)
// and presigned URLs come from @aws-sdk/s3-request-presigner, as most applications do it.

import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { packageDir, packageVersion, walkFiles, type Driver, type Endpoint, type Op, type Session } from '../lib.js';

type S3Module = typeof import('@aws-sdk/client-s3');
type StorageModule = typeof import('@aws-sdk/lib-storage');
type PresignerModule = typeof import('@aws-sdk/s3-request-presigner');

interface Modules {
  s3: S3Module;
  storage?: StorageModule;
  presigner?: PresignerModule;
}

let mods: Modules | undefined;

export const sdkJs: Driver = {
  name: 'sdk-js',
  multipartAt20MiB: true,
  async detect() {
    const dir = packageDir('@aws-sdk/client-s3');
    if (!dir) return { available: false, reason: '@aws-sdk/client-s3 is not in node_modules' };
    try {
      // Plain specifiers: resolved from this file up to the project's node_modules.
      const s3: S3Module = await import('@aws-sdk/client-s3');
      const storage: StorageModule | undefined = await import('@aws-sdk/lib-storage').catch(() => undefined);
      const presigner: PresignerModule | undefined = await import('@aws-sdk/s3-request-presigner').catch(() => undefined);
      mods = { s3, storage, presigner };
    } catch (e) {
      return { available: false, reason: `cannot load @aws-sdk/client-s3: ${(e as Error).message}` };
    }
    const extras = [mods.storage ? 'lib-storage' : 'no lib-storage (PutObject for big files)', mods.presigner ? 's3-request-presigner' : 'no presigner'];
    return { available: true, version: packageVersion(dir), detail: `@aws-sdk/client-s3 ${packageVersion(dir)}; ${extras.join(', ')}` };
  },
  async open(ep) {
    if (!mods) throw new Error('sdk-js: detect() first');
    return sdkSession(mods, ep);
  },
};

function sdkSession(m: Modules, ep: Endpoint): Session {
  const { s3 } = m;
  const client = new s3.S3Client({
    endpoint: ep.url,
    region: ep.region,
    forcePathStyle: true,
    credentials: { accessKeyId: ep.accessKey, secretAccessKey: ep.secretKey },
  });
  // The SDK's command classes are generic; one loose signature keeps this file readable.
  const send = async <T = any>(op: Op, command: any, display: string): Promise<T> => {
    op.note(`sdk-js: ${display}`);
    return (await client.send(command, { abortSignal: op.signal })) as T;
  };
  const j = JSON.stringify;
  const toFile = async (op: Op, body: unknown, dest: string) => {
    await mkdir(path.dirname(dest), { recursive: true });
    await pipeline(body as Readable, createWriteStream(dest), { signal: op.signal });
  };
  const listAll = async (op: Op, bucket: string, prefix: string, delimiter?: string) => {
    const keys: string[] = [];
    const prefixes: string[] = [];
    let token: string | undefined;
    do {
      const r = await send(op, new s3.ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: delimiter, ContinuationToken: token }), `ListObjectsV2Command ${j({ Bucket: bucket, Prefix: prefix, Delimiter: delimiter })}`);
      for (const c of r.Contents ?? []) keys.push(c.Key);
      for (const c of r.CommonPrefixes ?? []) prefixes.push(c.Prefix);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return { keys, prefixes };
  };
  return {
    na: m.presigner ? undefined : { presign: '@aws-sdk/s3-request-presigner is not installed' },
    async createBucket(op, bucket) {
      const conf = ep.region === 'us-east-1' ? undefined : { LocationConstraint: ep.region as any };
      await send(op, new s3.CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: conf }), `CreateBucketCommand ${j({ Bucket: bucket })}`);
    },
    async listBuckets(op) {
      const names: string[] = [];
      let token: string | undefined;
      do {
        const r = await send(op, new s3.ListBucketsCommand({ ContinuationToken: token }), 'ListBucketsCommand {}');
        for (const b of r.Buckets ?? []) names.push(b.Name);
        token = r.ContinuationToken;
      } while (token);
      return names;
    },
    async putObject(op, bucket, key, file, o) {
      await send(op, new s3.PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(file), ContentType: o.contentType, Metadata: o.metadata }), `PutObjectCommand ${j({ Bucket: bucket, Key: key, ContentType: o.contentType, Metadata: o.metadata })}`);
    },
    async headObject(op, bucket, key) {
      const h = await send(op, new s3.HeadObjectCommand({ Bucket: bucket, Key: key }), `HeadObjectCommand ${j({ Bucket: bucket, Key: key })}`);
      const metadata: Record<string, string> = {};
      for (const [k, v] of Object.entries((h.Metadata ?? {}) as Record<string, string>)) metadata[k.toLowerCase()] = v;
      return { size: h.ContentLength, contentType: h.ContentType, etag: h.ETag?.replace(/"/g, ''), metadata };
    },
    async getObject(op, bucket, key, dest) {
      const r = await send(op, new s3.GetObjectCommand({ Bucket: bucket, Key: key }), `GetObjectCommand ${j({ Bucket: bucket, Key: key })}`);
      await toFile(op, r.Body, dest);
    },
    async uploadFile(op, bucket, key, file) {
      if (!m.storage) {
        await send(op, new s3.PutObjectCommand({ Bucket: bucket, Key: key, Body: createReadStream(file) }), `PutObjectCommand ${j({ Bucket: bucket, Key: key })} (stream)`);
        return;
      }
      op.note(`sdk-js: new Upload({ client, params: ${j({ Bucket: bucket, Key: key })}, Body: createReadStream(file) }).done()`);
      const up = new m.storage.Upload({ client, params: { Bucket: bucket, Key: key, Body: createReadStream(file) } });
      const stop = () => void up.abort().catch(() => undefined);
      op.signal.addEventListener('abort', stop, { once: true });
      try {
        await up.done();
      } finally {
        op.signal.removeEventListener('abort', stop);
      }
    },
    async downloadFile(op, bucket, key, dest) {
      const r = await send(op, new s3.GetObjectCommand({ Bucket: bucket, Key: key }), `GetObjectCommand ${j({ Bucket: bucket, Key: key })} (stream to file)`);
      await toFile(op, r.Body, dest);
    },
    async getRange(op, bucket, key, start, end, dest) {
      const r = await send(op, new s3.GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end}` }), `GetObjectCommand ${j({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end}` })}`);
      await toFile(op, r.Body, dest);
    },
    async list(op, bucket, prefix, delimiter) {
      return listAll(op, bucket, prefix, delimiter);
    },
    async copy(op, bucket, srcKey, dstKey) {
      const source = `${bucket}/${encodeURIComponent(srcKey).replace(/%2F/g, '/')}`;
      await send(op, new s3.CopyObjectCommand({ Bucket: bucket, Key: dstKey, CopySource: source }), `CopyObjectCommand ${j({ Bucket: bucket, Key: dstKey, CopySource: source })}`);
    },
    async uploadDir(op, bucket, prefix, dir) {
      for (const rel of await walkFiles(dir)) {
        await send(op, new s3.PutObjectCommand({ Bucket: bucket, Key: prefix + rel, Body: await readFile(path.join(dir, rel)) }), `PutObjectCommand ${j({ Bucket: bucket, Key: prefix + rel })}`);
      }
    },
    async downloadDir(op, bucket, prefix, dir) {
      for (const key of (await listAll(op, bucket, prefix)).keys) {
        const r = await send(op, new s3.GetObjectCommand({ Bucket: bucket, Key: key }), `GetObjectCommand ${j({ Bucket: bucket, Key: key })}`);
        await toFile(op, r.Body, path.join(dir, ...key.slice(prefix.length).split('/')));
      }
    },
    presign: m.presigner
      ? async (op, bucket, key, seconds) => {
          op.note(`sdk-js: getSignedUrl(client, new GetObjectCommand(${j({ Bucket: bucket, Key: key })}), { expiresIn: ${seconds} })`);
          return m.presigner!.getSignedUrl(client, new s3.GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: seconds });
        }
      : undefined,
    async deleteObject(op, bucket, key) {
      await send(op, new s3.DeleteObjectCommand({ Bucket: bucket, Key: key }), `DeleteObjectCommand ${j({ Bucket: bucket, Key: key })}`);
    },
    async deleteBucket(op, bucket) {
      const { keys } = await listAll(op, bucket, '');
      for (let i = 0; i < keys.length; i += 1000) {
        const batch = keys.slice(i, i + 1000);
        const r = await send(op, new s3.DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })) } }), `DeleteObjectsCommand ${j({ Bucket: bucket, Objects: batch.length })}`);
        if (r.Errors?.length) throw new Error(`DeleteObjects: ${r.Errors.length} errors, first: ${j(r.Errors[0])}`);
      }
      await send(op, new s3.DeleteBucketCommand({ Bucket: bucket }), `DeleteBucketCommand ${j({ Bucket: bucket })}`);
    },
    async close() {
      client.destroy();
    },
  };
}
