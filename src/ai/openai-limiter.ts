import type { Metrics } from '../metrics.ts';

/**
 * The one cap on OpenAI calls in flight in this process, shared by the embedder, the chat model, the
 * triage and ingestion. Only the request itself holds a slot: waits between retries happen outside
 * it, so a long Retry-After never starves other patients.
 *
 * `urgent` calls (the emergency triage) go before every ordinary call waiting: an urgent call waits at
 * most for a call in flight.
 *
 * The cap can change while calls run (`setConcurrency`): with several instances on one database it is
 * this instance's share of OPENAI_MAX_CONCURRENCY (see src/worker/instance-heartbeat.ts), which may
 * be 0 for a while. Lowering it never stops a call in flight; it only admits fewer.
 */
export type OpenAILimiter = (<T>(call: () => Promise<T>, options?: { urgent?: boolean }) => Promise<T>) & {
  setConcurrency(concurrency: number): void;
  readonly concurrency: number;
  /** Calls running now. */
  readonly inFlight: number;
};

export function createOpenAILimiter(initialConcurrency: number, metrics?: Metrics): OpenAILimiter {
  let concurrency = initialConcurrency;
  let running = 0;
  const urgent: (() => void)[] = [];
  const ordinary: (() => void)[] = [];
  const queued = () => metrics?.openaiQueued.set(urgent.length + ordinary.length);
  const admit = () => {
    while (running < concurrency && (urgent.length > 0 || ordinary.length > 0)) {
      running++;
      (urgent.shift() ?? ordinary.shift())!();
    }
    queued();
  };

  const limiter = async <T>(call: () => Promise<T>, options?: { urgent?: boolean }): Promise<T> => {
    await new Promise<void>((resolve) => {
      (options?.urgent ? urgent : ordinary).push(resolve);
      admit();
    });
    metrics?.openaiInFlight.inc();
    try {
      return await call();
    } finally {
      metrics?.openaiInFlight.dec();
      running--;
      admit();
    }
  };
  // defineProperties, not Object.assign: assign would copy the getters' values once.
  return Object.defineProperties(limiter, {
    setConcurrency: {
      value: (next: number) => {
        concurrency = Math.max(0, Math.floor(next));
        admit();
      },
    },
    concurrency: { get: () => concurrency },
    inFlight: { get: () => running },
  }) as OpenAILimiter;
}
