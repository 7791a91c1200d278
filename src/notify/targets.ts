// Where event notifications go. A Target sends one message (the AWS event JSON) and resolves
// only once the receiver has accepted it; anything else throws, and delivery retries. New kinds
// of target (NATS, Kafka, Redis, AMQP) implement this interface and are made by `makeTargets`;
// nothing else changes (the ARN's last part names the kind: arn:tessera:sqs::NAME:KIND).

import http from 'node:http';
import https from 'node:https';
import type { NotifyConfig } from '../config/config.js';

export interface Target {
  /** The name ARNs use (lower case). */
  readonly name: string;
  /** The kind ARNs end with ("webhook"). */
  readonly kind: string;
  /** Sends one message; resolves when the receiver acknowledged it, throws otherwise. */
  send(body: string): Promise<void>;
  close(): void;
}

/** How long one webhook POST may take before it counts as failed (and is retried). */
const WEBHOOK_TIMEOUT_MS = 10_000;

/** HTTP(S) POST of the JSON to an endpoint; any 2xx is an acknowledgement. */
export class WebhookTarget implements Target {
  readonly kind = 'webhook';
  private readonly url: URL;
  // Keep-alive: a busy target gets one POST after another on the same connection.
  private readonly agent: http.Agent;

  constructor(readonly name: string, endpoint: string, private readonly authToken?: string, private readonly timeoutMs = WEBHOOK_TIMEOUT_MS) {
    this.url = new URL(endpoint);
    this.agent = this.url.protocol === 'https:' ? new https.Agent({ keepAlive: true, maxSockets: 1 }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  send(body: string): Promise<void> {
    const payload = Buffer.from(body, 'utf8');
    const headers: Record<string, string | number> = { 'Content-Type': 'application/json', 'Content-Length': payload.length, 'User-Agent': 'Tessera' };
    if (this.authToken !== undefined) headers.Authorization = `Bearer ${this.authToken}`;
    const request = this.url.protocol === 'https:' ? https.request : http.request;
    return new Promise<void>((resolve, reject) => {
      const req = request(this.url, { method: 'POST', headers, agent: this.agent, timeout: this.timeoutMs }, (res) => {
        const status = res.statusCode ?? 0;
        res.resume(); // the reply body is not needed; read it so the connection can be reused
        res.once('end', () => (status >= 200 && status < 300 ? resolve() : reject(new Error(`${this.url.origin} answered HTTP ${status}`))));
        res.once('error', reject);
      });
      req.once('timeout', () => req.destroy(new Error(`no answer from ${this.url.origin} within ${this.timeoutMs} ms`)));
      req.once('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** One Target per configured target. */
export function makeTargets(c: NotifyConfig): Target[] {
  return Object.entries(c.webhooks).map(([name, w]) => new WebhookTarget(name, w.endpoint, w.authToken));
}
