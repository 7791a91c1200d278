// DeleteBucket against writes that add versions to the same bucket (PUT, Complete, a delete
// marker). A write counts itself in before it looks at the bucket and out after its batch;
// DeleteBucket closes the gate, waits for the writes in flight, and only then checks that the
// bucket is empty and deletes it. Writes that arrive meanwhile wait for it to finish and then
// find the bucket gone (NoSuchBucket) or, if it was not empty, carry on. Without this a write
// could commit between DeleteBucket's check and the bucket's removal and be left inside a
// deleted bucket (to reappear in a new bucket of the same name).

export class BucketGate {
  private readonly writers = new Map<string, number>();
  private readonly closing = new Map<string, Promise<void>>();
  private readonly drained = new Map<string, () => void>();

  /** Counts a write in, after any DeleteBucket under way on the bucket has finished. */
  async enter(bucket: string): Promise<void> {
    for (let c = this.closing.get(bucket); c; c = this.closing.get(bucket)) await c;
    this.writers.set(bucket, (this.writers.get(bucket) ?? 0) + 1);
  }

  leave(bucket: string): void {
    const n = (this.writers.get(bucket) ?? 1) - 1;
    if (n > 0) {
      this.writers.set(bucket, n);
      return;
    }
    this.writers.delete(bucket);
    this.drained.get(bucket)?.();
  }

  /** Runs a write between enter and leave. */
  async around<T>(bucket: string, fn: () => Promise<T>): Promise<T> {
    await this.enter(bucket);
    try {
      return await fn();
    } finally {
      this.leave(bucket);
    }
  }

  /**
   * Runs `fn` with no write in flight on the bucket and none starting. Callers serialise their
   * own calls for one bucket (DeleteBucket holds the bucket's lock).
   */
  async closed<T>(bucket: string, fn: () => Promise<T>): Promise<T> {
    let open!: () => void;
    this.closing.set(bucket, new Promise<void>((r) => (open = r)));
    try {
      while ((this.writers.get(bucket) ?? 0) > 0) await new Promise<void>((r) => this.drained.set(bucket, r));
      return await fn();
    } finally {
      this.drained.delete(bucket);
      this.closing.delete(bucket);
      open();
    }
  }
}
