// Helpers shared by the MetaStore contract tests.

import type {
  ListCurrentOptions, ListVersionsOptions, MetaOp, MetaStore, MultipartUpload, ObjectVersion, UploadPart,
} from '../../src/meta/types.js';

export type MakeStore = () => Promise<{ store: MetaStore; cleanup: () => Promise<void> }>;

/** Runs `fn` against a fresh, open store and always cleans up. */
export async function withStore(make: MakeStore, fn: (store: MetaStore) => Promise<void>): Promise<void> {
  const { store, cleanup } = await make();
  try {
    await fn(store);
  } finally {
    await cleanup();
  }
}

/** Sort key for the n-th version of a key: larger n = newer = smaller sort key. */
export function sortKey(n: number): string {
  return String(1e9 - n).padStart(10, '0');
}

export function version(bucket: string, key: string, n: number, over: Partial<ObjectVersion> = {}): ObjectVersion {
  return {
    bucket,
    key,
    versionId: `v${n}`,
    sortKey: sortKey(n),
    isDeleteMarker: false,
    lastModified: 1_700_000_000_000 + n,
    size: 3,
    etag: 'acbd18db4cc2f85cedef654fccc4a4d8',
    headers: { 'content-type': 'text/plain' },
    userMeta: { n: String(n) },
    data: { kind: 'inline', dataId: `data-${n}`, size: 3, crc32c: 12345 },
    ...over,
  };
}

/** The ops that make version n of bucket/key exist and be current. */
export function putObjectOps(bucket: string, key: string, n = 1): MetaOp[] {
  const v = version(bucket, key, n);
  return [{ type: 'putVersion', version: v }, { type: 'setCurrent', bucket, key, version: v }];
}

/** Creates the objects (version 1, current) in one batch. */
export async function putObjects(store: MetaStore, bucket: string, keys: string[]): Promise<void> {
  await store.batch(keys.flatMap((k) => putObjectOps(bucket, k)));
}

export function upload(bucket: string, key: string, uploadId: string, initiated = 1_700_000_000_000): MultipartUpload {
  return { bucket, key, uploadId, initiated, headers: {}, userMeta: {} };
}

export function part(uploadId: string, partNumber: number): UploadPart {
  return {
    uploadId,
    partNumber,
    lastModified: 1_700_000_000_000,
    size: 5 * 1024 * 1024,
    etag: `etag${partNumber}`,
    data: {
      kind: 'shards', dataId: `${uploadId}-p${partNumber}`, size: 5 * 1024 * 1024,
      k: 2, m: 2, blockSize: 1 << 20, distribution: [0, 1, 2, 3],
    },
  };
}

/** Strings in UTF-8 byte order, the order S3 (and the store) lists keys in. */
export function byteSorted(strings: string[]): string[] {
  return [...strings].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** Pages through listCurrent with lastReturned as the marker; returns every page's result. */
export async function pageCurrent(store: MetaStore, bucket: string, opts: Omit<ListCurrentOptions, 'startAfter'>) {
  const pages = [];
  let startAfter: string | undefined;
  for (;;) {
    const page = await store.listCurrent(bucket, { ...opts, ...(startAfter === undefined ? {} : { startAfter }) });
    pages.push(page);
    if (!page.isTruncated) return pages;
    if (page.lastReturned === undefined) throw new Error('truncated page without lastReturned');
    startAfter = page.lastReturned;
    if (pages.length > 10_000) throw new Error('paging does not end');
  }
}

/** Pages through listVersions with the next markers; returns every page's result. */
export async function pageVersions(store: MetaStore, bucket: string, opts: Omit<ListVersionsOptions, 'keyMarker' | 'versionIdMarker'>) {
  const pages = [];
  let markers: Pick<ListVersionsOptions, 'keyMarker' | 'versionIdMarker'> = {};
  for (;;) {
    const page = await store.listVersions(bucket, { ...opts, ...markers });
    pages.push(page);
    if (!page.isTruncated) return pages;
    if (page.nextKeyMarker === undefined) throw new Error('truncated page without nextKeyMarker');
    markers = { keyMarker: page.nextKeyMarker };
    if (page.nextVersionIdMarker !== undefined) markers.versionIdMarker = page.nextVersionIdMarker;
    if (pages.length > 10_000) throw new Error('paging does not end');
  }
}
