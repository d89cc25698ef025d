import express, { type ErrorRequestHandler } from 'express';

import { AppError } from '../app-error.ts';
import type { ChannelWebhook, InboundMessage } from '../channels/channel.ts';
import type { Intake } from '../intake/intake.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Inbox } from '../store/inbox.ts';
import { devOutboxRoute } from './dev-outbox-route.ts';
import { metricsRoute } from './metrics-route.ts';
import { webhookRoute } from './webhook-route.ts';
import type { AlertRefusal } from '../alerts/staff-alerts.ts';

export type AppDependencies = {
  webhooks: { path: string; webhook: ChannelWebhook; bodyLimit?: string }[];
  /** Where webhooks put their messages before answering (see src/intake). */
  intake: Intake;
  inbox: Inbox;
  publicUrl: string | undefined;
  logger: Logger;
  metrics: Metrics;
  /** Database reachable and migrated. */
  isReady: () => Promise<boolean>;
  /** Needed as a bearer token for /metrics from outside this machine (unset: this machine only). */
  metricsToken: string | undefined;
  onAlertRefusals: (refusals: AlertRefusal[]) => void;
  rateLimitFor: (patient: string) => number;
  classify: (message: InboundMessage) => InboundMessage['kind'];
  /** Replies are kept locally (no Twilio credentials): serve them to `npm run chat` on GET /dev/outbox. */
  devOutbox?: boolean;
  /** Extra routes a channel needs (the Meta verification handshake). */
  extraRoutes?: (app: express.Express) => void;
};

export function createApp(deps: AppDependencies): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = await deps.isReady().catch(() => false);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready' });
  });
  app.get('/metrics', metricsRoute(deps.metrics, deps.metricsToken));

  if (deps.devOutbox) app.get('/dev/outbox', devOutboxRoute(deps.inbox));

  deps.extraRoutes?.(app);
  for (const { path, webhook, bodyLimit } of deps.webhooks) {
    // Raw bytes, whatever the Content-Type says: the signature is computed over them exactly.
    app.post(path, express.raw({ type: () => true, limit: bodyLimit ?? '64kb' }), webhookRoute({ ...deps, webhook }));
  }

  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: 'no such route' } });
  });
  app.use(errorHandler(deps.logger, deps.metrics));
  return app;
}

/** Turns every error into a clear answer: 4xx with the reason for bad requests, 500 for our faults. */
function errorHandler(logger: Logger, metrics: Metrics): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const channel = req.path.startsWith('/webhooks/meta') ? 'meta' : req.path.startsWith('/webhooks/twilio') ? 'twilio' : 'other';
    const { status, code, message } = describe(error);
    if (channel !== 'other') metrics.webhooks.inc({ channel, outcome: code });
    if (status >= 500) logger.error({ err: error, path: req.path }, 'request failed');
    else logger.warn({ path: req.path, status, code, reason: message }, 'request rejected');
    if (res.headersSent) return;
    res.status(status).json({ error: { code, message } });
  };
}

function describe(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof AppError && error.status) return { status: error.status, code: error.code, message: error.message };
  // body-parser's errors carry their own status (413 too large, 400 aborted, 415 bad charset).
  const e = error as { status?: number; type?: string; message?: string };
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return { status: e.status, code: e.type ?? 'bad_request', message: e.status === 413 ? 'request body is too large' : (e.message ?? 'bad request') };
  }
  return { status: 500, code: 'internal_error', message: 'internal error' };
}
