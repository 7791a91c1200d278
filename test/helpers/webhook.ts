// A webhook receiver for event notification tests: a real node:http server on 127.0.0.1 that
// keeps every {"Records": [...]} POST it gets. It can be taken down (the port closed, so the
// sender sees connection refused) and brought up again on the same port.

import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  record: any;
  authorization?: string;
  /** performance.now() and Date.now() when it arrived. */
  at: number;
  wall: number;
}

export class WebhookReceiver {
  readonly received: Received[] = [];
  private server: http.Server | undefined;
  port = 0;
  /** When set, POSTs are answered with this status instead of 200 (and not kept). */
  failWith: number | undefined;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async up(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.failWith !== undefined) {
          res.writeHead(this.failWith).end();
          return;
        }
        const at = performance.now();
        const wall = Date.now();
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Records: unknown[] };
        for (const record of body.Records) this.received.push({ record, authorization: req.headers.authorization, at, wall });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Waits until at least n records arrived (fails after timeoutMs). */
  async waitFor(n: number, timeoutMs = 30_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < n) {
      if (Date.now() > deadline) throw new Error(`webhook got ${this.received.length} of ${n} records within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.received;
  }
}
