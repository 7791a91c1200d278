// Requests in flight, for a graceful shutdown: a request counts from its arrival until both its
// handler has returned and its reply is finished (or its connection is gone), so a download
// still streaming, or an upload whose handler is still cleaning up after a cut, keeps counting.

import type Koa from 'koa';

export class InFlight {
  count = 0;
  private waiters: (() => void)[] = [];

  middleware(): Koa.Middleware {
    return async (ctx, next) => {
      this.count++;
      const replied = new Promise<void>((resolve) => {
        if (ctx.res.closed) resolve();
        else ctx.res.once('close', () => resolve());
      });
      try {
        await next();
      } finally {
        // Koa sends the body after the middleware returns: wait for the reply too, without
        // holding the middleware (and so the reply) back.
        void replied.then(() => this.done());
      }
    };
  }

  /** Resolves when no request is in flight. */
  idle(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private done(): void {
    this.count--;
    if (this.count > 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
