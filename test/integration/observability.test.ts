import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.ts';
import { createReadinessCheck } from '../../src/db/create-readiness-check.ts';
import { listMigrations, applyMigrations, MIGRATIONS_DIR } from '../../src/db/migrate.ts';
import { openPgliteDatabase } from '../../src/db/pglite/pglite-database.ts';
import { createLogger } from '../../src/logger.ts';
import { start } from '../../src/main.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/fake-openai.ts';
import { startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { startTestService, type LogLine, type TestService } from '../support/start-test-service.ts';
import { sample } from '../support/metric-sample.ts';
import { postTwilioWebhook } from '../support/twilio-webhook-client.ts';

const CLINIC_NUMBER = '+15557654321';
// Each patient writes something no log line may contain at info level.
const ANSWERED = { from: '+15551239876', body: 'Is spotting normal after my embryo transfer? marigold-71' };
const FALLBACK = { from: '+15551238765', body: 'What happens at egg retrieval? juniper-42' };
const UNDELIVERABLE = { from: '+15551237654', body: 'When do I start my injections? saffron-93' };

describe('logs, metrics and readiness', () => {
  let openai: FakeOpenAI;
  let twilioApi: FakeTwilio;
  let service: TestService;
  const inboxIds: Record<string, number> = {};

  const inboxIdOf = (from: string) =>
    (service.logs.find((line) => line.msg === 'inbound message stored' && line.from === `…${from.slice(-4)}`)?.inboxId as number | undefined);
  const linesAbout = (inboxId: number) => service.logs.filter((line) => line.inboxId === inboxId);

  beforeAll(async () => {
    [openai, twilioApi] = await Promise.all([startFakeOpenAI(), startFakeTwilio()]);
    service = await startTestService({
      OPENAI_API_KEY: 'test-key',
      OPENAI_BASE_URL: openai.baseURL,
      OPENAI_MAX_CONCURRENCY: '2',
      TWILIO_ACCOUNT_SID: twilioApi.accountSid,
      TWILIO_AUTH_TOKEN: twilioApi.authToken,
      TWILIO_API_BASE_URL: twilioApi.apiBaseURL,
    });
    const post = (message: { from: string; body: string }) =>
      postTwilioWebhook(service.url, { From: message.from, To: CLINIC_NUMBER, Body: message.body }, { authToken: twilioApi.authToken });
    const settle = async (what: string) => {
      await waitFor(() => service.worker.busy === 0 && service.logs.some((l) => l.inboxId === inboxIdOf(what) && /^reply (sent|failed for good)/.test(String(l.msg))), { what: `${what} settled` });
    };

    // 1. Answered by the model.
    expect((await post(ANSWERED)).status).toBe(200);
    await settle(ANSWERED.from);
    // 2. The model fails: the best passage instead (a fallback).
    openai.failWith = (call) => (call.path.endsWith('/chat/completions') ? 400 : undefined);
    expect((await post(FALLBACK)).status).toBe(200);
    await settle(FALLBACK.from);
    openai.failWith = undefined;
    // 3. Twilio refuses the number, quoting it in its error message.
    twilioApi.failWith = () => ({ status: 400, code: 21211, message: `The 'To' number ${UNDELIVERABLE.from} is not a valid phone number.` });
    expect((await post(UNDELIVERABLE)).status).toBe(200);
    await settle(UNDELIVERABLE.from);
    twilioApi.failWith = undefined;
    for (const message of [ANSWERED, FALLBACK, UNDELIVERABLE]) inboxIds[message.from] = inboxIdOf(message.from)!;
  });
  afterAll(async () => {
    await service?.stop();
    await Promise.all([openai?.close(), twilioApi?.close()]);
  });

  it('when a message is answered, then its inbound line, one line per pipeline stage and the reply line all carry its inboxId', () => {
    const inboxId = inboxIds[ANSWERED.from]!;
    const lines = linesAbout(inboxId);
    expect(lines.find((l) => l.msg === 'inbound message stored')).toMatchObject({
      channel: 'twilio',
      providerMessageId: expect.stringMatching(/^SM[0-9a-f]{32}$/),
      from: '…9876',
    });
    const stages = lines.filter((l) => l.msg === 'pipeline stage');
    expect(stages.map((l) => l.stage).sort()).toEqual(['embed', 'generate', 'history', 'search', 'send']);
    for (const line of stages) expect(line.ms).toEqual(expect.any(Number));
    expect(lines.find((l) => l.msg === 'reply sent')).toMatchObject({ to: '…9876', parts: 1, ms: expect.any(Number) });
    // Every stage line of every message names its message.
    for (const line of service.logs.filter((l) => l.msg === 'pipeline stage')) expect(line.inboxId).toEqual(expect.any(Number));
  });

  it('when the model or Twilio fails, then the error is logged with its codes, the number masked, and nothing the patient wrote', () => {
    const fallback = linesAbout(inboxIds[FALLBACK.from]!);
    expect(fallback.find((l) => l.msg === 'pipeline stage' && l.stage === 'generate')).toMatchObject({ failed: true });
    expect(fallback.find((l) => l.msg === 'answer generation failed; replying with the best passage')).toMatchObject({ err: { code: 'openai_error', status: 400 } });

    const failed = linesAbout(inboxIds[UNDELIVERABLE.from]!).find((l) => l.msg === 'reply failed for good') as LogLine & { err: Record<string, unknown> };
    expect(failed.err).toMatchObject({ type: 'AppError', code: 'send_failed', status: 400, providerCode: 21211 });
    expect(failed.err.message).toContain("The 'To' number …7654 is not a valid phone number.");
  });

  it('when logging at info, then no line holds a full phone number, a message text or a reply text', () => {
    const everything = service.logs.map((line) => JSON.stringify(line)).join('\n');
    for (const message of [ANSWERED, FALLBACK, UNDELIVERABLE]) {
      // The last 7 digits would already say too much; the last 4 are the mask.
      expect(everything).not.toContain(message.from.slice(-7));
      expect(everything).not.toContain(message.body.split('? ')[1]);
      expect(everything).not.toContain(message.body.slice(0, 20));
    }
    for (const reply of twilioApi.messages) expect(everything).not.toContain(reply.body.slice(0, 40));
    expect(everything).not.toContain(twilioApi.authToken);
    expect(service.logs.every((line) => line.level >= 30)).toBe(true);
  });

  it('after a conversation, then GET /metrics exposes every series in Prometheus format', async () => {
    const response = await fetch(`${service.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain;.*version=0\.0\.4/);
    const metrics = await response.text();
    expect(sample(metrics, 'clinic_webhooks_total', { channel: 'twilio', outcome: 'accepted' })).toBeGreaterThanOrEqual(3);
    expect(sample(metrics, 'clinic_webhook_ack_seconds_count', { channel: 'twilio' })).toBeGreaterThanOrEqual(3);
    expect(sample(metrics, 'clinic_webhook_ack_seconds_bucket', { channel: 'twilio', le: '+Inf' })).toBeGreaterThanOrEqual(3);
    for (const stage of ['embed', 'history', 'search', 'generate', 'send']) {
      expect(sample(metrics, 'clinic_pipeline_stage_seconds_count', { stage }), stage).toBeGreaterThanOrEqual(1);
    }
    expect(sample(metrics, 'clinic_openai_in_flight')).toBe(0);
    expect(sample(metrics, 'clinic_openai_queued')).toBe(0);
    expect(sample(metrics, 'clinic_inbox_messages', { state: 'answered' })).toBe(2);
    expect(sample(metrics, 'clinic_inbox_messages', { state: 'failed' })).toBe(1);
    expect(sample(metrics, 'clinic_inbox_messages', { state: 'pending' })).toBe(0);
    expect(sample(metrics, 'clinic_replies_total', { channel: 'twilio', outcome: 'sent' })).toBe(2);
    expect(sample(metrics, 'clinic_replies_total', { channel: 'twilio', outcome: 'failed' })).toBe(1);
    expect(sample(metrics, 'clinic_fallback_answers_total', { reason: 'openai_error' })).toBe(1);
    expect(sample(metrics, 'clinic_fallback_answers_total', { reason: 'offline' })).toBe(0);
    expect(sample(metrics, 'clinic_emergencies_total')).toBe(0);
    expect(sample(metrics, 'clinic_handoffs_total')).toBe(0);
  });

  it('when more OpenAI calls are wanted than OPENAI_MAX_CONCURRENCY=2 allows, then the gauges show 2 in flight and the rest queued', async () => {
    openai.latency = { embeddings: 200, chat: 200 };
    const seen = { inFlight: 0, queued: 0 };
    const patients = Array.from({ length: 6 }, (_, i) => `+1555125${String(i).padStart(4, '0')}`);
    await Promise.all(patients.map((from) => postTwilioWebhook(service.url, { From: from, To: CLINIC_NUMBER, Body: 'What is IVF?' }, { authToken: twilioApi.authToken })));
    const answered = twilioApi.waitForMessages(twilioApi.messages.length + patients.length, 20_000);
    let done = false;
    void answered.then(() => (done = true));
    while (!done) {
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      seen.inFlight = Math.max(seen.inFlight, sample(metrics, 'clinic_openai_in_flight') ?? 0);
      seen.queued = Math.max(seen.queued, sample(metrics, 'clinic_openai_queued') ?? 0);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await answered;
    openai.latency = { embeddings: 0, chat: 0 };
    expect(seen.inFlight).toBe(2);
    expect(seen.queued).toBeGreaterThanOrEqual(1);
    await waitFor(() => service.worker.busy === 0, { what: 'worker idle' });
  });

  it('when Twilio credentials are set, then there is no development outbox', async () => {
    const response = await fetch(`${service.url}/dev/outbox?patient=%2B15551239876&business=%2B15557654321`);
    expect(response.status).toBe(404);
  });

  it('when the database is unmigrated or a migration behind the code, then it is not ready; once migrated it is', async () => {
    const partial = await mkdtemp(join(tmpdir(), 'migrations-'));
    const db = openPgliteDatabase({ dataDir: 'memory://' });
    try {
      const isReady = await createReadinessCheck(db);
      expect(await isReady()).toBe(false);
      const [first] = await listMigrations();
      await cp(join(MIGRATIONS_DIR, first!), join(partial, first!));
      await applyMigrations(db, partial);
      expect(await isReady()).toBe(false);
      await applyMigrations(db);
      expect(await isReady()).toBe(true);
      await db.close();
      expect(await isReady()).toBe(false);
    } finally {
      await db.close();
      await rm(partial, { recursive: true, force: true });
    }
  });

  it('when a new data directory is still being loaded and warmed up, then /readyz answers 503, and 200 only once the start-up work is done', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clinic-ready-'));
    const config = loadConfig({ DATA_DIR: join(dir, 'data'), PORT: '0', LOG_LEVEL: 'silent' });
    const starting = start(config, { logger: createLogger({ level: 'silent' }) });
    try {
      const fresh = await starting;
      let done = false;
      void fresh.ready.then(() => (done = true));
      const statuses: number[] = [];
      for (;;) {
        const status = (await fetch(`${fresh.url}/readyz`)).status;
        statuses.push(status);
        if (status === 200) break;
      }
      // The first load of the documents, the first purge and the warm-up all happen before ready.
      expect(statuses[0]).toBe(503);
      expect(done).toBe(true);
    } finally {
      await (await starting).stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  // Last: it closes this service's database.
  it('when the database closes under a running server, then /readyz answers 503 while /healthz and /metrics still answer', async () => {
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
    await service.db.close();
    const ready = await fetch(`${service.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'not ready' });
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    const metrics = await fetch(`${service.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(sample(await metrics.text(), 'clinic_inbox_messages', { state: 'answered' })).toBeUndefined();
  });
});
