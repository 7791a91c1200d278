// Builds the operations endpoints' view of a running engine: what /health/ready checks and
// what /metrics reads at scrape time. One per server (its own metrics Registry).

import type { Engine } from '../object/engine.js';
import type { HealthSource } from './health.js';
import { ServerMetrics } from './metrics.js';

export interface ServerOps {
  health: HealthSource;
  metrics: ServerMetrics;
  metricsToken?: string;
}

export function serverOps(engine: Engine, o: { scannerBytesPerSecond: number; metricsToken?: string }): ServerOps {
  const store = engine.store;
  const meta = engine.metaIndex.meta;
  const health: HealthSource = { disks: store.disks, healing: engine.upkeep.healingDisks, k: store.k, m: store.m, metaUnavailable: () => meta.unavailable };
  const metrics = new ServerMetrics({
    health,
    diskUsage: () => engine.usage(),
    healStats: store.healStats,
    healQueueLength: () => store.heals.size,
    scan: engine.upkeep.scan,
    scannerEnabled: o.scannerBytesPerSecond > 0,
    listBuckets: () => store.meta.listBuckets(),
    bucketUsage: (b) => store.meta.getUsage(b),
    metaDir: meta.dir,
    lifecycle: engine.lifecycle.stats,
    notify: store.events.stats,
  });
  return { health, metrics, ...(o.metricsToken !== undefined ? { metricsToken: o.metricsToken } : {}) };
}
