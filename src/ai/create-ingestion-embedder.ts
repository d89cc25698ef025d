import { createAdaptiveLimit } from './adaptive-limit.ts';
import type { Embedder } from './models.ts';
import { createOpenAIModels, type OpenAIModelsOptions } from './openai-models.ts';
import type { RetryOptions } from './with-retry.ts';

/**
 * A bulk job can wait where a patient cannot: many more tries over a quarter of an hour, and a
 * Retry-After of up to a minute honoured (outside the shared limiter's slot, see with-retry.ts).
 */
const INGESTION_RETRY: Omit<RetryOptions, 'retryAfterMs'> = {
  attempts: 12,
  baseDelayMs: 1_000,
  maxDelayMs: 60_000,
  deadlineMs: 15 * 60_000,
};

export type IngestionEmbedderOptions = Omit<OpenAIModelsOptions, 'retry'> & {
  /** OPENAI_MAX_CONCURRENCY: the most batches this embedder sends at once, before any slow-down. */
  maxConcurrency: number;
  /** Overrides of the retry policy; its onRetry is told of each retry (a 429, a 5xx, a timeout). */
  retry?: Partial<RetryOptions>;
};

/**
 * The embedder for ingestion: the same OpenAI client code and shared limiter as the service, with
 * patient retries, and an adaptive cap in front of it so that rate limiting slows the run down
 * (each retry halves the batches in flight) instead of failing it.
 */
export function createIngestionEmbedder(options: IngestionEmbedderOptions): Embedder {
  const gate = createAdaptiveLimit(options.maxConcurrency);
  const { embedder } = createOpenAIModels({
    ...options,
    // One request may carry 2,048 inputs: give it time.
    timeoutMs: Math.max(options.timeoutMs, 60_000),
    retry: {
      ...INGESTION_RETRY,
      ...options.retry,
      onRetry: (error, attempt, delayMs) => {
        gate.slowDown();
        options.retry?.onRetry?.(error, attempt, delayMs);
      },
    },
  });
  return { embed: (texts) => gate.run(() => embedder.embed(texts)) };
}
