import express, { type ErrorRequestHandler } from 'express';

import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Inbox } from '../store/inbox.ts';
import { devOutboxRoute } from './dev-outbox-route.ts';
import { metricsRoute } from './metrics-route.ts';
import { respondWithError } from './respond-with-error.ts';

export type AppDependencies = {
  inbox: Inbox;
  logger: Logger;
  metrics: Metrics;
  /** Database reachable and migrated. */
  isReady: () => Promise<boolean>;
  /** Needed as a bearer token for /metrics from outside this machine (unset: this machine only). */
  metricsToken: string | undefined;
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
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: 'no such route' } });
  });
  app.use(errorHandler(deps.logger, deps.metrics));
  return app;
}

/** Errors of the Express routes; the webhook routes answer theirs themselves, the same way. */
function errorHandler(logger: Logger, metrics: Metrics): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const channel = req.path.startsWith('/webhooks/meta') ? 'meta' : req.path.startsWith('/webhooks/twilio') ? 'twilio' : undefined;
    respondWithError(res, error, { path: req.path, channel, logger, metrics });
  };
}
