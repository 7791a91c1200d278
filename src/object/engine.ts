// Opens a whole storage engine: the disk set, the metadata store, crash recovery, and the
// background upkeep. This is what the server (and tests, and tools) start from.

import { openDiskSet } from '../disk/disk-set.js';
import { MemoryBudget } from '../erasure/memory-budget.js';
import { SpaceGuard, type DiskReserve } from '../disk/space.js';
import { writeQuorum } from '../erasure/quorum.js';
import { metaWriteQuorum } from '../meta/journal/quorum-journal.js';
import type { MetaIndex } from './meta-index.js';
import { openMetaIndex } from './meta-open.js';
import { LifecycleWorker, type LifecycleOptions } from './lifecycle-worker.js';
import { recoverTemporaryFiles, type RecoveryReport } from './recovery.js';
import { Upkeep } from './scanner.js';
import { ObjectStore } from './store.js';
import { SseKeyring } from './sse.js';

export interface EngineOptions {
  disks: string[];
  metaDir: string;
  parity: number;
  blockSize?: number;
  inlineThreshold?: number;
  scannerBytesPerSecond?: number;
  /** When the scanner's first pass starts, and the pause between passes (tests shorten them). */
  scannerStartDelayMs?: number;
  scannerPassIntervalMs?: number;
  diskCheckIntervalMs?: number;
  multipartExpirySeconds?: number;
  /** Journal bytes after which a metadata checkpoint is written (default 64 MiB, or the last checkpoint's size). */
  metaCheckpointBytes?: number;
  /** Rebuild the metadata index from the disks even if it looks fine. */
  rebuildMeta?: boolean;
  /** Bytes of stripe buffers all requests in flight may hold (limits.memory_budget); default: no limit. */
  memoryBudget?: number;
  log?: (msg: string) => void;
  now?: () => number;
  /** The SSE-S3 master key (32 bytes); without it SSE-S3 requests are refused. */
  masterKey?: Buffer;
  /**
   * Free space every disk's (and the metadata directory's) filesystem keeps: object writes that
   * would go below it are refused. Absent or zero: no check (a full disk then fails the write
   * that hits ENOSPC, cleanly).
   */
  diskReserve?: DiskReserve;
  /** How long a free-space reading is trusted (ms; default 1000). */
  spaceCacheMs?: number;
  /** The lifecycle worker's clock and pace (lifecycle.day_seconds, lifecycle.objects_per_second). */
  lifecycle?: LifecycleOptions;
}

export interface DiskUsage {
  index: number;
  root: string;
  online: boolean;
  totalBytes?: number;
  freeBytes?: number;
  usedBytes?: number;
}

export interface Engine {
  store: ObjectStore;
  /** The metadata index with its journal and checkpoints on the disks. */
  metaIndex: MetaIndex;
  /** Per-disk health and space, for metrics and the admin CLI. */
  usage(): Promise<DiskUsage[]>;
  upkeep: Upkeep;
  /** Acts on buckets' lifecycle rules in the background. */
  lifecycle: LifecycleWorker;
  deploymentId: string;
  recovery: RecoveryReport;
  replacedDisks: number[];
  offlineDisks: number[];
  close(): Promise<void>;
}

export const DEFAULT_BLOCK_SIZE = 1024 * 1024;
export const DEFAULT_INLINE_THRESHOLD = 128 * 1024;

export async function openEngine(o: EngineOptions): Promise<Engine> {
  const n = o.disks.length;
  if (n < 1 || n > 16) throw new Error(`between 1 and 16 disks are supported, got ${n}`);
  if (o.parity < 0 || o.parity >= n) throw new Error(`parity ${o.parity} needs at least ${o.parity + 1} disks, got ${n}`);
  const set = await openDiskSet(o.disks);
  const k = n - o.parity;
  const blockSize = o.blockSize ?? DEFAULT_BLOCK_SIZE;
  const metaIndex = await openMetaIndex({
    disks: set.disks,
    k,
    m: o.parity,
    blockSize,
    dir: o.metaDir,
    deploymentId: set.deploymentId,
    quorum: metaWriteQuorum(n, writeQuorum(k, o.parity)),
    checkpointBytes: o.metaCheckpointBytes,
    forceRebuild: o.rebuildMeta,
    replacedDisks: set.replaced,
    newDeployment: set.created,
    log: o.log,
  });
  const meta = metaIndex.meta;
  const reserve = o.diskReserve;
  const space = reserve && ('percent' in reserve ? reserve.percent > 0 : reserve.bytes > 0)
    ? new SpaceGuard([...o.disks, o.metaDir], { reserve, cacheMs: o.spaceCacheMs, log: o.log })
    : undefined;
  const store = new ObjectStore({
    space,
    disks: set.disks,
    meta,
    k,
    m: o.parity,
    blockSize,
    inlineThreshold: o.inlineThreshold ?? DEFAULT_INLINE_THRESHOLD,
    log: o.log,
    now: o.now,
    memory: o.memoryBudget !== undefined ? new MemoryBudget(o.memoryBudget) : undefined,
    sse: new SseKeyring(o.masterKey),
  });
  const recovery = await recoverTemporaryFiles(store);
  metaIndex.startCompaction();
  const upkeep = new Upkeep(store, {
    metaIndex,
    deploymentId: set.deploymentId,
    scannerBytesPerSecond: o.scannerBytesPerSecond ?? 0,
    scannerStartDelayMs: o.scannerStartDelayMs,
    scannerPassIntervalMs: o.scannerPassIntervalMs,
    diskCheckIntervalMs: o.diskCheckIntervalMs,
    multipartExpirySeconds: o.multipartExpirySeconds,
    log: o.log,
  });
  upkeep.start();
  const lifecycle = new LifecycleWorker(store, { log: o.log, ...o.lifecycle });
  store.lifecycleClock = lifecycle.clock;
  lifecycle.start();
  if (set.replaced.length > 0) metaIndex.needsCheckpoint = true;
  if (set.replaced.length > 0) upkeep.healAll(set.replaced).catch((e: Error) => o.log?.(`healing failed: ${e.message}`));
  return {
    store,
    metaIndex,
    upkeep,
    lifecycle,
    deploymentId: set.deploymentId,
    recovery,
    replacedDisks: set.replaced,
    offlineDisks: set.offline,
    async usage() {
      return Promise.all(
        set.disks.map(async (d): Promise<DiskUsage> => {
          const base = { index: d.index, root: d.root, online: d.online };
          if (!d.online) return base;
          try {
            return { ...base, ...(await d.usage()) };
          } catch {
            return { ...base, online: false };
          }
        }),
      );
    },
    async close() {
      await lifecycle.stop();
      await upkeep.stop();
      await store.settle();
      await metaIndex.close();
    },
  };
}
