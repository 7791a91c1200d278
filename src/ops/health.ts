// Health for probes (Kubernetes, Docker HEALTHCHECK, load balancers):
//   /health/live   the process is up and its event loop answers: always 200.
//   /health/ready  200 only when writes and reads can succeed: enough disks are online for the
//                  write quorum of both the data (erasure) and the metadata journal, enough of
//                  them hold their data (not blank and being healed onto) for the read quorum,
//                  and the metadata store is open; otherwise 503 with the reason.
// Both are computed from state the server already keeps (each disk's online flag, which the
// disk monitor updates every few seconds, and the store's open state): no disk I/O per probe.

import { writeQuorum, readQuorum } from '../erasure/quorum.js';
import { metaWriteQuorum } from '../meta/journal/quorum-journal.js';

export interface HealthSource {
  disks: readonly { online: boolean }[];
  /** Slots (0-based) of online disks being healed onto: they take writes but lack older data. */
  healing: ReadonlySet<number>;
  /** Data and parity shards per stripe. */
  k: number;
  m: number;
  /** Why the metadata store cannot serve, or undefined when it is open and well. */
  metaUnavailable(): string | undefined;
  /**
   * Set when a graceful shutdown begins: a load balancer probing over a kept-alive connection
   * must take the server out of rotation while its in-flight requests finish.
   */
  stopping?: boolean;
}

export interface Readiness {
  ready: boolean;
  /** Why not, in one line (absent when ready). */
  reason?: string;
  /** Offline disks by slot (1-based, the configured order); paths are not shown to unauthenticated callers. */
  disks: { online: number; total: number; offline: number[]; healing: number[] };
  /** Disks that must be online for reads and for writes. */
  readQuorum: number;
  writeQuorum: number;
  metadata: 'open' | 'unavailable';
}

export function readiness(src: HealthSource): Readiness {
  const total = src.disks.length;
  const online = src.disks.filter((d) => d.online).length;
  const offline = src.disks.flatMap((d, i) => (d.online ? [] : [i + 1]));
  const readable = src.disks.filter((d, i) => d.online && !src.healing.has(i)).length;
  const rq = readQuorum(src.k);
  // A write commits its data shards and then its metadata record in the journal on the disks:
  // both quorums must be reachable.
  const wq = Math.max(writeQuorum(src.k, src.m), metaWriteQuorum(total, writeQuorum(src.k, src.m)));
  const meta = src.metaUnavailable();
  const reasons: string[] = [];
  if (src.stopping) reasons.push('the server is shutting down');
  if (meta !== undefined) reasons.push(meta);
  if (online < wq) {
    reasons.push(`only ${online} of ${total} disks are online; writes need ${wq}${online < rq ? ` and reads ${rq}` : ''} (offline: disk ${offline.join(', ')})`);
  } else if (readable < rq) {
    reasons.push(`only ${readable} of ${total} disks hold their data (${online - readable} being healed onto); reads need ${rq}`);
  }
  return {
    ready: reasons.length === 0,
    ...(reasons.length ? { reason: reasons.join('; ') } : {}),
    disks: { online, total, offline, healing: [...src.healing].filter((i) => src.disks[i]?.online).map((i) => i + 1).sort((a, b) => a - b) },
    readQuorum: rq,
    writeQuorum: wq,
    metadata: meta === undefined ? 'open' : 'unavailable',
  };
}
