export type AdaptiveLimit = {
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Halves how many tasks may run at once (not below one). */
  slowDown(): void;
  readonly concurrency: number;
};

/**
 * A concurrency cap that gives way under pressure: halved on each slowDown() (a 429), grown back by
 * one after as many successes in a row as the current cap, up to `max` (additive increase,
 * multiplicative decrease). A bulk job put behind it backs off when the provider pushes back instead
 * of every one of its requests hitting the limit again.
 */
export function createAdaptiveLimit(max: number): AdaptiveLimit {
  let concurrency = Math.max(1, max);
  let active = 0;
  let successes = 0;
  const waiting: (() => void)[] = [];
  const next = () => {
    while (active < concurrency && waiting.length > 0) {
      active++;
      waiting.shift()!();
    }
  };
  return {
    async run(task) {
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        next();
      });
      try {
        const result = await task();
        if (++successes >= concurrency && concurrency < max) {
          concurrency++;
          successes = 0;
        }
        return result;
      } finally {
        active--;
        next();
      }
    },
    slowDown() {
      concurrency = Math.max(1, Math.floor(concurrency / 2));
      successes = 0;
    },
    get concurrency() {
      return concurrency;
    },
  };
}
