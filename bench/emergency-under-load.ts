import { setTimeout as sleep } from 'node:timers/promises';

import { twilioWebhookRequest } from '../test/support/twilio-webhook-client.ts';
import { waitFor } from '../test/fakes/wait-for.ts';
import type { BenchOptions } from './options.ts';
import { postWebhook, webhookAgent } from './post-webhook.ts';
import { startBenchService } from './start-bench-service.ts';
import type { Fakes } from './start-fakes.ts';
import { summarize, type Summary } from './stats.ts';
import { warmUpWithPictures } from './warm-up-with-pictures.ts';
import { CLINIC_NUMBER, patientNumber, question } from './workload.ts';

export type EmergencyUnderLoad = {
  waitingQuestions: number;
  chatMs: number;
  cap: number;
  /** From an emergency's webhook to its fixed reply accepted by Twilio. */
  replyMs: Summary;
  /** Questions still unanswered when the last emergency reply went out. */
  questionsStillWaiting: number;
  targetMs: number;
};

const STAFF = '+15550990001';

/**
 * Scenario 6: a patient in danger writes while the service is at its busiest. `waitingQuestions`
 * patients have each asked a question that waits on a slow model (OPENAI_MAX_CONCURRENCY 1, chat
 * completions of `chatMs`), every worker slot is taken by them, and then emergencies arrive one after
 * another. Measured: each emergency's webhook to its reply accepted by Twilio, with the staff alerts
 * going out meanwhile.
 */
export async function emergencyUnderLoad(options: BenchOptions, fakes: Fakes, knowledge: Uint8Array): Promise<EmergencyUnderLoad> {
  const { waitingQuestions, chatMs, samples } = options.emergency;
  await fakes.configure({ ...options.latency, chatMs });
  const service = await startBenchService(
    { ...fakes.env, OPENAI_MAX_CONCURRENCY: '1', WORKER_CONCURRENCY: String(Math.min(32, waitingQuestions)), STAFF_ALERT_NUMBERS: STAFF, SHUTDOWN_TIMEOUT_MS: '1000' },
    { knowledge },
  );
  const agent = webhookAgent();
  const url = new URL(`${service.url}/webhooks/twilio`);
  const post = (from: string, body: string) => postWebhook(agent, url, twilioWebhookRequest(url.href, { From: from, To: CLINIC_NUMBER, Body: body }, { authToken: fakes.twilio.authToken }), 15_000);
  const answered = new Set<string>();
  const repliedAt = new Map<string, number>();
  const stopListening = fakes.onReply(({ to, at }) => {
    answered.add(to);
    if (!repliedAt.has(to)) repliedAt.set(to, at);
  });
  try {
    await warmUpWithPictures(service.url, fakes, options.warmUpPictures);
    const askers = Array.from({ length: waitingQuestions }, (_, index) => patientNumber(300_000 + index));
    await Promise.all(askers.map((from, index) => post(from, question(index))));
    // Every slot busy: the worker has claimed the questions and they queue for the one OpenAI slot.
    await waitFor(() => service.worker.busy >= Math.min(32, waitingQuestions), { timeoutMs: 30_000, what: 'every worker slot taken by a question' });
    const durations: number[] = [];
    for (let sample = 0; sample < samples; sample++) {
      const patient = patientNumber(400_000 + sample);
      const sentAt = Date.now();
      // Words the rules of every version recognise, so that a run on an older commit measures the same thing.
      await post(patient, 'I have heavy bleeding and I fainted');
      await waitFor(() => repliedAt.get(patient), { timeoutMs: 60_000, what: `the emergency reply to ${patient}` });
      durations.push(repliedAt.get(patient)! - sentAt);
      await sleep(200);
    }
    return {
      waitingQuestions,
      chatMs,
      cap: 1,
      replyMs: summarize(durations),
      questionsStillWaiting: askers.filter((patient) => !answered.has(patient)).length,
      targetMs: 2_000,
    };
  } finally {
    stopListening();
    agent.destroy();
    await service.stop();
  }
}
