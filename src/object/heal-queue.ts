// Damage found while serving reads is queued here and repaired in the background, one
// object at a time, so a GET never waits for a repair. The queue is bounded: when full,
// new reports are dropped (the background scanner finds them later).

import type { ObjectVersion } from '../meta/types.js';
import { healVersion } from './healing.js';
import type { ObjectStore } from './store.js';

const MAX_QUEUED = 10_000;

export class HealQueue {
  private readonly queued = new Map<string, { bucket: string; key: string; versionId: string }>();
  private running: Promise<void> | undefined;
  healedShards = 0;

  constructor(private readonly store: ObjectStore, private readonly log: (msg: string) => void) {}

  report(v: ObjectVersion, dataId: string, shard: number, reason: string): void {
    const id = `${v.bucket}\0${v.key}\0${v.versionId}`;
    if (!this.queued.has(id) && this.queued.size < MAX_QUEUED) {
      this.log(`shard ${shard} of ${v.bucket}/${v.key} (${dataId}) is ${reason}; repair queued`);
      this.queued.set(id, { bucket: v.bucket, key: v.key, versionId: v.versionId });
    }
    this.running ??= this.work().finally(() => (this.running = undefined));
  }

  get size(): number {
    return this.queued.size;
  }

  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async work(): Promise<void> {
    // Let the read that found the damage finish first.
    await new Promise((r) => setTimeout(r, 50));
    for (const [id, ref] of this.queued) {
      this.queued.delete(id);
      try {
        const v = await this.store.meta.getVersion(ref.bucket, ref.key, ref.versionId);
        if (v) this.healedShards += (await healVersion(this.store, v)).rebuilt;
      } catch (e) {
        this.log(`repair of ${ref.bucket}/${ref.key} failed: ${(e as Error).message}`);
      }
    }
  }
}
