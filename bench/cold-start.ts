import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startBlockingService } from './blocking-baseline.ts';
import { prepareOpenLoop, type OpenLoopResult } from './open-loop.ts';
import type { BenchOptions } from './options.ts';
import { freePort, startServiceProcess } from './service-process.ts';
import type { Fakes } from './start-fakes.ts';
import { summarize, type Summary } from './stats.ts';

export type ColdRun = {
  case: 'new data directory' | 'data directory reopened' | 'blocking handler';
  /** From the spawn to the first 200 of /readyz (the blocking handler: from its start to listening). */
  readyMs: number;
  rate: number;
  sent: number;
  /** Every request's acknowledgement; one that timed out counts as the timeout (a lower bound). */
  latencyMs: Summary;
  /** Requests the generator gave up on after Twilio's 15 s: Twilio's error 11200, and a redelivery. */
  timedOut: number;
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

/** Twilio waits this long for a webhook's answer, then logs error 11200 and gives up. */
const TWILIO_TIMEOUT_MS = 15_000;

/**
 * Scenario 9. A fresh process meets the load at once, as after a deploy or a restart when the
 * providers redeliver their backlog: the service started as `npm start` starts it, on disk, and signed
 * Twilio webhooks at `rate` a second from the moment /readyz first answers 200, while the pipeline is
 * busy with the fakes' latency. Twice: on a new data directory, then on the same one reopened.
 * Measured: start to ready, and the acknowledgement latency of every webhook. Then, for the ratio,
 * the same load on a fresh blocking handler (blocking-baseline.ts), which answers inside the request.
 */
export async function coldStart(options: BenchOptions, fakes: Fakes, knowledge: Uint8Array): Promise<ColdRun[]> {
  await fakes.configure(options.latency);
  const dir = await mkdtemp(join(tmpdir(), 'clinic-bench-cold-'));
  const runs: ColdRun[] = [];
  try {
    for (const [index, what] of (['new data directory', 'data directory reopened'] as const).entries()) {
      const port = await freePort();
      const { rate, seconds } = options.cold;
      // Every request is signed before the service starts: the generator is ready the moment it is.
      const generator = await prepareOpenLoop({
        url: `http://127.0.0.1:${port}/webhooks/twilio`, authToken: fakes.twilio.authToken, timeoutMs: TWILIO_TIMEOUT_MS,
        rate, requests: rate * seconds, patients: 2_000, firstPatient: 300_000 + index * 100_000,
      });
      const service = await startServiceProcess({ ...fakes.env, DATA_DIR: join(dir, 'data') }, { port });
      try {
        runs.push(coldRun(what, service.readyMs, rate, await generator.go()));
      } finally {
        await generator.close();
        await service.stop();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  // The blocking handler runs in this process on an in-memory database: at about 1.4 s of waiting per
  // request, one at a time, where it runs and how warm it is make no difference to its figures.
  const { rate, seconds } = options.cold;
  const startedAt = performance.now();
  const blocking = await startBlockingService(fakes, knowledge);
  const readyMs = Math.round(performance.now() - startedAt);
  const generator = await prepareOpenLoop({
    url: `${blocking.url}/webhooks/twilio`, authToken: fakes.twilio.authToken, timeoutMs: TWILIO_TIMEOUT_MS,
    rate, requests: rate * seconds, patients: 2_000, firstPatient: 500_000,
  });
  try {
    runs.push(coldRun('blocking handler', readyMs, rate, await generator.go()));
  } finally {
    await generator.close();
    await blocking.stop();
  }
  return runs;
}

function coldRun(what: ColdRun['case'], readyMs: number, rate: number, result: OpenLoopResult): ColdRun {
  const timedOut = result.errors.timeout ?? 0;
  const errors = Object.values(result.errors).reduce((a, b) => a + b, 0) + Object.entries(result.statuses).filter(([status]) => status !== '200').reduce((a, [, n]) => a + n, 0);
  const latencyMs = [...result.latencyMs, ...Array<number>(timedOut).fill(TWILIO_TIMEOUT_MS)];
  return { case: what, readyMs, rate, sent: result.sent, latencyMs: summarize(latencyMs), timedOut, slowestByHalfSecondMs: slowestByWindow(result.latencyMs, rate / 2), errors };
}
