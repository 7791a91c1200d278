// Durable deletion: data that a commit made unreachable is recorded in the same metadata
// batch (a garbage entry) and removed here afterwards. A crash in between leaves the entry,
// and start-up drains the queue again, so space is never leaked for good.

import type { Disk } from '../disk/disk.js';
import type { DataLayout, GarbageEntry, InlineLayout, MetaOp, MetaStore, ShardLayout } from '../meta/types.js';

/** The stored pieces of a layout: itself, or each part of a multipart object. */
export function layoutsOf(layout: DataLayout | undefined): (ShardLayout | InlineLayout)[] {
  if (!layout) return [];
  if (layout.kind === 'parts') return layout.parts.map((p) => p.data);
  return [layout];
}

export class GarbageCollector {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(private readonly disks: Disk[], private readonly meta: MetaStore, private readonly log: (msg: string) => void = () => undefined) {}

  /** Starts a drain unless one is running (then it runs once more after it). */
  kick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.drain();
        } while (this.again);
      } catch (e) {
        this.log(`garbage collection failed: ${(e as Error).message}`);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** Removes everything queued. */
  async drain(): Promise<void> {
    for (;;) {
      const entries = await this.meta.listGarbage(100);
      if (entries.length === 0) return;
      const ops: MetaOp[] = [];
      for (const e of entries) ops.push(...(await this.remove(e)));
      await this.meta.batch(ops);
    }
  }

  private async remove(e: GarbageEntry): Promise<MetaOp[]> {
    const ops: MetaOp[] = [{ type: 'delGarbage', id: e.id }];
    for (const l of e.layouts.flatMap(layoutsOf)) {
      if (l.kind === 'inline') {
        ops.push({ type: 'delInline', dataId: l.dataId });
      } else if (l.kind === 'shards') {
        // A disk that is offline now gets a blank replacement or is healed later; a shard
        // left on it has no metadata pointing at it and start-up of a replaced disk drops it.
        await Promise.all(l.distribution.map((d) => this.disks[d].removeShard(l.dataId).catch(() => undefined)));
      }
    }
    return ops;
  }
}
