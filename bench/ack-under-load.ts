import { startCpuMeter, type CpuShare } from './machine.ts';
import { prepareOpenLoop } from './open-loop.ts';
import type { BenchOptions } from './options.ts';
import { startBenchService } from './start-bench-service.ts';
import type { Fakes } from './start-fakes.ts';
import { summarize, type Summary } from './stats.ts';

export type AckAtRate = {
  rate: number;
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
  cpu: CpuShare;
};

/**
 * Scenario 1. Signed Twilio webhooks at a fixed rate, from a load generator in its own process, to
 * the real service on the embedded database, while its pipeline answers them (every webhook is a
 * question, so the pipeline stays full). A fresh service for each rate, warmed up by a short run.
 */
export async function ackUnderLoad(options: BenchOptions, fakes: Fakes, knowledge: Uint8Array): Promise<AckAtRate[]> {
  const results: AckAtRate[] = [];
  for (const rate of options.ack.rates) {
    await fakes.configure(options.latency);
    const service = await startBenchService({ ...fakes.env, OPENAI_MAX_CONCURRENCY: String(options.ack.maxConcurrency), SHUTDOWN_TIMEOUT_MS: '1000' }, { knowledge });
    try {
      const plan = { url: `${service.url}/webhooks/twilio`, authToken: fakes.twilio.authToken, timeoutMs: 15_000 };
      // Warm-up (JIT, connections), from patients the measured run does not use.
      const warmUp = await prepareOpenLoop({ ...plan, rate: 100, requests: 100, patients: 100, firstPatient: 900_000 });
      await warmUp.go();
      await warmUp.close();

      const load = await prepareOpenLoop({ ...plan, rate, requests: Math.round(rate * options.ack.seconds), patients: options.ack.patients, firstPatient: 0 });
      const answeredBefore = (await fakes.stats()).twilio.messages;
      const meter = startCpuMeter(() => [fakes.pid, load.pid]);
      const result = await load.go();
      const cpu = meter.stop();
      await load.close();
      const after = await fakes.stats();
      const errors: Record<string, number> = { ...result.errors };
      for (const [status, count] of Object.entries(result.statuses)) if (status !== '200') errors[`HTTP ${status}`] = count;
      results.push({
        rate,
        sent: result.sent,
        latencyMs: summarize(result.latencyMs),
        generatorLagMs: summarize(result.lateMs),
        errors,
        answeredDuringLoad: after.twilio.messages - answeredBefore,
        openaiMaxInFlight: after.openai.maxInFlight,
        cpu,
      });
    } finally {
      await service.stop();
    }
  }
  return results;
}
