import { awaitReplies } from './await-replies.ts';
import { startCpuMeter, type CpuShare } from './machine.ts';
import { prepareOpenLoop } from './open-loop.ts';
import type { Fakes } from './start-fakes.ts';
import { summarize, type Summary } from './stats.ts';
import { patientNumber } from './workload.ts';

/** Twilio gives up on a webhook after 15 s (error 11200). */
const TWILIO_WEBHOOK_TIMEOUT_MS = 15_000;

export type Burst = {
  patients: number;
  /** When the first webhook was due (epoch ms). */
  startedAt: number;
  /** From the first webhook to the last reply accepted by Twilio. */
  totalMs: number;
  /** Each webhook's answer (200), sending to answer. */
  ackMs: Summary;
  /** Answers that came after Twilio would have stopped waiting. */
  acksOver15s: number;
  errors: Record<string, number>;
  openaiMaxInFlight: number;
  openaiCalls: number;
  cpu: CpuShare;
};

/**
 * Many patients write at once (one question each, all sent within a few milliseconds by the load
 * generator's process), then wait for every reply. Answers are waited for however long they take, so
 * that a slow acknowledgement is measured rather than cut off.
 */
export async function patientBurst(options: { url: string; fakes: Fakes; patients: number; timeoutMs: number }): Promise<Burst> {
  const { fakes, patients } = options;
  const load = await prepareOpenLoop({ url: options.url, authToken: fakes.twilio.authToken, rate: 10_000, requests: patients, patients, firstPatient: 0, timeoutMs: options.timeoutMs });
  const replied = awaitReplies(fakes, Array.from({ length: patients }, (_, index) => patientNumber(index)), options.timeoutMs);
  const meter = startCpuMeter(() => [fakes.pid, load.pid]);
  const [result, replies] = await Promise.all([load.go(), replied]);
  const cpu = meter.stop();
  await load.close();
  const stats = await fakes.stats();
  const errors: Record<string, number> = { ...result.errors };
  for (const [status, count] of Object.entries(result.statuses)) if (status !== '200') errors[`HTTP ${status}`] = count;
  return {
    patients,
    startedAt: result.startedAt,
    totalMs: Math.max(...replies.values()) - result.startedAt,
    ackMs: summarize(result.latencyMs),
    acksOver15s: result.latencyMs.filter((ms) => ms > TWILIO_WEBHOOK_TIMEOUT_MS).length,
    errors,
    openaiMaxInFlight: stats.openai.maxInFlight,
    openaiCalls: stats.openai.embeddings + stats.openai.chat,
    cpu,
  };
}
