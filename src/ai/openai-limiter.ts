import pLimit from 'p-limit';

import type { Metrics } from '../metrics.ts';

/**
 * The one cap on OpenAI calls in flight in this process (OPENAI_MAX_CONCURRENCY), shared by the
 * embedder, the chat model and ingestion. Only the request itself holds a slot: waits between retries
 * happen outside it, so a long Retry-After never starves other patients.
 */
export type OpenAILimiter = <T>(call: () => Promise<T>) => Promise<T>;

export function createOpenAILimiter(concurrency: number, metrics?: Metrics): OpenAILimiter {
  const limit = pLimit(concurrency);
  return (call) => {
    const run = limit(async () => {
      metrics?.openaiInFlight.inc();
      metrics?.openaiQueued.set(limit.pendingCount);
      try {
        return await call();
      } finally {
        metrics?.openaiInFlight.dec();
      }
    });
    metrics?.openaiQueued.set(limit.pendingCount);
    return run;
  };
}
