import { setTimeout as sleep } from 'node:timers/promises';

import { isRetryable } from '../app-error.ts';

export type RetryOptions = {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** No try starts after this much time has passed since the first one. */
  deadlineMs: number;
  /** A server's own wait (Retry-After), honoured only up to maxDelayMs. */
  retryAfterMs?: (error: unknown) => number | undefined;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
};

/**
 * Retries retryable failures with exponential backoff and full jitter, bounded both in tries and in
 * time: a patient is better served by a fallback answer now than by a perfect one in five minutes.
 */
export async function withRetry<T>(call: () => Promise<T>, options: RetryOptions): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const backoff = Math.random() * Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
      const asked = options.retryAfterMs?.(error);
      const delay = Math.min(options.maxDelayMs, Math.max(backoff, asked ?? 0));
      const outOfTime = Date.now() - started + delay > options.deadlineMs;
      if (!isRetryable(error) || attempt >= options.attempts || outOfTime) throw error;
      options.onRetry?.(error, attempt, delay);
      await sleep(delay);
    }
  }
}
