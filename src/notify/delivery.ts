// Delivers queued event notifications: one loop per target reads the target's durable queue
// (written by the commits that caused the events, see object/events.ts) a page at a time, in
// sequence order, sends each record and deletes it once the target acknowledged it. A record
// is deleted only after its send succeeded, so a crash anywhere re-sends at most the records
// whose deletion had not committed yet: delivery is at least once, and in order per target
// (hence per key). While a target fails, the loop retries the same record with a backoff that
// doubles from 100 ms up to notify.retry_max_seconds; the records behind it wait on disk.

import type { MetaStore } from '../meta/types.js';
import type { Notifier } from '../object/events.js';
import type { Target } from './targets.js';

/** Records read per queue page: memory stays bounded whatever the backlog. */
const PAGE = 100;
const FIRST_RETRY_MS = 100;
/** A loop with nothing to do looks at its queue this often anyway (commits wake it at once). */
const IDLE_POLL_MS = 5_000;

export interface DeliveryOptions {
  retryMaxMs: number;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

export class Delivery {
  private readonly loops: Promise<void>[] = [];
  private readonly wakers = new Map<string, () => void>();
  private readonly dirty = new Set<string>();
  private stopping = false;
  private readonly stopWaiters = new Set<() => void>();

  constructor(private readonly meta: MetaStore, private readonly notifier: Notifier, private readonly targets: Target[], private readonly o: DeliveryOptions) {}

  async start(): Promise<void> {
    const configured = new Set(this.targets.map((t) => t.name));
    for (const name of await this.meta.eventTargets()) {
      const n = await this.count(name);
      this.notifier.stats.queued.set(name, n);
      if (!configured.has(name)) this.o.log('warn', `${n} queued event notification(s) for target "${name}", which is not configured: they wait until it is`);
    }
    this.notifier.onQueued = (target) => this.wake(target);
    for (const t of this.targets) this.loops.push(this.run(t));
  }

  /** Stops the loops: a send in flight is cut (its record stays queued and is sent after a restart). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.notifier.onQueued = () => undefined;
    for (const w of this.stopWaiters) w();
    for (const w of this.wakers.values()) w();
    for (const t of this.targets) t.close();
    await Promise.all(this.loops);
  }

  private wake(target: string): void {
    this.dirty.add(target);
    this.wakers.get(target)?.();
  }

  private async count(target: string): Promise<number> {
    let n = 0;
    let after = 0;
    for (;;) {
      const page = await this.meta.listEvents(target, after, 1000);
      n += page.length;
      if (page.length < 1000) return n;
      after = page[page.length - 1]!.seq;
    }
  }

  private async run(t: Target): Promise<void> {
    const stats = this.notifier.stats;
    const bump = (m: Map<string, number>, by = 1) => m.set(t.name, (m.get(t.name) ?? 0) + by);
    // Through a backlog, pages are read after the last record sent, not from the start: the
    // sent ones are deleted, but a scan from the start would step over their tombstones again on
    // every page. A record that committed late with a lower seq (another key's: one key's
    // changes are serialised) is found by the rescan from the start after a short page.
    let cursor = 0;
    while (!this.stopping) {
      this.dirty.delete(t.name);
      let page;
      try {
        page = await this.meta.listEvents(t.name, cursor, PAGE);
      } catch (e) {
        if (this.stopping) return;
        this.o.log('error', `event notifications: cannot read the queue of target "${t.name}": ${(e as Error).message}`);
        await this.pause(1000);
        continue;
      }
      if (page.length === 0) {
        if (cursor > 0) cursor = 0;
        else if (!this.dirty.has(t.name)) await this.idle(t.name);
        continue;
      }
      const deletions: Promise<void>[] = [];
      for (const ev of page) {
        const body = JSON.stringify({ Records: [ev.record] });
        let delay = FIRST_RETRY_MS;
        for (;;) {
          if (this.stopping) break;
          try {
            await t.send(body);
            break;
          } catch (e) {
            if (this.stopping) break;
            bump(stats.failed);
            if (delay === FIRST_RETRY_MS) this.o.log('warn', `event notification to target "${t.name}" failed, retrying: ${(e as Error).message}`);
            await this.pause(delay);
            delay = Math.min(delay * 2, this.o.retryMaxMs);
          }
        }
        if (this.stopping) break;
        cursor = ev.seq;
        bump(stats.sent);
        bump(stats.queued, -1);
        // Not awaited one by one: deletions of consecutive records share group commits.
        deletions.push(this.meta.batch([{ type: 'delEvent', target: t.name, seq: ev.seq }]));
      }
      // Caught up (a short page): the next read starts from the beginning again, so a late
      // record is never passed over for long while new ones keep coming.
      if (page.length < PAGE) cursor = 0;
      try {
        await Promise.all(deletions);
      } catch (e) {
        // The records stay queued and will be sent again: at least once, never lost.
        cursor = 0;
        if (!this.stopping) this.o.log('error', `event notifications: cannot remove sent records of target "${t.name}": ${(e as Error).message}`);
        if (!this.stopping) await this.pause(1000);
      }
    }
  }

  private idle(target: string): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, IDLE_POLL_MS);
      timer.unref();
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wakers.delete(target);
        resolve();
      }
      this.wakers.set(target, done);
    });
  }

  private pause(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.stopWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.stopWaiters.add(done);
    });
  }
}
