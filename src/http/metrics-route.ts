import { createHash, timingSafeEqual } from 'node:crypto';

import type { RequestHandler } from 'express';

import { AppError } from '../app-error.ts';
import type { Metrics } from '../metrics.ts';
import { fromThisMachine } from './from-this-machine.ts';

/**
 * GET /metrics in Prometheus text format. The series say how many patients write, when, and how the
 * clinic's numbers fare: a scraper on this machine reads them freely, anyone else needs
 * `Authorization: Bearer $METRICS_TOKEN` (and nobody else gets in while it is unset).
 */
export function metricsRoute(metrics: Metrics, token: string | undefined): RequestHandler {
  const expected = token === undefined ? undefined : digest(token);
  return async (req, res) => {
    if (!fromThisMachine(req)) {
      if (expected === undefined) {
        throw new AppError('metrics are served only on this machine: set METRICS_TOKEN to scrape them from elsewhere', { code: 'forbidden', status: 403 });
      }
      const presented = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
      // Digests of equal length, so that the comparison takes the same time whatever was presented.
      if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
        res.set('www-authenticate', 'Bearer realm="metrics"');
        throw new AppError('GET /metrics needs Authorization: Bearer <METRICS_TOKEN>', { code: 'unauthorized', status: 401 });
      }
    }
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
