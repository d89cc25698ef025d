import type { BenchOptions } from './options.ts';
import { patientBurst, type Burst } from './patient-burst.ts';
import { warmUpWithPictures } from './warm-up-with-pictures.ts';
import { slotUse, type SlotUse } from './slot-use.ts';
import { startBenchService } from './start-bench-service.ts';
import type { Fakes, Latency } from './start-fakes.ts';

export type AtCap = Burst & { cap: number; boundMs: number; ratio: number; slots: SlotUse };

/**
 * The least time N patients can be answered in through a cap of C OpenAI calls at once. Each patient
 * needs an embedding (e), the model's triage (t, beside it) and then a chat completion (c), so the
 * calls add up to N·(e + t + c) ms, which C slots get through in no less than N·(e + t + c)/C. And since no chat starts before the first
 * embedding is back, and at most C run at once, the N chats need at least e + ⌈N/C⌉·c (this one
 * counts when N is small against C). The last reply then still has to be sent (s). Database time and
 * the webhooks themselves are left out: this is the bound the cap sets, not one the service could
 * reach exactly.
 */
export function capBoundMs(patients: number, cap: number, latency: Latency): number {
  const { embeddingMs: e, chatMs: c, triageMs: t, sendMs: s } = latency;
  return Math.max((patients * (e + t + c)) / cap, e + Math.ceil(patients / cap) * c) + s;
}

/**
 * Scenario 3 at one cap: a fresh service with OPENAI_MAX_CONCURRENCY = cap, warmed up by pictures
 * (webhook, inbox, worker and Twilio client, without an OpenAI call), then a burst of patients.
 */
export async function throughputAtCap(options: BenchOptions, fakes: Fakes, knowledge: Uint8Array, cap: number): Promise<AtCap> {
  await fakes.configure(options.latency);
  const service = await startBenchService({ ...fakes.env, OPENAI_MAX_CONCURRENCY: String(cap), SHUTDOWN_TIMEOUT_MS: '1000' }, { knowledge });
  try {
    await warmUpWithPictures(service.url, fakes, options.warmUpPictures);
    const boundMs = capBoundMs(options.throughput.patients, cap, options.latency);
    const burst = await patientBurst({ url: `${service.url}/webhooks/twilio`, fakes, patients: options.throughput.patients, timeoutMs: boundMs * 3 + 60_000 });
    return { cap, boundMs, ratio: burst.totalMs / boundMs, ...burst, slots: slotUse(await fakes.calls(), cap, burst.startedAt) };
  } finally {
    await service.stop();
  }
}
