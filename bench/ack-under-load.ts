import { waitFor } from '../test/fakes/wait-for.ts';
import { startCpuMeter, type CpuShare } from './machine.ts';
import { prepareOpenLoop, type OpenLoopPlan } from './open-loop.ts';
import type { BenchOptions } from './options.ts';
import { startBenchService } from './start-bench-service.ts';
import type { Fakes } from './start-fakes.ts';
import { summarize, type Summary } from './stats.ts';

export type AckAtRate = {
  rate: number;
  /** 'stopped': the same rate with the worker stopped, for contrast (webhooks alone on the database). */
  pipeline: 'busy' | 'stopped';
  sent: number;
  /** Sending to answer, for every request answered. */
  latencyMs: Summary;
  /** How late the generator sent its requests, against their schedule. */
  generatorLagMs: Summary;
  /** Requests answered but not 200, plus requests never answered (timeout, reset), by reason. */
  errors: Record<string, number>;
  /** Replies sent to patients while the load ran: the pipeline was busy meanwhile. */
  answeredDuringLoad: number;
  openaiMaxInFlight: number;
  /** Messages waiting in the inbox when the load ended. */
  inboxPending: number;
  cpu: CpuShare;
};

/** Warm-up load, at this rate: enough for V8 and the database's WebAssembly to have compiled what is hot. */
const WARM_UP_RATE = 200;

/**
 * Scenario 1. Signed Twilio webhooks at fixed rates, from a load generator in its own process, to the
 * real service on the embedded database, while its pipeline answers them: every webhook is a
 * question, so the pipeline stays full (at OPENAI_MAX_CONCURRENCY it answers about 3 a second; the
 * rest wait in the inbox, as they would in a burst). One service for all rates, as a running service
 * would be, warmed up first: a fresh process spends its first ten seconds or so compiling (V8 and the
 * database's WebAssembly tier up on other threads), which is not what a running service does.
 */
export async function ackUnderLoad(options: BenchOptions, fakes: Fakes, knowledge: Uint8Array): Promise<{ warmUpSeconds: number; rates: AckAtRate[] }> {
  await fakes.configure(options.latency);
  const service = await startBenchService({ ...fakes.env, OPENAI_MAX_CONCURRENCY: String(options.ack.maxConcurrency), SHUTDOWN_TIMEOUT_MS: '1000' }, { knowledge });
  const rates: AckAtRate[] = [];
  try {
    const plan = { url: `${service.url}/webhooks/twilio`, authToken: fakes.twilio.authToken, timeoutMs: 15_000, patients: options.ack.patients };
    const run = async (load: Omit<OpenLoopPlan, keyof typeof plan>) => {
      const generator = await prepareOpenLoop({ ...plan, ...load });
      const meter = startCpuMeter(() => [fakes.pid, generator.pid]);
      const result = await generator.go();
      const cpu = meter.stop();
      await generator.close();
      return { result, cpu };
    };

    // Patients of each run are numbered apart, so that none of them reaches the per-patient rate limit.
    await run({ rate: WARM_UP_RATE, requests: WARM_UP_RATE * options.ack.warmUpSeconds, firstPatient: 900_000 });
    await waitFor(async () => (await fakes.stats()).twilio.messages >= options.ack.maxConcurrency, { timeoutMs: 60_000, what: 'the first replies' });

    const measure = async (rate: number, seconds: number, firstPatient: number, pipeline: AckAtRate['pipeline']) => {
      await fakes.resetMaxInFlight();
      const before = await fakes.stats();
      const { result, cpu } = await run({ rate, requests: Math.round(rate * seconds), firstPatient });
      const after = await fakes.stats();
      const errors: Record<string, number> = { ...result.errors };
      for (const [status, count] of Object.entries(result.statuses)) if (status !== '200') errors[`HTTP ${status}`] = count;
      rates.push({
        rate,
        pipeline,
        sent: result.sent,
        latencyMs: summarize(result.latencyMs),
        generatorLagMs: summarize(result.lateMs),
        errors,
        answeredDuringLoad: after.twilio.messages - before.twilio.messages,
        openaiMaxInFlight: after.openai.maxInFlight,
        inboxPending: (await service.inbox.stats()).pending ?? 0,
        cpu,
      });
    };
    for (const [index, rate] of options.ack.rates.entries()) await measure(rate, options.ack.seconds, index * 100_000, 'busy');
    if (options.ack.contrastRate > 0) {
      // The same service with its worker stopped (for half as long): what the webhooks cost alone.
      await service.worker.stop(1_000);
      await measure(options.ack.contrastRate, options.ack.seconds / 2, 600_000, 'stopped');
    }
  } finally {
    await service.stop();
  }
  return { warmUpSeconds: options.ack.warmUpSeconds, rates };
}
