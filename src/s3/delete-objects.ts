// DeleteObjects: up to 1000 keys in one request, per-key results, Quiet mode.

import { createHash } from 'node:crypto';
import { S3Error, isS3Error } from '../errors.js';
import { type S3Ctx, type S3Deps, bucketOf, readSmallBody, sendXml } from './context.js';
import { header } from './headers.js';
import { declaredChecksum } from './object-input.js';
import { createChecksummer } from '../util/checksums.js';
import { MAX_XML_BODY, deleteResultXml, parseDelete, type DeleteErrorEntry, type DeletedEntry } from './xml.js';

export async function deleteObjects(deps: S3Deps, ctx: S3Ctx): Promise<void> {
  const bucket = bucketOf(ctx);
  await deps.store.getBucket(bucket);
  const md5 = header(ctx, 'content-md5');
  const sum = declaredChecksum(ctx);
  if (md5 === undefined && sum.algorithm === undefined) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5');
  }
  const body = await readSmallBody(deps, ctx, MAX_XML_BODY);
  if (md5 !== undefined && createHash('md5').update(body).digest('base64') !== md5.trim()) throw new S3Error('BadDigest');
  if (sum.algorithm && sum.value !== undefined) {
    const c = createChecksummer(sum.algorithm);
    c.update(body);
    if (c.digest().toString('base64') !== sum.value) throw new S3Error('BadDigest', `The ${sum.algorithm} you specified did not match the calculated checksum.`);
  }
  const req = await parseDelete(body);
  const deleted: DeletedEntry[] = [];
  const errors: DeleteErrorEntry[] = [];
  // A few at a time: parallel enough to be quick, bounded so 1000 keys don't flood the disks.
  const queue = [...req.objects];
  const worker = async () => {
    for (let o = queue.shift(); o; o = queue.shift()) {
      try {
        // Each key is its own DeleteObject as far as policies go: refused ones are listed as errors.
        await deps.authorize(ctx, o.versionId !== undefined ? 's3:DeleteObjectVersion' : 's3:DeleteObject', bucket, o.key, o.versionId);
        const r = await deps.store.deleteObject(bucket, o.key, { versionId: o.versionId });
        const d: DeletedEntry = { key: o.key };
        if (o.versionId !== undefined) d.versionId = o.versionId;
        if (r.deleteMarker) {
          d.deleteMarker = true;
          d.deleteMarkerVersionId = r.versionId;
        }
        deleted.push(d);
      } catch (e) {
        if (!isS3Error(e) || e.status >= 500) deps.log('error', 'delete failed', { bucket, key: o.key, error: String(e) });
        errors.push({ key: o.key, versionId: o.versionId, code: isS3Error(e) ? e.code : 'InternalError', message: isS3Error(e) ? e.message : 'We encountered an internal error. Please try again.' });
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const order = new Map(req.objects.map((o, i) => [`${o.key}\0${o.versionId ?? ''}`, i]));
  const pos = (k: string, v?: string) => order.get(`${k}\0${v ?? ''}`) ?? 0;
  deleted.sort((a, b) => pos(a.key, a.versionId) - pos(b.key, b.versionId));
  errors.sort((a, b) => pos(a.key, a.versionId) - pos(b.key, b.versionId));
  sendXml(ctx, deleteResultXml(deleted, errors, req.quiet));
}
