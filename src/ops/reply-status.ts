// The status a request's client was actually sent, for the request log and the request metrics.

import type { ServerResponse } from 'node:http';

/** nginx's "client closed request": no reply uses it, so it cannot be mistaken for one. */
export const CLIENT_CLOSED_REQUEST = 499;

/**
 * `res.statusCode`, unless no reply ever went out: a client that hung up first (an upload cut
 * off halfway) still shows Koa's initial 404 there, which would log and count a not-found that
 * never happened. Such requests are reported as 499 instead.
 */
export function replyStatus(res: ServerResponse): number {
  return res.headersSent ? res.statusCode : CLIENT_CLOSED_REQUEST;
}
