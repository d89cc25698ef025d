import type { ServerResponse } from 'node:http';

import { AppError } from '../app-error.ts';
import type { ChannelName } from '../channels/channel.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';

/**
 * Turns any error into a clear answer: a 4xx with the reason for a bad request, a 500 for our own
 * fault (logged with its stack). Written once for the Express routes and the webhook routes beside them.
 */
export function respondWithError(res: ServerResponse, error: unknown, context: { path: string; channel: ChannelName | undefined; logger: Logger; metrics: Metrics }): void {
  const { status, code, message } = describeError(error);
  if (context.channel) context.metrics.webhooks.inc({ channel: context.channel, outcome: code });
  if (status >= 500) context.logger.error({ err: error, path: context.path }, 'request failed');
  else context.logger.warn({ path: context.path, status, code, reason: message }, 'request rejected');
  if (res.headersSent) return;
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function describeError(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof AppError && error.status) return { status: error.status, code: error.code, message: error.message };
  // body-parser's errors carry their own status (413 too large, 400 aborted, 415 bad charset).
  const e = error as { status?: number; type?: string; message?: string };
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return { status: e.status, code: e.type ?? 'bad_request', message: e.status === 413 ? 'request body is too large' : (e.message ?? 'bad request') };
  }
  return { status: 500, code: 'internal_error', message: 'internal error' };
}
