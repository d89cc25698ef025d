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
import { CLINIC_NUMBER, followUp, patientNumber, question } from './workload.ts';

const STAGES = ['embed', 'history', 'rewrite', 'search', 'generate', 'send'] as const;
type Stage = (typeof STAGES)[number];
type StageTotals = Record<Stage, { seconds: number; count: number }>;

export type EndToEndKind = {
  samples: number;
  /** Webhook sent to reply accepted by Twilio. */
  endToEndMs: Summary;
  /** See criticalPath() below. */
  criticalPathMs: Summary;
  /** endToEnd − criticalPath, message by message: what the service adds. */
  overheadMs: Summary;
  /** Each stage as the service timed it (clinic_pipeline_stage_seconds), means per message. */
  stageMeanMs: Record<Stage, number>;
  ackMs: Summary;
};

export type EndToEnd = EndToEndKind & {
  /** Follow-ups ("Does it hurt?") after a question: rewritten into a standalone query first. */
  followUps: EndToEndKind;
  cpu: CpuShare;
};

/**
 * Scenario 2. One patient at a time: a webhook, then wait for the reply at the fake Twilio, against
 * the critical path of that very message. Patients write ten questions each (so that history has
 * something to load), one after the other's reply, as a person would; every other question is
 * followed by a follow-up that leans on it, measured apart, since the service rewrites those first.
 */
export async function endToEnd(options: BenchOptions, fakes: Fakes, knowledge: Uint8Array): Promise<EndToEnd> {
  await fakes.configure(options.latency);
  const service = await startBenchService({ ...fakes.env, SHUTDOWN_TIMEOUT_MS: '1000' }, { knowledge });
  const agent = webhookAgent();
  try {
    const url = `${service.url}/webhooks/twilio`;
    const ask = async (patient: string, body: string) => {
      const replied = awaitReplies(fakes, [patient], 30_000);
      const before = await stageTotals(service);
      const request = twilioWebhookRequest(url, { From: patient, To: CLINIC_NUMBER, Body: body }, { authToken: fakes.twilio.authToken });
      const sentAt = epochMs();
      const outcome = await postWebhook(agent, new URL(url), request, 15_000);
      const ackMs = epochMs() - sentAt;
      if (!('status' in outcome) || outcome.status !== 200) throw new Error(`webhook not accepted: ${JSON.stringify(outcome)}`);
      const repliedAt = (await replied).get(patient)!;
      // The send stage is recorded once the service has Twilio's answer, just after the fake reports it.
      await waitFor(() => service.worker.busy === 0, { what: 'the worker to finish the message' });
      const after = await stageTotals(service);
      const stages = Object.fromEntries(
        STAGES.map((stage) => [stage, { seconds: after[stage].seconds - before[stage].seconds, count: after[stage].count - before[stage].count }]),
      ) as StageTotals;
      return { ackMs, endToEndMs: repliedAt - sentAt, stages };
    };

    // Warm-up (JIT, keep-alive connections to the fakes), from patients not measured.
    await warmUpWithPictures(service.url, fakes, options.warmUpPictures);
    for (let index = 0; index < 3; index++) await ask(patientNumber(800_000), question(index));
    await ask(patientNumber(800_000), followUp(0));

    const meter = startCpuMeter(() => [fakes.pid]);
    const questions: Sample[] = [];
    const followUps: Sample[] = [];
    for (let index = 0; index < options.endToEnd.samples; index++) {
      const patient = patientNumber(810_000 + Math.floor(index / 10));
      questions.push(await ask(patient, question(index)));
      if (index % 2 === 1) followUps.push(await ask(patient, followUp(index >> 1)));
    }
    const cpu = meter.stop();
    return { ...summarizeKind(questions, options), followUps: summarizeKind(followUps, options), cpu };
  } finally {
    agent.destroy();
    await service.stop();
  }
}

type Sample = { ackMs: number; endToEndMs: number; stages: StageTotals };

/**
 * The critical path of one message: what it had to wait for however fast the service itself was.
 * The embedding (as configured) runs beside the history load (measured) and, for a follow-up, the
 * rewrite that follows it (a chat completion, as configured); a rewrite that changed the query is
 * embedded again. Then the search (measured), the chat completion and the send (as configured).
 */
function criticalPath(stages: StageTotals, { embeddingMs, chatMs, sendMs }: BenchOptions['latency']): number {
  const history = stages.history.seconds * 1000;
  const rewrite = stages.rewrite.count > 0 ? chatMs : 0;
  const reEmbedding = stages.embed.count > 1 ? embeddingMs : 0;
  return Math.max(embeddingMs, history + rewrite) + reEmbedding + stages.search.seconds * 1000 + chatMs + sendMs;
}

function summarizeKind(samples: Sample[], options: BenchOptions): EndToEndKind {
  const paths = samples.map((sample) => criticalPath(sample.stages, options.latency));
  return {
    samples: samples.length,
    endToEndMs: summarize(samples.map((sample) => sample.endToEndMs)),
    criticalPathMs: summarize(paths),
    overheadMs: summarize(samples.map((sample, index) => sample.endToEndMs - paths[index]!)),
    stageMeanMs: Object.fromEntries(
      STAGES.map((stage) => [stage, samples.reduce((sum, sample) => sum + sample.stages[stage].seconds * 1000, 0) / Math.max(1, samples.length)]),
    ) as Record<Stage, number>,
    ackMs: summarize(samples.map((sample) => sample.ackMs)),
  };
}

/** The running sum and count of each stage's latency, from clinic_pipeline_stage_seconds. */
async function stageTotals(service: RunningService): Promise<StageTotals> {
  const totals = Object.fromEntries(STAGES.map((stage) => [stage, { seconds: 0, count: 0 }])) as StageTotals;
  for (const value of (await service.metrics.stageSeconds.get()).values) {
    const stage = totals[value.labels.stage as Stage];
    if (!stage) continue;
    if (value.metricName === 'clinic_pipeline_stage_seconds_sum') stage.seconds = value.value;
    if (value.metricName === 'clinic_pipeline_stage_seconds_count') stage.count = value.value;
  }
  return totals;
}
