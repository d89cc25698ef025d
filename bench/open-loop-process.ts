// An open-loop load generator, in a process of its own: it sends signed Twilio webhooks at a fixed
// rate, each at its scheduled time whether or not earlier ones were answered (a closed loop, which
// waits for answers, would slow down with the server and hide its queueing). Requests, signatures
// included, are built as bytes before the clock starts, and sent by a minimal client
// (raw-webhook-client.ts), so that the generator takes as little of the machine as it can. Driven by
// bench/open-loop.ts.
import { twilioWebhookRequest } from '../test/support/twilio-webhook-client.ts';
import { epochMs } from './clock.ts';
import type { OpenLoopMessage, OpenLoopPlan, OpenLoopResult } from './open-loop.ts';
import { rawWebhookClient, requestBytes } from './raw-webhook-client.ts';
import { CLINIC_NUMBER, patientNumber, question } from './workload.ts';

if (!process.send) throw new Error('open-loop-process.ts runs as a child of bench/open-loop.ts');
const send = (message: OpenLoopMessage) => process.send!(message);

const MEDIA = { Body: '', NumMedia: '1', MediaUrl0: 'https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM0/Media/ME0', MediaContentType0: 'image/jpeg' };

let prepared: { plan: OpenLoopPlan; requests: Buffer[] } | undefined;

process.on('message', (message: { op: 'prepare'; plan: OpenLoopPlan } | { op: 'go' }) => {
  if (message.op === 'prepare') {
    const { plan } = message;
    const url = new URL(plan.url);
    const requests = Array.from({ length: plan.requests }, (_, index) =>
      requestBytes(
        url,
        twilioWebhookRequest(
          plan.url,
          { From: patientNumber(plan.firstPatient + (index % plan.patients)), To: CLINIC_NUMBER, ...(plan.media ? MEDIA : { Body: question(index) }) },
          { authToken: plan.authToken },
        ),
      ),
    );
    prepared = { plan, requests };
    send({ event: 'prepared' });
  } else if (prepared) {
    void run(prepared.plan, prepared.requests).then((result) => {
      send({ event: 'done', result });
    });
  }
});

async function run(plan: OpenLoopPlan, requests: Buffer[]): Promise<OpenLoopResult> {
  const client = rawWebhookClient(new URL(plan.url));
  const intervalMs = 1000 / plan.rate;
  const latencyMs = new Float64Array(requests.length).fill(Number.NaN);
  const lateMs = new Float64Array(requests.length);
  const statuses: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const inFlight: Promise<void>[] = [];
  const cpuBefore = process.cpuUsage();
  const startedAt = epochMs();
  let next = 0;

  const fire = (index: number, scheduledAt: number) => {
    const sentAt = epochMs();
    lateMs[index] = sentAt - scheduledAt;
    inFlight.push(
      client.post(requests[index]!, plan.timeoutMs).then((outcome) => {
        if ('status' in outcome) {
          latencyMs[index] = epochMs() - sentAt;
          statuses[outcome.status] = (statuses[outcome.status] ?? 0) + 1;
        } else {
          errors[outcome.error] = (errors[outcome.error] ?? 0) + 1;
        }
      }),
    );
  };
  // Every millisecond or so, send whatever is due by now; no busy loop, the CPU is shared with the server.
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = epochMs();
      while (next < requests.length && startedAt + next * intervalMs <= now) {
        fire(next, startedAt + next * intervalMs);
        next++;
      }
      if (next < requests.length) setTimeout(tick, Math.max(0, startedAt + next * intervalMs - epochMs()));
      else resolve();
    };
    tick();
  });
  const sendingMs = epochMs() - startedAt;
  await Promise.all(inFlight);
  const cpu = process.cpuUsage(cpuBefore);
  client.destroy();
  return {
    sent: requests.length,
    startedAt,
    sendingMs,
    elapsedMs: epochMs() - startedAt,
    latencyMs: [...latencyMs].filter((value) => !Number.isNaN(value)),
    lateMs: [...lateMs],
    statuses,
    errors,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}
