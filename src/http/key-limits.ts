// Per access key limits: requests in flight, requests per second, and request/response body
// bandwidth. One client with one key must not be able to take the whole server; above its
// share it gets 503 SlowDown with Retry-After, which every S3 SDK retries with back-off.
// Anonymous requests are keyed by client address, so one anonymous flood does not stop every
// other anonymous reader. 0 in a setting means no limit.

import type { Limits } from '../config/config.js';
import { slowDown } from '../errors.js';
import { TokenBucket } from './throttle.js';

type KeyLimitSettings = Pick<Limits, 'requestsPerSecondPerKey' | 'concurrentRequestsPerKey' | 'uploadBytesPerSecond' | 'downloadBytesPerSecond'>;

interface KeyState {
  inflight: number;
  rate?: TokenBucket;
  upload?: TokenBucket;
  download?: TokenBucket;
}

/** States of keys that are neither busy nor owe anything are dropped this often. */
const SWEEP_EVERY_MS = 10_000;

export class KeyLimits {
  private readonly keys = new Map<string, KeyState>();
  private lastSweep: number;

  constructor(private readonly limits: KeyLimitSettings, private readonly now: () => number = Date.now) {
    this.lastSweep = now();
  }

  /** True when some limit is set (otherwise the middleware is skipped altogether). */
  get active(): boolean {
    const l = this.limits;
    return l.requestsPerSecondPerKey > 0 || l.concurrentRequestsPerKey > 0 || l.uploadBytesPerSecond > 0 || l.downloadBytesPerSecond > 0;
  }

  private state(key: string): KeyState {
    let s = this.keys.get(key);
    if (!s) {
      const l = this.limits;
      s = {
        inflight: 0,
        rate: l.requestsPerSecondPerKey > 0 ? new TokenBucket(l.requestsPerSecondPerKey, l.requestsPerSecondPerKey, this.now) : undefined,
        upload: l.uploadBytesPerSecond > 0 ? new TokenBucket(l.uploadBytesPerSecond, l.uploadBytesPerSecond, this.now) : undefined,
        download: l.downloadBytesPerSecond > 0 ? new TokenBucket(l.downloadBytesPerSecond, l.downloadBytesPerSecond, this.now) : undefined,
      };
      this.keys.set(key, s);
    }
    return s;
  }

  /**
   * Admits one request of `key` or throws SlowDown. The returned function must be called once
   * when the request is over (its reply sent or its connection gone).
   */
  admit(key: string): () => void {
    this.sweep();
    const s = this.state(key);
    const l = this.limits;
    if (l.concurrentRequestsPerKey > 0 && s.inflight >= l.concurrentRequestsPerKey) {
      throw slowDown(`Too many requests in progress for this access key (at most ${l.concurrentRequestsPerKey}); please retry.`, 1);
    }
    if (s.rate) {
      const wait = s.rate.tryTake(1);
      if (wait > 0) throw slowDown(undefined, wait);
    }
    s.inflight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      s.inflight--;
    };
  }

  /** The bucket that paces request bodies of `key`, if uploads are capped. */
  uploadBucket(key: string): TokenBucket | undefined {
    return this.limits.uploadBytesPerSecond > 0 ? this.state(key).upload : undefined;
  }

  /** The bucket that paces response bodies of `key`, if downloads are capped. */
  downloadBucket(key: string): TokenBucket | undefined {
    return this.limits.downloadBytesPerSecond > 0 ? this.state(key).download : undefined;
  }

  /** Keys being tracked (for tests: the map must not grow without bound). */
  get size(): number {
    return this.keys.size;
  }

  private sweep(): void {
    const t = this.now();
    if (t - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = t;
    for (const [key, s] of this.keys) {
      if (s.inflight === 0 && (s.rate?.idle ?? true) && (s.upload?.idle ?? true) && (s.download?.idle ?? true)) this.keys.delete(key);
    }
  }
}
