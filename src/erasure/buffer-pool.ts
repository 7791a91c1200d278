// Recycled read buffers for the GET path. A fresh 1 MiB buffer per shard block costs more than
// reading it: page faults on new memory, and V8 runs a full GC for every few dozen MiB of
// external memory allocated. So the reader takes its run buffers ("slabs") from a pool, and a
// slab goes back only under a strict ownership rule:
//
// - every chunk handed out that views a slab is counted (retain) and handed out together with
//   its slab (ShardRangeReader.read returns both);
// - release() is called for a chunk only by a consumer that knows it holds no reference any
//   more: in practice the GET stream's own pipe into a socket, from the write callback (by
//   then the bytes were copied into the kernel);
// - the slab returns to the pool when every chunk counted on it was released. A chunk that
//   went anywhere else (a 'data' listener, an async iterator, a Transform) is never released,
//   so its slab is simply left to the garbage collector: never reused while anyone might hold
//   a view of it.

export class Slab {
  private refs = 0;
  private done = false;

  constructor(readonly buf: Buffer, private readonly pool: BufferPool) {}

  /** Counts one more chunk viewing this slab. */
  retain(): void {
    this.refs++;
  }

  /** One lent chunk came back; the last one returns the slab to the pool. */
  release(): void {
    if (--this.refs === 0) this.recycle();
  }

  /** Returns the slab now if no chunk was lent from it (it was only read internally). */
  releaseIfUnused(): void {
    if (this.refs === 0) this.recycle();
  }

  private recycle(): void {
    if (this.done) return;
    this.done = true;
    this.pool.put(this.buf);
  }
}

export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private freeBytes = 0;

  /** At most `maxFreeBytes` are kept for reuse; beyond that, returned buffers are dropped. */
  constructor(private readonly maxFreeBytes: number) {}

  /** A slab of exactly `size` bytes (contents undefined). */
  take(size: number): Slab {
    const list = this.free.get(size);
    const buf = list?.pop();
    if (buf !== undefined) {
      this.freeBytes -= size;
      return new Slab(buf, this);
    }
    return new Slab(Buffer.allocUnsafeSlow(size), this);
  }

  put(buf: Buffer): void {
    if (this.freeBytes + buf.length > this.maxFreeBytes) return;
    let list = this.free.get(buf.length);
    if (!list) this.free.set(buf.length, (list = []));
    list.push(buf);
    this.freeBytes += buf.length;
  }

  get bytesFree(): number {
    return this.freeBytes;
  }
}

/** The pool the GET path reads into: enough for a few requests' worth of stripes in flight. */
export const readPool = new BufferPool(32 * 1024 * 1024);
