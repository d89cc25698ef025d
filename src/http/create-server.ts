import http from 'node:http';

import type { WebhookHandler } from './webhook-route.ts';

/**
 * The HTTP server: a webhook POST goes straight to its handler, everything else to Express (`app`).
 * Webhooks are nearly all of the traffic, and the handler reads its own body (webhook-route.ts says why).
 */
export function createServer(app: http.RequestListener, webhooks: { path: string; handler: WebhookHandler }[]): http.Server {
  const handlers = new Map(webhooks.map(({ path, handler }) => [routeKey(path), handler]));
  return http.createServer((req, res) => {
    const handler = req.method === 'POST' ? handlers.get(routeKey(req.url ?? '')) : undefined;
    // The handler answers its own errors; should even that fail, the connection is cut rather than left
    // hanging, and the provider delivers the webhook again.
    if (handler) handler(req, res).catch(() => res.destroy());
    else app(req, res);
  });
}

/** A path as Express matches a route's: without the query, in any case, with or without a final slash. */
function routeKey(url: string): string {
  const query = url.indexOf('?');
  const path = (query === -1 ? url : url.slice(0, query)).toLowerCase();
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}
