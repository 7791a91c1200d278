// Records kept in the metadata store, and the store's interface. The object layer decides
// what to write; the store only keeps records, orders them and applies batches atomically.

export type Versioning = 'Unversioned' | 'Enabled' | 'Suspended';

/** The canned ACLs Tessera honours (x-amz-acl); any other grant is refused, never ignored. */
export type CannedAcl = 'private' | 'public-read' | 'public-read-write' | 'authenticated-read' | 'bucket-owner-read' | 'bucket-owner-full-control';

/** One CORS rule of a bucket (PutBucketCors), as S3's CORSRule. */
export interface CorsRule {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

/** PutPublicAccessBlock's four switches; absent = all false. */
export interface PublicAccessBlock {
  blockPublicAcls: boolean;
  ignorePublicAcls: boolean;
  blockPublicPolicy: boolean;
  restrictPublicBuckets: boolean;
}

export interface BucketRecord {
  name: string;
  created: number; // ms since epoch
  region: string;
  versioning: Versioning;
  tags?: Record<string, string>;
  /** User name of the creator; absent = the root key (and every bucket made before users existed). */
  owner?: string;
  /** The bucket policy document exactly as the client sent it (GetBucketPolicy returns it). */
  policy?: string;
  /** Canned ACL; absent = private. */
  acl?: CannedAcl;
  cors?: CorsRule[];
  publicAccessBlock?: PublicAccessBlock;
  /** Default encryption (PutBucketEncryption): objects written without SSE headers get SSE-S3. */
  encryption?: BucketEncryption;
  /** Most bytes of object data the bucket may hold (every version counts); absent = no limit. */
  quota?: { maxBytes: number };
  /** Lifecycle rules (PutBucketLifecycleConfiguration), in the order the client sent them. */
  lifecycle?: LifecycleRule[];
  /** Event notification rules (PutBucketNotificationConfiguration); absent = none. */
  notification?: NotificationRule[];
}

/**
 * One QueueConfiguration, TopicConfiguration or CloudFunctionConfiguration of a bucket's
 * notification configuration: which events, under which key filter, go to which target.
 */
export interface NotificationRule {
  kind: 'Queue' | 'Topic' | 'CloudFunction';
  id: string;
  /** The ARN as the client sent it (GetBucketNotificationConfiguration returns it). */
  arn: string;
  /** The configured target the ARN names (`arn:tessera:sqs::NAME:webhook` → NAME). */
  target: string;
  /** Event names as sent, with their s3: prefix (s3:ObjectCreated:*, s3:ObjectRemoved:Delete …). */
  events: string[];
  prefix?: string;
  suffix?: string;
}

/**
 * A lifecycle rule's filter as the client wrote it, so GetBucketLifecycleConfiguration answers
 * in the same form: the legacy top-level <Prefix>, or a <Filter> holding one of Prefix, Tag,
 * ObjectSizeGreaterThan, ObjectSizeLessThan, or And (several of them), or nothing.
 */
export interface LifecycleFilter {
  form: 'legacy' | 'filter' | 'and';
  prefix?: string;
  tags?: Array<{ key: string; value: string }>;
  sizeGreaterThan?: number;
  sizeLessThan?: number;
}

export interface LifecycleRule {
  id: string;
  enabled: boolean;
  filter: LifecycleFilter;
  /** Current versions: after `days` days, or from `date` (ms, midnight UTC); or only expired delete markers. */
  expiration?: { days?: number; date?: number; expiredObjectDeleteMarker?: boolean };
  noncurrentExpiration?: { noncurrentDays: number; newerNoncurrentVersions?: number };
  abortIncompleteDays?: number;
}

/**
 * What a bucket holds: object data bytes and versions (delete markers aside), every version
 * counted. Kept in the same batch as each change, so it is never recounted by a scan.
 */
export interface BucketUsage {
  bytes: number;
  versions: number;
}

export interface BucketEncryption {
  algorithm: 'AES256';
  bucketKeyEnabled?: boolean;
}

/** Bucket settings that change as a whole and alone (see ObjectStore.updateBucket). */
export type BucketSettings = Pick<BucketRecord, 'policy' | 'acl' | 'cors' | 'publicAccessBlock' | 'encryption' | 'quota' | 'notification' | 'lifecycle'>;

/**
 * How a version's (or an upload's) data is encrypted (object/sse.ts). Its data key is kept
 * only wrapped: under the server's master key (S3) or the customer's key (C). For SSE-C a
 * salted HMAC of the customer key tells a wrong key apart; the key itself is never stored.
 * Sizes in the version and its parts are plaintext sizes; the layouts' are stored sizes.
 */
export interface SseInfo {
  mode: 'S3' | 'C';
  /** Format version of the stored chunks (object/sse-format.ts). */
  format: 1;
  /** The data key, wrapped (base64 of nonce ‖ ciphertext ‖ tag). */
  wrappedKey: string;
  /** SSE-S3: an id of the master key that wrapped it (a key change is then named, not a garbled read). */
  masterKeyId?: string;
  /** SSE-C: base64 of salt ‖ HMAC-SHA256(salt, customer key). */
  keyCheck?: string;
}

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';

export interface StoredChecksum {
  algorithm: ChecksumAlgorithm;
  value: string; // base64, as S3 returns it
  type: 'FULL_OBJECT' | 'COMPOSITE';
}

/** Erasure-coded data on the disks: one shard file per disk, named by dataId. */
export interface ShardLayout {
  kind: 'shards';
  dataId: string;       // generated id; shard files are named by it, never by the key
  size: number;         // bytes of object data
  k: number;
  m: number;
  blockSize: number;    // bytes of data per shard per stripe (a stripe holds k × blockSize)
  /** distribution[i] = index of the disk that holds shard i (0..k+m-1). */
  distribution: number[];
}

/** Small objects live in the metadata store, in a separate record keyed by dataId. */
export interface InlineLayout {
  kind: 'inline';
  dataId: string;
  size: number;
  crc32c: number;
}

export interface PartLayout {
  partNumber: number;
  size: number;
  etag: string; // hex md5 of the part, no quotes
  checksum?: string; // base64 of the part's checksum, when the client sent or asked for one
  checksumAlgorithm?: ChecksumAlgorithm;
  data: ShardLayout | InlineLayout;
}

/** A multipart object: the parts' data stays where UploadPart wrote it. */
export interface MultipartLayout {
  kind: 'parts';
  size: number;
  parts: PartLayout[];
}

export type DataLayout = ShardLayout | InlineLayout | MultipartLayout;

export interface ObjectVersion {
  bucket: string;
  key: string;
  versionId: string;   // 'null' for the null version
  sortKey: string;     // orders versions of one key newest-first (byte order ascending)
  isDeleteMarker: boolean;
  lastModified: number; // ms since epoch
  size: number;
  etag: string;        // hex md5, or "<hex>-N" for multipart; no quotes
  /** Content-Type, Content-Encoding, Content-Disposition, Content-Language, Cache-Control, Expires (lower-case names). */
  headers: Record<string, string>;
  /** x-amz-meta-* without the prefix, lower-case names. */
  userMeta: Record<string, string>;
  checksum?: StoredChecksum;
  tags?: Record<string, string>;
  storageClass?: string;
  /** Canned ACL of the version; absent = private. */
  acl?: CannedAcl;
  /**
   * When a noncurrent version became noncurrent (ms), kept only once its successor is gone (a
   * delete by version id, a suspended bucket's null version replaced); otherwise that time is
   * the successor's lastModified. Lifecycle's NoncurrentDays count from it.
   */
  noncurrentSince?: number;
  /** Set on objects made by CompleteMultipartUpload, so a retried Complete finds its result. */
  uploadId?: string;
  /** Server-side encryption of the data; absent = stored in clear. */
  sse?: SseInfo;
  data?: DataLayout;   // absent for delete markers
}

export interface MultipartUpload {
  bucket: string;
  key: string;
  uploadId: string;
  initiated: number;
  headers: Record<string, string>;
  userMeta: Record<string, string>;
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: 'FULL_OBJECT' | 'COMPOSITE';
  tags?: Record<string, string>;
  storageClass?: string;
  acl?: CannedAcl;
  /** Every part is encrypted with this upload's data key (each under a key of its own derived from it). */
  sse?: SseInfo;
}

export interface UploadPart extends PartLayout {
  uploadId: string;
  lastModified: number;
}

/** Something to remove from the disks (or inline store) later; see the commit protocol. */
export interface GarbageEntry {
  id: string;
  enqueued: number;
  layouts: DataLayout[];
}

export type IamKind = 'user' | 'key' | 'policy';

export type MetaOp =
  | { type: 'putBucket'; bucket: BucketRecord }
  | { type: 'delBucket'; name: string }
  /** Writes a version record. A version with versionId 'null' replaces the key's previous null version record (the caller queues its data). */
  | { type: 'putVersion'; version: ObjectVersion }
  | { type: 'delVersion'; bucket: string; key: string; versionId: string }
  /** Sets (or clears, with null) the record listed by ListObjects for the key. */
  | { type: 'setCurrent'; bucket: string; key: string; version: ObjectVersion | null }
  | { type: 'putInline'; dataId: string; data: Buffer }
  | { type: 'delInline'; dataId: string }
  | { type: 'putUpload'; upload: MultipartUpload }
  | { type: 'delUpload'; bucket: string; key: string; uploadId: string }
  | { type: 'putPart'; part: UploadPart }
  | { type: 'delPart'; uploadId: string; partNumber: number }
  | { type: 'putGarbage'; entry: GarbageEntry }
  /** Identity records (users, access keys, policies): small JSON documents by kind and name. */
  | { type: 'putIam'; kind: IamKind; name: string; record: unknown }
  | { type: 'delIam'; kind: IamKind; name: string }
  /** The progress record of a background worker (the lifecycle pass's cursor); null removes it. */
  | { type: 'putWorkerState'; name: string; state: unknown }
  | { type: 'delGarbage'; id: string }
  /** An event notification waiting for delivery to `target`, in `seq` order (object/events.ts). */
  | { type: 'putEvent'; target: string; seq: number; record: unknown }
  | { type: 'delEvent'; target: string; seq: number };

/** A queued event notification as listEvents returns it. */
export interface QueuedEvent {
  target: string;
  seq: number;
  record: unknown;
}

export interface ListCurrentOptions {
  prefix?: string;
  delimiter?: string;
  /** Exclusive: list keys (and common prefixes) strictly after this. */
  startAfter?: string;
  maxKeys: number; // 0..1000; entries + common prefixes count together, as S3 counts them
}

/**
 * What ListObjects shows of a current version. The store keeps these fields in a small header
 * of the current record, so a listing page never parses the full records it walks.
 */
export interface ListedObject {
  key: string;
  lastModified: number;
  size: number;
  etag: string;
  storageClass?: string;
  checksum?: Pick<StoredChecksum, 'algorithm' | 'type'>;
}

export interface ListCurrentResult {
  objects: ListedObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned (what NextMarker / a continuation token resumes after). */
  lastReturned?: string;
}

export interface ListVersionsOptions {
  prefix?: string;
  delimiter?: string;
  keyMarker?: string;
  /** With keyMarker: resume after this version of keyMarker; without it, after all versions of keyMarker. */
  versionIdMarker?: string;
  maxKeys: number;
}

export interface ListVersionsResult {
  versions: ObjectVersion[]; // includes delete markers, newest first within a key
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextVersionIdMarker?: string;
}

export interface ListUploadsOptions {
  prefix?: string;
  delimiter?: string;
  keyMarker?: string;
  uploadIdMarker?: string;
  maxUploads: number;
}

export interface ListUploadsResult {
  uploads: MultipartUpload[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextUploadIdMarker?: string;
}

export interface MetaStore {
  open(): Promise<void>;
  close(): Promise<void>;
  /** Applies every op or none; durable (synced) when the promise resolves. */
  batch(ops: MetaOp[]): Promise<void>;

  getBucket(name: string): Promise<BucketRecord | undefined>;
  /** Undefined for a bucket made before usage was kept (or no bucket). */
  getUsage(bucket: string): Promise<BucketUsage | undefined>;
  listBuckets(): Promise<BucketRecord[]>; // by name
  /** True if the bucket holds any version or current record (objects, delete markers). */
  bucketHasObjects(bucket: string): Promise<boolean>;

  getCurrent(bucket: string, key: string): Promise<ObjectVersion | undefined>;
  getVersion(bucket: string, key: string, versionId: string): Promise<ObjectVersion | undefined>;
  /** Newest version record of the key (may be a delete marker). */
  getLatestVersion(bucket: string, key: string): Promise<ObjectVersion | undefined>;
  /**
   * Versions of a bucket in key order (newest first within a key), strictly after a position:
   * after one version's place (`sortKey`) or after every version of `key`. The position need
   * not exist any more, so a walk that deletes what it passed resumes where it was.
   */
  scanVersions(bucket: string, after: { key: string; sortKey?: string } | undefined, limit: number): Promise<ObjectVersion[]>;
  /** A background worker's progress record (see putWorkerState). */
  getWorkerState(name: string): Promise<unknown>;
  /** Every version of one key, newest first (bounded by the caller's limit). */
  listKeyVersions(bucket: string, key: string, limit: number): Promise<ObjectVersion[]>;
  getInline(dataId: string): Promise<Buffer | undefined>;

  listCurrent(bucket: string, opts: ListCurrentOptions): Promise<ListCurrentResult>;
  listVersions(bucket: string, opts: ListVersionsOptions): Promise<ListVersionsResult>;

  getUpload(bucket: string, key: string, uploadId: string): Promise<MultipartUpload | undefined>;
  listUploads(bucket: string, opts: ListUploadsOptions): Promise<ListUploadsResult>;
  /** Uploads initiated before the given time, any bucket (for expiry). */
  listUploadsOlderThan(before: number, limit: number): Promise<MultipartUpload[]>;
  getPart(uploadId: string, partNumber: number): Promise<UploadPart | undefined>;
  /** Parts in ascending part number, strictly after partNumberMarker. */
  listParts(uploadId: string, partNumberMarker: number, maxParts: number): Promise<UploadPart[]>;

  listGarbage(limit: number): Promise<GarbageEntry[]>;
  /** Queued events of one target with seq > afterSeq, in seq order, at most `limit`. */
  listEvents(target: string, afterSeq: number, limit: number): Promise<QueuedEvent[]>;
  /** The highest seq queued for any target (0: none), so new events number after it. */
  lastEventSeq(): Promise<number>;
  /** Every target that has queued events (one seek per target). */
  eventTargets(): Promise<string[]>;
  /** Every identity record of one kind, by name. */
  listIam(kind: IamKind): Promise<Array<{ name: string; record: unknown }>>;
}
