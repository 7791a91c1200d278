// Rate limiting primitives: a token bucket (requests per second, bytes per second) and a
// Transform that paces the bytes flowing through it by a shared bucket, so every stream of one
// access key together stays under that key's bandwidth cap.

import { Transform, type TransformCallback } from 'node:stream';

/**
 * Tokens accrue at `rate` per second up to `burst`. Requests take one token or are refused;
 * bytes are taken on credit (the balance may go negative) and the taker waits until the debt
 * is paid back, which keeps the long-run rate exact whatever the chunk sizes.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(readonly rate: number, readonly burst: number = rate, private readonly now: () => number = Date.now) {
    if (!(rate > 0) || !(burst > 0)) throw new RangeError('TokenBucket: rate and burst must be positive');
    this.tokens = burst;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    if (t > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
      this.last = t;
    }
  }

  /** Takes `n` tokens if there are that many and returns 0; else takes none and returns the seconds until there will be. */
  tryTake(n = 1): number {
    this.refill();
    if (this.tokens >= n) {
      this.tokens -= n;
      return 0;
    }
    return (n - this.tokens) / this.rate;
  }

  /** Takes `n` tokens on credit; returns the milliseconds until the balance is back to zero. */
  take(n: number): number {
    this.refill();
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rate) * 1000;
  }

  /** True when the bucket is full (nothing taken lately): its state carries no information. */
  get idle(): boolean {
    this.refill();
    return this.tokens >= this.burst;
  }
}

/** Pieces a chunk is cut into, so a cap of a few KiB/s is not one 1 MiB burst every minute. */
function pieceSize(rate: number): number {
  return Math.max(4096, Math.floor(rate / 10));
}

/** Passes bytes through at no more than the bucket allows. */
export class Throttle extends Transform {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly bucket: TokenBucket) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const piece = pieceSize(this.bucket.rate);
    let at = 0;
    const step = (): void => {
      this.timer = undefined;
      if (this.destroyed) return;
      if (at >= chunk.length) return cb();
      const part = at === 0 && chunk.length <= piece ? chunk : chunk.subarray(at, Math.min(chunk.length, at + piece));
      at += part.length;
      const wait = this.bucket.take(part.length);
      this.push(part);
      if (wait > 0) this.timer = setTimeout(step, wait);
      else step();
    };
    step();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    cb(err);
  }
}
