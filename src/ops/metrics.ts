// Prometheus metrics of one server (prom-client). Each server has its own Registry, so
// several servers in one process (tests, embedded use) never mix or double-register series.
// The process metrics (CPU, memory, event loop, GC) describe the process, not a server: they
// live in one registry per process, created on first use, and every scrape appends them.
// (Each registration starts an event-loop monitor and a GC observer that are never stopped,
// so one per server would pile up in a process that starts many.)
//
// Request metrics are counted as requests finish (ops/routes.ts). Everything else is read at
// scrape time from state the server already keeps: disk flags and statfs, the heal counters,
// the scanner status, the per-bucket usage records (kept incrementally in the same batch as
// every write, so a scrape costs one point read per bucket and never scans objects), and the
// size of the LevelDB directory.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DiskUsage } from '../object/engine.js';
import type { HealStats } from '../object/heal-stats.js';
import type { ScanStatus } from '../object/scanner.js';
import { LIFECYCLE_ACTIONS, type LifecycleStats } from '../object/lifecycle-worker.js';
import type { BucketRecord, BucketUsage } from '../meta/types.js';
import type { NotifyStats } from '../object/events.js';
import { readiness, type HealthSource } from './health.js';

/** What the metrics read at scrape time; built by the server from its engine. */
export interface MetricsSource {
  health: HealthSource;
  diskUsage(): Promise<DiskUsage[]>;
  healStats: HealStats;
  healQueueLength(): number;
  scan: ScanStatus;
  /** Whether the background scanner runs at all (scanner_bytes_per_second > 0). */
  scannerEnabled: boolean;
  listBuckets(): Promise<BucketRecord[]>;
  bucketUsage(bucket: string): Promise<BucketUsage | undefined>;
  /** The LevelDB directory. */
  metaDir: string;
  /** The lifecycle worker's counters. */
  lifecycle?: LifecycleStats;
  /** Event notification counters by target (absent: no series). */
  notify?: NotifyStats;
}

/** Per-bucket series stop here: a scrape of a server with more buckets shows the first ones by name. */
export const MAX_BUCKET_SERIES = 10_000;

export const DISK_STATES = ['ok', 'offline', 'healing'] as const;

/** Latency buckets from 1 ms (a small GET from cache) to 5 min (a multi-GiB upload). */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** The label values of one finished request. */
export interface RequestSample {
  operation: string;
  status: number;
  seconds: number;
  bytesIn: number;
  bytesOut: number;
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'operation' | 'status'>;
  private readonly duration: Histogram<'operation'>;
  private readonly bytesIn: Counter<'operation'>;
  private readonly bytesOut: Counter<'operation'>;
  private readonly inFlight: Gauge;
  private readonly diskTotal: Gauge<'disk' | 'path'>;
  private readonly diskUsed: Gauge<'disk' | 'path'>;
  private readonly diskFree: Gauge<'disk' | 'path'>;
  private readonly diskState: Gauge<'disk' | 'path' | 'state'>;
  private readonly ready: Gauge;
  private readonly disksOnline: Gauge;
  private readonly healCounters: { metric: Counter; read: () => number; last: number }[];
  private readonly healQueue: Gauge;
  private readonly scanRunning: Gauge;
  private readonly scanEnabled: Gauge;
  private readonly scanObjects: Gauge;
  private readonly scanBytes: Gauge;
  private readonly scanPasses: Counter;
  private scanPassesSeen = 0;
  private readonly scanLastEnd: Gauge;
  private readonly bucketObjects: Gauge<'bucket'>;
  private readonly bucketBytes: Gauge<'bucket'>;
  private readonly buckets: Gauge;
  private readonly metaBytes: Gauge;
  private readonly scrapeSeconds: Gauge;
  private readonly lifecycleExamined: Counter;
  private lifecycleExaminedSeen = 0;
  private readonly lifecycleActions: Counter<'action'>;
  private readonly lifecycleActionsSeen: Record<string, number> = {};
  private readonly lifecyclePasses: Counter;
  private lifecyclePassesSeen = 0;
  private readonly lifecycleRunning: Gauge;
  private readonly lifecyclePassSeconds: Gauge;
  private readonly lifecyclePassObjects: Gauge;
  private readonly connectionsOpen: Gauge;
  private readonly connectionsRefused: Counter;
  private connectionsRefusedSeen = 0;
  /** The listeners' connection counts, once the server listens (attachConnections). */
  private connections: { open: number; refusedTotal: number } | undefined;

  constructor(private readonly src: MetricsSource) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'tessera_http_requests_total', help: 'S3 and admin requests answered, by S3 operation and HTTP status', labelNames: ['operation', 'status'], registers });
    this.duration = new Histogram({ name: 'tessera_http_request_duration_seconds', help: 'Time from the request headers to the last byte of the reply, by S3 operation', labelNames: ['operation'], buckets: DURATION_BUCKETS, registers });
    this.bytesIn = new Counter({ name: 'tessera_http_received_bytes_total', help: 'Request body bytes received, by S3 operation', labelNames: ['operation'], registers });
    this.bytesOut = new Counter({ name: 'tessera_http_sent_bytes_total', help: 'Reply body bytes sent, by S3 operation', labelNames: ['operation'], registers });
    this.inFlight = new Gauge({ name: 'tessera_http_requests_in_flight', help: 'Requests being served now', registers });

    const diskLabels = ['disk', 'path'] as const;
    this.diskTotal = new Gauge({ name: 'tessera_disk_total_bytes', help: 'Size of the filesystem holding the disk directory (disk: slot, 1-based)', labelNames: diskLabels, registers });
    this.diskUsed = new Gauge({ name: 'tessera_disk_used_bytes', help: 'Bytes used on the filesystem holding the disk directory', labelNames: diskLabels, registers });
    this.diskFree = new Gauge({ name: 'tessera_disk_free_bytes', help: 'Bytes free for Tessera on the filesystem holding the disk directory', labelNames: diskLabels, registers });
    this.diskState = new Gauge({ name: 'tessera_disk_state', help: 'Disk state: 1 for the current one of ok, offline, healing (heal onto a blank or returning disk under way)', labelNames: ['disk', 'path', 'state'], registers });
    this.disksOnline = new Gauge({ name: 'tessera_disks_online', help: 'Disks online (of tessera_disks_total)', registers });
    new Gauge({ name: 'tessera_disks_total', help: 'Disks configured', registers }).set(src.health.disks.length);
    this.ready = new Gauge({ name: 'tessera_ready', help: '1 when /health/ready answers 200 (read and write quorum available, metadata store open)', registers });

    const stats = src.healStats;
    const counter = (name: string, help: string, read: () => number) => ({ metric: new Counter({ name, help, registers }), read, last: 0 });
    this.healCounters = [
      counter('tessera_heal_shards_rebuilt_total', 'Shard files rebuilt from the others (read repair, scanner, disk heal, admin heal)', () => stats.shardsRebuilt),
      counter('tessera_heal_shards_missing_total', 'Shard files found missing by a verifying pass', () => stats.missingFound),
      counter('tessera_bitrot_shards_found_total', 'Shard files found with a block failing its CRC32C (bit rot)', () => stats.bitrotFound),
      counter('tessera_bitrot_shards_repaired_total', 'Shard files with bit rot that were rewritten', () => stats.bitrotRepaired),
    ];
    this.healQueue = new Gauge({ name: 'tessera_heal_queue_length', help: 'Objects with damage found by reads, waiting for repair', registers });

    this.scanEnabled = new Gauge({ name: 'tessera_scanner_enabled', help: '1 when the background bit-rot scanner runs (scanner_bytes_per_second > 0)', registers });
    this.scanRunning = new Gauge({ name: 'tessera_scanner_running', help: '1 while a scanner pass is under way', registers });
    this.scanObjects = new Gauge({ name: 'tessera_scanner_pass_objects', help: 'Object versions verified by the current scanner pass (the last one when idle)', registers });
    this.scanBytes = new Gauge({ name: 'tessera_scanner_pass_bytes', help: 'Shard bytes read by the current scanner pass (the last one when idle)', registers });
    this.scanPasses = new Counter({ name: 'tessera_scanner_passes_total', help: 'Scanner passes completed', registers });
    this.scanLastEnd = new Gauge({ name: 'tessera_scanner_last_pass_end_timestamp_seconds', help: 'When the last scanner pass ended (0: none yet)', registers });

    this.lifecycleExamined = new Counter({ name: 'tessera_lifecycle_objects_examined_total', help: 'Object versions and multipart uploads the lifecycle worker examined', registers });
    this.lifecycleActions = new Counter({ name: 'tessera_lifecycle_actions_total', help: 'Lifecycle actions taken, by kind (expire_current, expire_noncurrent, expire_delete_marker, abort_upload)', labelNames: ['action'], registers });
    for (const a of LIFECYCLE_ACTIONS) this.lifecycleActions.inc({ action: a }, 0);
    this.lifecyclePasses = new Counter({ name: 'tessera_lifecycle_passes_total', help: 'Lifecycle passes completed', registers });
    this.lifecycleRunning = new Gauge({ name: 'tessera_lifecycle_running', help: '1 while a lifecycle pass is under way', registers });
    this.lifecyclePassSeconds = new Gauge({ name: 'tessera_lifecycle_last_pass_duration_seconds', help: 'How long the last completed lifecycle pass took', registers });
    this.lifecyclePassObjects = new Gauge({ name: 'tessera_lifecycle_last_pass_objects', help: 'Versions and uploads the last completed lifecycle pass examined', registers });
    this.buckets = new Gauge({ name: 'tessera_buckets', help: 'Buckets', registers });
    this.bucketObjects = new Gauge({ name: 'tessera_bucket_objects', help: 'Object versions stored in the bucket (every version; delete markers not counted)', labelNames: ['bucket'], registers });
    this.bucketBytes = new Gauge({ name: 'tessera_bucket_bytes', help: 'Object data bytes stored in the bucket (every version, before erasure coding)', labelNames: ['bucket'], registers });
    this.metaBytes = new Gauge({ name: 'tessera_metadata_store_bytes', help: 'Size of the metadata index (LevelDB directory)', registers });
    this.connectionsOpen = new Gauge({ name: 'tessera_http_connections_open', help: 'Client connections open now (all listeners)', registers });
    this.connectionsRefused = new Counter({ name: 'tessera_http_connections_refused_total', help: 'Connections refused at once with 503 SlowDown (or dropped before the TLS handshake) by max_connections / max_connections_per_ip', registers });
    const notify = src.notify;
    if (notify) {
      // Read from the notifier's own counters at scrape time, like the heal counters.
      const byTarget = (m: Map<string, number>) => function (this: Gauge<'target'>) {
        this.reset();
        for (const [target, n] of m) this.set({ target }, n);
      };
      new Gauge({ name: 'tessera_notify_events_queued', help: 'Event notifications waiting in the durable queue for delivery, by target', labelNames: ['target'], registers, collect: byTarget(notify.queued) });
      const countByTarget = (m: Map<string, number>) => function (this: Counter<'target'>) {
        this.reset();
        for (const [target, n] of m) this.inc({ target }, n);
      };
      new Counter({ name: 'tessera_notify_events_sent_total', help: 'Event notifications delivered (acknowledged by the target) since the server started, by target', labelNames: ['target'], registers, collect: countByTarget(notify.sent) });
      new Counter({ name: 'tessera_notify_events_failed_total', help: 'Failed delivery attempts (each retry counts) since the server started, by target', labelNames: ['target'], registers, collect: countByTarget(notify.failed) });
    }
    this.scrapeSeconds = new Gauge({ name: 'tessera_metrics_scrape_duration_seconds', help: 'Time the previous scrape took to read the server state', registers });
  }

  /** Connection counts of the listening sockets (they exist only once the server listens). */
  attachConnections(c: { open: number; refusedTotal: number }): void {
    this.connections = c;
  }

  requestStarted(): void {
    this.inFlight.inc();
  }

  requestFinished(s: RequestSample): void {
    this.inFlight.dec();
    this.requests.inc({ operation: s.operation, status: String(s.status) });
    this.duration.observe({ operation: s.operation }, s.seconds);
    if (s.bytesIn > 0) this.bytesIn.inc({ operation: s.operation }, s.bytesIn);
    if (s.bytesOut > 0) this.bytesOut.inc({ operation: s.operation }, s.bytesOut);
  }

  /** The exposition text: reads the server state, then renders every metric. */
  async scrape(): Promise<string> {
    const started = process.hrtime.bigint();
    await this.refresh();
    this.scrapeSeconds.set(Number(process.hrtime.bigint() - started) / 1e9);
    const [own, proc] = await Promise.all([this.registry.metrics(), processRegistry().metrics()]);
    return own + proc;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private async refresh(): Promise<void> {
    const src = this.src;
    const [disks, bucketList, metaBytes] = await Promise.all([src.diskUsage(), src.listBuckets(), directoryBytes(src.metaDir)]);

    for (const g of [this.diskTotal, this.diskUsed, this.diskFree, this.diskState]) g.reset();
    for (const d of disks) {
      const labels = { disk: String(d.index + 1), path: d.root };
      if (d.totalBytes !== undefined) this.diskTotal.set(labels, d.totalBytes);
      if (d.usedBytes !== undefined) this.diskUsed.set(labels, d.usedBytes);
      if (d.freeBytes !== undefined) this.diskFree.set(labels, d.freeBytes);
      const state = !d.online ? 'offline' : src.health.healing.has(d.index) ? 'healing' : 'ok';
      for (const s of DISK_STATES) this.diskState.set({ ...labels, state: s }, s === state ? 1 : 0);
    }
    const r = readiness(src.health);
    this.disksOnline.set(r.disks.online);
    this.ready.set(r.ready ? 1 : 0);

    for (const c of this.healCounters) {
      const now = c.read();
      if (now > c.last) c.metric.inc(now - c.last);
      c.last = now;
    }
    this.healQueue.set(src.healQueueLength());

    const scan = src.scan;
    this.scanEnabled.set(src.scannerEnabled ? 1 : 0);
    this.scanRunning.set(scan.running ? 1 : 0);
    this.scanObjects.set(scan.objects);
    this.scanBytes.set(scan.bytes);
    if (scan.passes > this.scanPassesSeen) this.scanPasses.inc(scan.passes - this.scanPassesSeen);
    this.scanPassesSeen = scan.passes;
    this.scanLastEnd.set(scan.lastPassEnd === undefined ? 0 : scan.lastPassEnd / 1000);

    const lc = src.lifecycle;
    if (lc) {
      if (lc.examined > this.lifecycleExaminedSeen) this.lifecycleExamined.inc(lc.examined - this.lifecycleExaminedSeen);
      this.lifecycleExaminedSeen = lc.examined;
      for (const a of LIFECYCLE_ACTIONS) {
        const seen = this.lifecycleActionsSeen[a] ?? 0;
        if (lc.actions[a] > seen) this.lifecycleActions.inc({ action: a }, lc.actions[a] - seen);
        this.lifecycleActionsSeen[a] = lc.actions[a];
      }
      if (lc.passes > this.lifecyclePassesSeen) this.lifecyclePasses.inc(lc.passes - this.lifecyclePassesSeen);
      this.lifecyclePassesSeen = lc.passes;
      this.lifecycleRunning.set(lc.running ? 1 : 0);
      this.lifecyclePassSeconds.set(lc.lastPassSeconds ?? 0);
      this.lifecyclePassObjects.set(lc.lastPassExamined ?? 0);
    }

    this.buckets.set(bucketList.length);
    this.bucketObjects.reset();
    this.bucketBytes.reset();
    const shown = bucketList.slice(0, MAX_BUCKET_SERIES);
    const usages = await Promise.all(shown.map((b) => src.bucketUsage(b.name).catch(() => undefined)));
    shown.forEach((b, i) => {
      const u = usages[i];
      // A bucket made before usage was kept has no record: no series rather than a wrong 0.
      if (!u) return;
      this.bucketObjects.set({ bucket: b.name }, u.versions);
      this.bucketBytes.set({ bucket: b.name }, u.bytes);
    });
    this.metaBytes.set(metaBytes);
    const c = this.connections;
    if (c) {
      this.connectionsOpen.set(c.open);
      if (c.refusedTotal > this.connectionsRefusedSeen) this.connectionsRefused.inc(c.refusedTotal - this.connectionsRefusedSeen);
      this.connectionsRefusedSeen = c.refusedTotal;
    }
  }
}

let processMetrics: Registry | undefined;

function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

/** Bytes of the regular files in a directory (LevelDB keeps its files in one flat directory). */
async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
  await Promise.all(
    entries.map(async (e) => {
      if (!e.isFile()) return;
      const st = await fsp.stat(path.join(dir, e.name)).catch(() => undefined);
      if (st) total += st.size;
    }),
  );
  return total;
}
