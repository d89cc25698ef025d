import { waitFor } from '../test/fakes/wait-for.ts';
import { twilioWebhookRequest } from '../test/support/twilio-webhook-client.ts';
import type { RunningService } from '../src/main.ts';
import { awaitReplies } from './await-replies.ts';
import { epochMs } from './clock.ts';
import { startCpuMeter, type CpuShare } from './machine.ts';
import type { BenchOptions } from './options.ts';
import { postWebhook, webhookAgent } from './post-webhook.ts';
import { startBenchService } from './start-bench-service.ts';
import { warmUpWithPictures } from './warm-up-with-pictures.ts';
import type { Fakes } from './start-fakes.ts';
import { summarize, type Summary } from './stats.ts';
import { CLINIC_NUMBER, patientNumber, question } from './workload.ts';

const STAGES = ['embed', 'history', 'search', 'generate', 'send'] as const;
type Stage = (typeof STAGES)[number];

export type EndToEnd = {
  samples: number;
  /** Webhook sent to reply accepted by Twilio. */
  endToEndMs: Summary;
  /** The slower of embedding (as configured) and history (measured), plus search (measured), chat and send (as configured). */
  criticalPathMs: Summary;
  /** endToEnd − criticalPath, message by message: what the service adds. */
  overheadMs: Summary;
  /** Each stage as the service timed it (clinic_pipeline_stage_seconds), means. */
  stageMeanMs: Record<Stage, number>;
  ackMs: Summary;
  cpu: CpuShare;
};

/**
 * Scenario 2. One patient at a time: a webhook, then wait for the reply at the fake Twilio, against
 * the critical path of that very message. Patients write ten messages each (so that history has
 * something to load), one after the other's reply, as a person would.
 */
export async function endToEnd(options: BenchOptions, fakes: Fakes, knowledge: Uint8Array): Promise<EndToEnd> {
  await fakes.configure(options.latency);
  const service = await startBenchService({ ...fakes.env, SHUTDOWN_TIMEOUT_MS: '1000' }, { knowledge });
  const agent = webhookAgent();
  try {
    const url = `${service.url}/webhooks/twilio`;
    const ask = async (patient: string, index: number) => {
      const replied = awaitReplies(fakes, [patient], 30_000);
      const before = await stageSeconds(service);
      const request = twilioWebhookRequest(url, { From: patient, To: CLINIC_NUMBER, Body: question(index) }, { authToken: fakes.twilio.authToken });
      const sentAt = epochMs();
      const outcome = await postWebhook(agent, new URL(url), request, 15_000);
      const ackMs = epochMs() - sentAt;
      if (!('status' in outcome) || outcome.status !== 200) throw new Error(`webhook not accepted: ${JSON.stringify(outcome)}`);
      const repliedAt = (await replied).get(patient)!;
      // The send stage is recorded once the service has Twilio's answer, just after the fake reports it.
      await waitFor(() => service.worker.busy === 0, { what: 'the worker to finish the message' });
      const after = await stageSeconds(service);
      const stages = Object.fromEntries(STAGES.map((stage) => [stage, (after[stage] - before[stage]) * 1000])) as Record<Stage, number>;
      return { ackMs, endToEndMs: repliedAt - sentAt, stages };
    };

    // Warm-up (JIT, keep-alive connections to the fakes), from patients not measured.
    await warmUpWithPictures(service.url, fakes, options.warmUpPictures);
    for (let index = 0; index < 3; index++) await ask(patientNumber(800_000), index);

    const meter = startCpuMeter(() => [fakes.pid]);
    const samples: Awaited<ReturnType<typeof ask>>[] = [];
    for (let index = 0; index < options.endToEnd.samples; index++) samples.push(await ask(patientNumber(810_000 + Math.floor(index / 10)), index));
    const cpu = meter.stop();

    const { embeddingMs, chatMs, sendMs } = options.latency;
    const criticalPath = samples.map(({ stages }) => Math.max(embeddingMs, stages.history) + stages.search + chatMs + sendMs);
    return {
      samples: samples.length,
      endToEndMs: summarize(samples.map((sample) => sample.endToEndMs)),
      criticalPathMs: summarize(criticalPath),
      overheadMs: summarize(samples.map((sample, index) => sample.endToEndMs - criticalPath[index]!)),
      stageMeanMs: Object.fromEntries(STAGES.map((stage) => [stage, samples.reduce((sum, sample) => sum + sample.stages[stage], 0) / samples.length])) as Record<Stage, number>,
      ackMs: summarize(samples.map((sample) => sample.ackMs)),
      cpu,
    };
  } finally {
    agent.destroy();
    await service.stop();
  }
}

/** The running sum of each stage's latency, from clinic_pipeline_stage_seconds. */
async function stageSeconds(service: RunningService): Promise<Record<Stage, number>> {
  const sums = Object.fromEntries(STAGES.map((stage) => [stage, 0])) as Record<Stage, number>;
  for (const value of (await service.metrics.stageSeconds.get()).values) {
    const stage = value.labels.stage as Stage;
    if (value.metricName === 'clinic_pipeline_stage_seconds_sum' && stage in sums) sums[stage] = value.value;
  }
  return sums;
}
