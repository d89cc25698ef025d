import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { prepareOpenLoop } from './open-loop.ts';
import type { BenchOptions } from './options.ts';
import { freePort, startServiceProcess } from './service-process.ts';
import type { Fakes } from './start-fakes.ts';
import { summarize, type Summary } from './stats.ts';

export type ColdRun = {
  case: 'new data directory' | 'data directory reopened';
  /** From the spawn to the first 200 of /readyz. */
  readyMs: number;
  rate: number;
  sent: number;
  latencyMs: Summary;
  /** The slowest acknowledgement of each half second from the first ready: where the tail falls. */
  slowestByHalfSecondMs: number[];
  errors: number;
};

/** The largest of each `size` consecutive latencies (in the order sent: a window of time at a fixed rate). */
function slowestByWindow(latencyMs: number[], size: number): number[] {
  const slowest: number[] = [];
  for (let start = 0; start < latencyMs.length; start += size) slowest.push(Math.round(Math.max(...latencyMs.slice(start, start + size))));
  return slowest;
}

/** The goal for acknowledgements from the first ready on: p99 under this. */
export const COLD_TARGET_P99_MS = 50;

/**
 * Scenario 9. A fresh process meets the load at once, as after a deploy or a restart when the
 * providers redeliver their backlog: the service started as `npm start` starts it, on disk, and signed
 * Twilio webhooks at `rate` a second from the moment /readyz first answers 200, while the pipeline is
 * busy with the fakes' latency. Twice: on a new data directory, then on the same one reopened.
 * Measured: start to ready, and the acknowledgement latency of every webhook.
 */
export async function coldStart(options: BenchOptions, fakes: Fakes): Promise<ColdRun[]> {
  await fakes.configure(options.latency);
  const dir = await mkdtemp(join(tmpdir(), 'clinic-bench-cold-'));
  const runs: ColdRun[] = [];
  try {
    for (const [index, what] of (['new data directory', 'data directory reopened'] as const).entries()) {
      const port = await freePort();
      const { rate, seconds } = options.cold;
      // Every request is signed before the service starts: the generator is ready the moment it is.
      const generator = await prepareOpenLoop({
        url: `http://127.0.0.1:${port}/webhooks/twilio`, authToken: fakes.twilio.authToken, timeoutMs: 15_000,
        rate, requests: rate * seconds, patients: 2_000, firstPatient: 300_000 + index * 100_000,
      });
      const service = await startServiceProcess({ ...fakes.env, DATA_DIR: join(dir, 'data') }, { port });
      try {
        const result = await generator.go();
        const errors = Object.values(result.errors).reduce((a, b) => a + b, 0) + Object.entries(result.statuses).filter(([status]) => status !== '200').reduce((a, [, n]) => a + n, 0);
        runs.push({ case: what, readyMs: service.readyMs, rate, sent: result.sent, latencyMs: summarize(result.latencyMs), slowestByHalfSecondMs: slowestByWindow(result.latencyMs, rate / 2), errors });
      } finally {
        await generator.close();
        await service.stop();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return runs;
}
