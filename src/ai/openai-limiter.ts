import pLimit from 'p-limit';

import type { Metrics } from '../metrics.ts';

/**
 * The one cap on OpenAI calls in flight in this process (OPENAI_MAX_CONCURRENCY), shared by the
 * embedder, the chat model, the triage and ingestion. Only the request itself holds a slot: waits
 * between retries happen outside it, so a long Retry-After never starves other patients.
 *
 * `urgent` calls (the emergency triage) go to the front of the queue: p-limit keeps the cap, and an
 * ordinary call enters p-limit only when a slot is free for it, so p-limit's own queue never holds
 * ordinary calls for an urgent one to wait behind. An urgent call waits at most for a call in flight.
 */
export type OpenAILimiter = <T>(call: () => Promise<T>, options?: { urgent?: boolean }) => Promise<T>;

export function createOpenAILimiter(concurrency: number, metrics?: Metrics): OpenAILimiter {
  const limit = pLimit(concurrency);
  /** Ordinary calls waiting for a free slot, in order. */
  const waiting: (() => void)[] = [];
  /** Calls handed to p-limit and not finished, counted here so that admission is decided synchronously. */
  let admitted = 0;
  const queued = () => metrics?.openaiQueued.set(waiting.length + limit.pendingCount);
  const admitNext = () => {
    while (waiting.length > 0 && admitted < concurrency) {
      admitted++;
      waiting.shift()!();
    }
    queued();
  };
  const run = <T>(call: () => Promise<T>) =>
    limit(async () => {
      metrics?.openaiInFlight.inc();
      queued();
      try {
        return await call();
      } finally {
        metrics?.openaiInFlight.dec();
        admitted--;
        admitNext();
      }
    });

  return (call, options) => {
    if (options?.urgent || (waiting.length === 0 && admitted < concurrency)) {
      admitted++;
      const running = run(call);
      queued();
      return running;
    }
    const turn = new Promise<void>((resolve) => waiting.push(resolve));
    queued();
    return turn.then(() => run(call));
  };
}
