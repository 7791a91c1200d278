// Multipart uploads in the object layer. Each part is erasure-coded (or kept inline) as it
// arrives, exactly like a small object; Complete writes no data, it commits one version whose
// layout lists the parts' data where UploadPart put it. Parts not named in Complete, and all
// parts of an aborted upload, go to the garbage queue in the same batch.

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { S3Error } from '../errors.js';
import type { ChecksumAlgorithm, MetaOp, MultipartUpload, ObjectVersion, PartLayout, StoredChecksum, UploadPart } from '../meta/types.js';
import { createChecksummer } from '../util/checksums.js';
import { canCombine, combineCrc } from '../util/crc-combine.js';
import type { Conditions, ObjectStore, PutObjectOptions } from './store.js';
import type { SseRequest } from './sse.js';

export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** S3's largest object, 5 TiB: what 10,000 parts of up to 5 GiB may assemble into at most. */
export const MAX_OBJECT_SIZE_TOTAL = 5 * 1024 ** 4;
export const MAX_PARTS = 10_000;

/** What CreateMultipartUpload records for the object-to-be. */
export type CreateUploadOptions = Pick<MultipartUpload, 'headers' | 'userMeta' | 'checksumAlgorithm' | 'checksumType' | 'tags' | 'storageClass' | 'acl'> & {
  /** Encrypt every part: a data key is made now and kept (wrapped) with the upload. */
  encryption?: SseRequest;
};

export interface CompletePartRequest {
  partNumber: number;
  etag: string;
  checksums?: Partial<Record<ChecksumAlgorithm, string>>;
}

export class Multipart {
  constructor(private readonly store: ObjectStore) {}

  async create(bucket: string, key: string, o: CreateUploadOptions): Promise<MultipartUpload> {
    await this.store.getBucket(bucket);
    const upload: MultipartUpload = {
      bucket,
      key,
      uploadId: this.store.ids.uploadId(),
      initiated: this.store.now(),
      headers: o.headers,
      userMeta: o.userMeta,
    };
    if (o.checksumAlgorithm) {
      upload.checksumAlgorithm = o.checksumAlgorithm;
      upload.checksumType = o.checksumType ?? (o.checksumAlgorithm === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE');
    }
    if (o.tags) upload.tags = o.tags;
    if (o.storageClass) upload.storageClass = o.storageClass;
    if (o.acl && o.acl !== 'private') upload.acl = o.acl;
    if (o.encryption) upload.sse = this.store.sse.seal(o.encryption).info;
    // Through the bucket gate (bucket-gate.ts): an upload is never left behind in a deleted
    // bucket (it would show up again in a new bucket of the same name).
    await this.store.bucketGate.around(bucket, async () => {
      await this.store.getBucket(bucket);
      await this.store.meta.batch([{ type: 'putUpload', upload }]);
    });
    return upload;
  }

  async get(bucket: string, key: string, uploadId: string): Promise<MultipartUpload> {
    await this.store.getBucket(bucket);
    const u = await this.store.meta.getUpload(bucket, key, uploadId);
    if (!u) throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
    return u;
  }

  /** Streams one part in; re-uploading a part number replaces the earlier part. */
  async uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Readable, o: PutObjectOptions): Promise<UploadPart> {
    const upload = await this.get(bucket, key, uploadId);
    // Parts in progress are not counted as usage; a part that alone would not fit is refused.
    const b = await this.store.getBucket(bucket);
    const room = await this.store.checkQuota(b, undefined, o.expectedSize ?? 0);
    if (o.expectedSize === undefined) body = this.store.limitToQuota(body, room, b);
    // The upload's algorithm applies to every part, whether or not the client names it.
    const algorithm = o.checksumAlgorithm ?? upload.checksumAlgorithm;
    // Each part is sealed with the upload's data key (under a key of its own, see sse-format.ts).
    const dataKey = this.store.sse.dataKeyForPart(upload.sse, o.encryption);
    const sealWith = dataKey ? { dataKey, cipherEtag: upload.sse!.mode === 'C' } : undefined;
    const got = await this.store.receive(bucket, key, body, { ...o, checksumAlgorithm: algorithm, sealWith }, { uploadId, partNumber });
    const part: UploadPart = {
      uploadId,
      partNumber,
      size: got.size,
      etag: got.md5.toString('hex'),
      lastModified: this.store.now(),
      data: got.layout,
    };
    if (algorithm && got.checksums[algorithm]) {
      part.checksum = got.checksums[algorithm]!.toString('base64');
      part.checksumAlgorithm = algorithm;
    }
    try {
      await this.store.locks.run(`upload\0${uploadId}`, async () => {
        if (!(await this.store.meta.getUpload(bucket, key, uploadId))) throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
        const ops: MetaOp[] = [];
        if (got.inline) ops.push({ type: 'putInline', dataId: got.layout.dataId, data: got.inline });
        const old = await this.store.meta.getPart(uploadId, partNumber);
        if (old) ops.push(this.garbage([old]));
        ops.push({ type: 'putPart', part });
        await this.store.meta.batch(ops);
      });
      await got.writer?.publish();
    } catch (e) {
      await got.writer?.abort();
      throw e;
    }
    this.store.garbage.kick();
    return part;
  }

  private garbage(parts: PartLayout[]): MetaOp {
    return {
      type: 'putGarbage',
      entry: { id: this.store.ids.versionSortKey() + this.store.ids.dataId().slice(0, 8), enqueued: this.store.now(), layouts: parts.map((p) => p.data) },
    };
  }

  private async allParts(uploadId: string): Promise<UploadPart[]> {
    const out: UploadPart[] = [];
    let marker = 0;
    for (;;) {
      const page = await this.store.meta.listParts(uploadId, marker, 1000);
      out.push(...page);
      if (page.length < 1000) return out;
      marker = page[page.length - 1].partNumber;
    }
  }

  /**
   * `declared` is the whole-object checksum a client may send with Complete
   * (x-amz-checksum-<alg>); it must match what the parts add up to.
   */
  async complete(bucket: string, key: string, uploadId: string, requested: CompletePartRequest[], c: Conditions = {}, declared?: { algorithm: ChecksumAlgorithm; value: string }): Promise<ObjectVersion> {
    await this.store.getBucket(bucket);
    // Counted in at the bucket gate before the upload's lock is taken: DeleteBucket waits for
    // this Complete and then aborts uploads under their locks (the other order could deadlock).
    return this.store.bucketGate.around(bucket, () => this.store.locks.run(`upload\0${uploadId}`, async () => {
      const upload = await this.store.meta.getUpload(bucket, key, uploadId);
      if (!upload) {
        // A retried Complete whose first attempt succeeded gets the same answer again.
        const cur = await this.store.meta.getCurrent(bucket, key);
        if (cur?.uploadId === uploadId) return cur;
        throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
      }
      const stored = await this.allParts(uploadId);
      const byNumber = new Map(stored.map((p) => [p.partNumber, p]));
      const chosen: UploadPart[] = [];
      let prev = 0;
      for (const r of requested) {
        if (r.partNumber < 1 || r.partNumber > MAX_PARTS) throw invalidPart(r.partNumber);
        if (r.partNumber <= prev) throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order. Parts must be ordered by part number.', { UploadId: uploadId });
        prev = r.partNumber;
        const p = byNumber.get(r.partNumber);
        if (!p || p.etag !== r.etag.replace(/^"|"$/g, '')) throw invalidPart(r.partNumber);
        for (const [alg, value] of Object.entries(r.checksums ?? {})) {
          if (p.checksumAlgorithm === alg && p.checksum !== value) throw invalidPart(r.partNumber);
        }
        chosen.push(p);
      }
      for (let i = 0; i < chosen.length - 1; i++) {
        if (chosen[i].size < MIN_PART_SIZE) {
          throw new S3Error('EntityTooSmall', undefined, { ProposedSize: String(chosen[i].size), MinSizeAllowed: String(MIN_PART_SIZE), PartNumber: String(chosen[i].partNumber), ETag: chosen[i].etag });
        }
      }
      const checksum = objectChecksum(upload, chosen);
      if (declared && checksum && declared.algorithm === checksum.algorithm && declared.value !== checksum.value) {
        throw new S3Error('BadDigest', `The ${declared.algorithm} you specified did not match the calculated checksum.`);
      }
      const md5s = Buffer.concat(chosen.map((p) => Buffer.from(p.etag, 'hex')));
      const etag = `${createHash('md5').update(md5s).digest('hex')}-${chosen.length}`;
      const size = chosen.reduce((a, p) => a + p.size, 0);
      // The object's bytes count from here on; the parts stay, so the upload can be aborted.
      await this.store.checkQuota(await this.store.getBucket(bucket), key, size);
      if (size > MAX_OBJECT_SIZE_TOTAL) {
        throw new S3Error('EntityTooLarge', undefined, { ProposedSize: String(size), MaxSizeAllowed: String(MAX_OBJECT_SIZE_TOTAL) });
      }
      const used = new Set(chosen.map((p) => p.partNumber));
      const unused = stored.filter((p) => !used.has(p.partNumber));
      const ops: MetaOp[] = [
        ...stored.map((p): MetaOp => ({ type: 'delPart', uploadId, partNumber: p.partNumber })),
        { type: 'delUpload', bucket, key, uploadId },
      ];
      if (unused.length) ops.push(this.garbage(unused));
      const v = await this.store.commitVersion(
        bucket,
        key,
        {
          size,
          etag,
          headers: upload.headers,
          userMeta: upload.userMeta,
          checksum,
          tags: upload.tags,
          storageClass: upload.storageClass,
          acl: upload.acl,
          sse: upload.sse,
          uploadId,
          data: {
            kind: 'parts',
            size,
            parts: chosen.map((p) => {
              const layout: PartLayout = { partNumber: p.partNumber, size: p.size, etag: p.etag, data: p.data };
              if (p.checksum) {
                layout.checksum = p.checksum;
                layout.checksumAlgorithm = p.checksumAlgorithm;
              }
              return layout;
            }),
          },
        },
        ops,
        c,
        { gated: true },
      );
      return v;
    }));
  }

  async abort(bucket: string, key: string, uploadId: string): Promise<void> {
    await this.store.getBucket(bucket);
    await this.store.locks.run(`upload\0${uploadId}`, async () => {
      const upload = await this.store.meta.getUpload(bucket, key, uploadId);
      if (!upload) throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
      const parts = await this.allParts(uploadId);
      const ops: MetaOp[] = [...parts.map((p): MetaOp => ({ type: 'delPart', uploadId, partNumber: p.partNumber })), { type: 'delUpload', bucket, key, uploadId }];
      if (parts.length) ops.push(this.garbage(parts));
      await this.store.meta.batch(ops);
    });
    this.store.garbage.kick();
  }

  /** Aborts uploads older than maxAgeMs (any bucket). Returns how many. */
  async expire(maxAgeMs: number): Promise<number> {
    let n = 0;
    for (;;) {
      const old = await this.store.meta.listUploadsOlderThan(this.store.now() - maxAgeMs, 100);
      if (old.length === 0) return n;
      for (const u of old) {
        try {
          await this.abort(u.bucket, u.key, u.uploadId);
          n++;
        } catch (e) {
          if (!(e instanceof S3Error)) throw e;
        }
      }
    }
  }
}

function invalidPart(n: number): S3Error {
  return new S3Error('InvalidPart', 'One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.', { PartNumber: String(n) });
}

/**
 * The whole object's checksum when the upload chose an algorithm, as S3 computes it:
 * COMPOSITE is the checksum of the parts' checksums followed by "-N"; FULL_OBJECT (CRCs only)
 * is the CRC of all the bytes, combined from the parts' CRCs without reading the data again.
 */
function objectChecksum(upload: MultipartUpload, parts: UploadPart[]): StoredChecksum | undefined {
  const alg = upload.checksumAlgorithm;
  if (!alg) return undefined;
  if (!parts.every((p) => p.checksumAlgorithm === alg && p.checksum)) return undefined;
  if (upload.checksumType === 'FULL_OBJECT') {
    if (!canCombine(alg)) return undefined;
    let acc: Buffer = Buffer.from(parts[0].checksum!, 'base64');
    for (const p of parts.slice(1)) acc = combineCrc(alg, acc, Buffer.from(p.checksum!, 'base64'), p.size);
    return { algorithm: alg, value: acc.toString('base64'), type: 'FULL_OBJECT' };
  }
  const c = createChecksummer(alg);
  for (const p of parts) c.update(Buffer.from(p.checksum!, 'base64'));
  return { algorithm: alg, value: `${c.digest().toString('base64')}-${parts.length}`, type: 'COMPOSITE' };
}
