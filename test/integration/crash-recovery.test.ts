import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TWILIO_MAX_BODY } from '../../src/channels/twilio/twilio-sender.ts';
import { maskAddress } from '../../src/logger.ts';
import { splitMessage } from '../../src/pipeline/split-message.ts';
import { GENERATED_MARK, defaultChatReply, isAnswerRequest, startFakeOpenAI, type FakeOpenAI } from '../fakes/fake-openai.ts';
import { startFakeTwilio, type FakeTwilio, type SentMessage } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { openaiEnv, twilioEnv } from '../support/fake-env.ts';
import { spawnedServices, type SpawnedService } from '../support/spawn-service.ts';
import { postTwilioWebhook } from '../support/twilio-webhook-client.ts';

const CLINIC = '+15557654321';
// Long answers go to WhatsApp through Twilio: an SMS answer is cut to SMS_MAX_SEGMENTS, far below three parts.
const WHATSAPP_CLINIC = 'whatsapp:+15557654322';
/** An answer that goes out as three parts, so that a crash can fall between two of them. */
const LONG_ANSWER = [1, 2, 3].map((n) => `Part ${n}. ${'The clinic team will guide you through each step of embryo transfer. '.repeat(15).trim()}`).join('\n\n');
const bodiesTo = (messages: SentMessage[], patient: string) => messages.filter((m) => m.to === patient).map((m) => m.body);

describe('crash safety and graceful shutdown (real processes)', () => {
  let openai: FakeOpenAI;
  let twilioApi: FakeTwilio;
  const dir = mkdtempSync(join(tmpdir(), 'clinic-crash-'));
  const services = spawnedServices();

  const env = (dataDir: string, extra: Record<string, string> = {}) => ({
    DATA_DIR: dataDir,
    ...openaiEnv(openai),
    ...twilioEnv(twilioApi),
    CLINIC_NAME: 'Test Clinic',
    CLINIC_PHONE: '+15550000000',
    CLINIC_EMERGENCY_PHONE: '+15559999999',
    ...extra,
  });
  const spawnTracked = services.spawn;
  const send = (service: SpawnedService, from: string, body: string) =>
    postTwilioWebhook(service.url, { From: from, To: from.startsWith('whatsapp:') ? WHATSAPP_CLINIC : CLINIC, Body: body }, { authToken: twilioApi.authToken, opensWindowOn: twilioApi });

  beforeAll(async () => {
    [openai, twilioApi] = await Promise.all([startFakeOpenAI(), startFakeTwilio()]);
  });
  afterAll(async () => {
    await services.killAll();
    await Promise.all([openai?.close(), twilioApi?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('when the process is killed with SIGKILL while 20 messages are in flight, then the next start answers each once: no part twice but the one being sent at the crash', async () => {
    const dataDir = join(dir, 'kill');
    const first = await spawnTracked(env(dataDir, { OPENAI_MAX_CONCURRENCY: '4' }));
    openai.reset();
    twilioApi.reset();
    // Slow answers, but a quick second opinion: it goes first in the OpenAI queue and would hold the
    // four slots for the first seconds.
    openai.latency = { embeddings: 0, chat: 1500, triage: 0 };
    openai.chatReply = (body) => (isAnswerRequest(body) ? LONG_ANSWER : defaultChatReply(body));
    const parts = splitMessage(LONG_ANSWER, TWILIO_MAX_BODY);
    expect(parts).toHaveLength(3);
    // Where the crash falls: the first two replies to reach their second part go out whole; every
    // other reply's second part hangs at Twilio, so the process dies with part 1 sent and recorded
    // (the worker starts a part only once the one before is recorded) and part 2 in flight.
    const started = new Map<string, number>();
    const whole = new Set<string>();
    const cut = new Set<string>();
    twilioApi.latencyFor = (to) => {
      const part = (started.get(to) ?? 0) + 1;
      started.set(to, part);
      if (part !== 2) return 0;
      if (whole.size < 2) {
        whole.add(to);
        return 0;
      }
      cut.add(to);
      return 60_000;
    };
    const patients = Array.from({ length: 20 }, (_, i) => `whatsapp:+1555300${String(i).padStart(4, '0')}`);
    const statuses = await Promise.all(patients.map((from) => send(first, from, 'What happens at embryo transfer?').then((r) => r.status)));
    expect(statuses.every((status) => status === 200)).toBe(true);
    const finished = () => first.logs.filter((line) => line.msg === 'reply sent').map((line) => line.to);
    await waitFor(() => finished().length >= 2 && cut.size >= 2, { what: 'two replies sent whole and two cut after their first part', timeoutMs: 30_000 });
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const sentBeforeCrash = [...twilioApi.messages];
    const startedBeforeCrash = new Map(started);
    const finishedBeforeCrash = new Set(finished());
    expect(new Set(sentBeforeCrash.map((m) => m.to)).size).toBeLessThan(20);

    twilioApi.latencyFor = undefined;
    openai.latency.chat = 0;
    const second = await spawnTracked(env(dataDir));
    await waitFor(() => patients.every((patient) => bodiesTo(twilioApi.messages, patient).length >= parts.length), {
      what: 'all 20 patients answered in full',
      timeoutMs: 60_000,
    });
    await second.waitForLog((line) => line.msg === 'messages left in flight by an earlier process are due again');
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);

    // Each patient sent one message: their reply's parts, in order, each once. README ("Never lost,
    // never twice"): only a part being sent at the instant of the crash can go out twice, that is the
    // last part a patient got before the crash, again as the first after it, and only if no later
    // part had been started (which would mean it was recorded) nor the reply finished.
    const sentAfterCrash = twilioApi.messages.slice(sentBeforeCrash.length);
    const name = (body: string) => (parts.includes(body) ? `part ${parts.indexOf(body) + 1}` : body);
    for (const patient of patients) {
      const before = bodiesTo(sentBeforeCrash, patient);
      const after = bodiesTo(sentAfterCrash, patient);
      const mayRepeat = before.length > 0 && startedBeforeCrash.get(patient) === before.length && !finishedBeforeCrash.has(maskAddress(patient));
      const repeated = mayRepeat && after[0] === before.at(-1) ? 1 : 0;
      expect({ patient, before: before.map(name), after: after.slice(repeated).map(name) }).toEqual({
        patient,
        before: parts.slice(0, before.length).map(name),
        after: parts.slice(before.length).map(name),
      });
    }
  }, 120_000);

  it('when SIGTERM arrives with answers in flight, then new webhooks are refused and the answers in flight are finished before exit', async () => {
    const dataDir = join(dir, 'drain');
    const service = await spawnTracked(env(dataDir, { SHUTDOWN_TIMEOUT_MS: '20000' }));
    openai.reset();
    twilioApi.reset();
    openai.latency.chat = 1000;
    const patients = Array.from({ length: 5 }, (_, i) => `+1555310${String(i).padStart(4, '0')}`);
    await Promise.all(patients.map((from) => send(service, from, 'What is IVF?')));
    await waitFor(() => openai.inFlight >= 1, { what: 'answers in flight' });
    expect(twilioApi.messages).toHaveLength(0);
    service.child.kill('SIGTERM');
    await service.waitForLog((line) => line.msg === 'shutting down');
    await expect(send(service, '+15553109999', 'too late')).rejects.toThrow();
    expect((await service.exited).code).toBe(0);
    // Each answered once, and generated (a shutdown that cut the model off would send the fallback).
    expect(twilioApi.messages.map((m) => m.to).sort()).toEqual([...patients].sort());
    for (const message of twilioApi.messages) expect(message.body.startsWith(GENERATED_MARK), message.body).toBe(true);
  }, 120_000);

  it('when SIGTERM cannot finish within SHUTDOWN_TIMEOUT_MS, then it exits anyway and the next start answers what was left', async () => {
    const dataDir = join(dir, 'timeout');
    const service = await spawnTracked(env(dataDir, { SHUTDOWN_TIMEOUT_MS: '300', OPENAI_TIMEOUT_MS: '60000' }));
    openai.reset();
    twilioApi.reset();
    openai.latency.chat = 10_000;
    await send(service, '+15553200001', 'What is IVF?');
    await waitFor(() => openai.inFlight >= 1, { what: 'answer in flight' });
    service.child.kill('SIGTERM');
    expect((await service.exited).code).toBe(0);
    expect(twilioApi.messages).toHaveLength(0);

    openai.latency.chat = 0;
    const next = await spawnTracked(env(dataDir));
    await twilioApi.waitForMessages(1, 60_000);
    expect(twilioApi.messages[0]!.to).toBe('+15553200001');
    next.child.kill('SIGTERM');
    await next.exited;
  }, 120_000);
});
