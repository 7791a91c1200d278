// One memory budget for the stripe buffers of every request in flight (limits.memory_budget).
//
// Each upload, download or copy leases the bytes of its stripe buffers (data, parity and the
// buffers the hash worker reads) before it allocates them, and gives them back when it ends, on
// every path. When the budget is spent, a request waits for its lease before it reads any more
// of its body (so TCP back-pressure stops the client) or any more of its disks.
//
// Deadlock freedom comes from two rules:
// - a request waits only while it holds nothing: it asks once for the least it needs to make
//   progress (one stripe), and anything more (read-ahead, a deeper write pipeline) is taken with
//   tryGrow(), which never waits. A copy, which reads and writes at once, asks for both in one
//   acquire() and splits the lease.
// - waiters are served in arrival order, and a lease larger than the whole budget is granted
//   when nothing else is leased (so one oversized request still runs, alone).
// tryGrow() also refuses while anyone waits: extras must not starve a request's first stripe.

export class BudgetAbortedError extends Error {
  constructor() {
    super('the request ended while it waited for memory');
  }
}

interface Waiter {
  bytes: number;
  resolve: (lease: Lease) => void;
  reject: (e: Error) => void;
  cleanup?: () => void;
}

export class MemoryBudget {
  private used = 0;
  private high = 0;
  private readonly waiters: Waiter[] = [];
  private waitedCount = 0;

  /** `limit` bytes in all; Infinity for no limit (tools, tests). */
  constructor(readonly limit: number) {
    if (!(limit > 0)) throw new Error(`memory budget must be > 0, got ${limit}`);
  }

  /** Bytes leased now. */
  get inUse(): number {
    return this.used;
  }

  /** The most bytes ever leased at once. */
  get highWater(): number {
    return this.high;
  }

  /** Requests waiting for a lease now. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Leases that had to wait, since start. */
  get waited(): number {
    return this.waitedCount;
  }

  /**
   * A lease of `bytes`, at once when they fit (and nobody waits before), else when enough is
   * given back. With `signal`, an abort while waiting rejects with BudgetAbortedError and leaves
   * nothing leased.
   */
  acquire(bytes: number, signal?: AbortSignal): Promise<Lease> {
    const n = Math.max(0, Math.ceil(bytes));
    if (signal?.aborted) return Promise.reject(new BudgetAbortedError());
    if (this.waiters.length === 0 && this.fits(n)) return Promise.resolve(this.grant(n));
    this.waitedCount++;
    return new Promise<Lease>((resolve, reject) => {
      const w: Waiter = { bytes: n, resolve, reject };
      if (signal) {
        const onAbort = () => {
          const i = this.waiters.indexOf(w);
          if (i < 0) return;
          this.waiters.splice(i, 1);
          reject(new BudgetAbortedError());
          // The one that left may have been what held the queue up.
          this.serve();
        };
        signal.addEventListener('abort', onAbort, { once: true });
        w.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.waiters.push(w);
    });
  }

  /** A lease of `bytes` if they fit now and nobody waits; undefined otherwise. Never waits. */
  tryAcquire(bytes: number): Lease | undefined {
    const n = Math.max(0, Math.ceil(bytes));
    return this.waiters.length === 0 && this.used + n <= this.limit ? this.grant(n) : undefined;
  }

  private fits(n: number): boolean {
    // Alone, any request runs: one larger than the budget must not wait forever.
    return this.used + n <= this.limit || this.used === 0;
  }

  private grant(n: number): Lease {
    this.take(n);
    return new Lease(this, n);
  }

  /** @internal */
  take(n: number): void {
    this.used += n;
    if (this.used > this.high) this.high = this.used;
  }

  /** @internal */
  tryTake(n: number): boolean {
    if (this.waiters.length > 0 || this.used + n > this.limit) return false;
    this.take(n);
    return true;
  }

  /** @internal */
  give(n: number): void {
    this.used -= n;
    if (this.used < 0) this.used = 0; // never, unless a bug: do not let it block everyone
    this.serve();
  }

  private serve(): void {
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.bytes)) {
      const w = this.waiters.shift()!;
      w.cleanup?.();
      w.resolve(this.grant(w.bytes));
    }
  }
}

/** Bytes of a budget held by one request; release() gives them back (once, however often called). */
export class Lease {
  private held: number;

  constructor(private readonly budget: MemoryBudget, bytes: number) {
    this.held = bytes;
  }

  get bytes(): number {
    return this.held;
  }

  /** Adds `bytes` to this lease if they fit now and nobody waits; never waits. */
  tryGrow(bytes: number): boolean {
    const n = Math.max(0, Math.ceil(bytes));
    if (this.released || !this.budget.tryTake(n)) return false;
    this.held += n;
    return true;
  }

  /**
   * Adds `bytes` even beyond the budget. Only for memory a request already needs to finish what
   * it started (a body longer than declared), bounded by a stripe; the high-water shows it.
   */
  force(bytes: number): void {
    const n = Math.max(0, Math.ceil(bytes));
    if (this.released) return;
    this.budget.take(n);
    this.held += n;
  }

  /** Moves `bytes` of this lease into a new one (a copy hands its read side to the reader). */
  split(bytes: number): Lease {
    const n = Math.min(this.held, Math.max(0, Math.ceil(bytes)));
    this.held -= n;
    return new Lease(this.budget, n);
  }

  private released = false;

  release(): void {
    if (this.released) return;
    this.released = true;
    const n = this.held;
    this.held = 0;
    this.budget.give(n);
  }
}

/** A budget that never refuses: for tools and tests that do not configure one. */
export const UNLIMITED = (): MemoryBudget => new MemoryBudget(Number.POSITIVE_INFINITY);
