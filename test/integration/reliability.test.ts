import twilio from 'twilio';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { PgliteDatabase } from '../../src/db/pglite/pglite-database.ts';
import { GENERATED_MARK, isAnswerRequest, isRewriteRequest, lastPatientMessage, startFakeOpenAI, type FakeOpenAI } from '../fakes/fake-openai.ts';
import { startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { openaiEnv, twilioEnv } from '../support/fake-env.ts';
import { inboxDrained } from '../support/inbox-drained.ts';
import { startTestService, type TestService } from '../support/start-test-service.ts';
import { messageSid, postTwilioWebhook } from '../support/twilio-webhook-client.ts';

const CLINIC = '+15557654321';

/** The fake model answers with the patient's own words, so replies show which message they answer. */
const echoQuestion = (body: unknown) =>
  isRewriteRequest(body) ? lastPatientMessage(body) : `Answer to: ${lastPatientMessage(body).replaceAll('\n', ' | ')}`;

describe('never lose, duplicate or reorder a message', () => {
  let openai: FakeOpenAI;
  let twilioApi: FakeTwilio;
  let service: TestService;
  const send = (from: string, body: string, extra: Record<string, string> = {}, headers?: Record<string, string>) =>
    postTwilioWebhook(service.url, { From: from, To: CLINIC, Body: body, ...extra }, { authToken: twilioApi.authToken, ...headers });

  beforeAll(async () => {
    [openai, twilioApi] = await Promise.all([startFakeOpenAI(), startFakeTwilio()]);
    service = await startTestService({
      ...openaiEnv(openai),
      OPENAI_MAX_CONCURRENCY: '4',
      OPENAI_TIMEOUT_MS: '3000',
      ...twilioEnv(twilioApi),
      PATIENT_RATE_LIMIT_PER_MINUTE: '20',
      STAFF_NUMBERS: '+15550001111',
    });
  });
  afterEach(async () => {
    await waitFor(() => service.worker.busy === 0, { what: 'worker idle' });
    openai.reset();
    twilioApi.reset();
  });
  afterAll(async () => {
    await service?.stop();
    await Promise.all([openai?.close(), twilioApi?.close()]);
  });

  it('when the same message is delivered 10 times at once, then it is stored once and answered once', async () => {
    const sid = messageSid();
    const form = { MessageSid: sid, AccountSid: twilioApi.accountSid, From: '+15554000001', To: CLINIC, Body: 'What is IVF?', NumMedia: '0' };
    const responses = await Promise.all(
      Array.from({ length: 10 }, () =>
        fetch(`${service.url}/webhooks/twilio`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            // Twilio sends the same token with every retry of one webhook.
            'i-twilio-idempotency-token': `${sid}-token`,
            'x-twilio-signature': twilio.getExpectedTwilioSignature(twilioApi.authToken, `${service.url}/webhooks/twilio`, form),
          },
          body: new URLSearchParams(form).toString(),
        }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200));
    await twilioApi.waitForMessages(1);
    await inboxDrained(service);
    // An hour later (as far as the inbox can tell), the same sid again:
    await postTwilioWebhook(service.url, { From: '+15554000001', To: CLINIC, Body: 'What is IVF?', MessageSid: sid }, { authToken: twilioApi.authToken });
    await inboxDrained(service);
    // One row: ten stored copies would also get one reply, merged into one burst, so count the rows.
    const rows = await (service.db as PgliteDatabase).query<{ n: number }>('select count(*)::int as n from inbox where provider_message_id = $1', [sid]);
    expect(rows[0]!.n).toBe(1);
    expect(service.logs.filter((line) => line.msg === 'inbound message redelivered, already stored' && line.providerMessageId === sid)).toHaveLength(10);
    expect(twilioApi.messages).toHaveLength(1);
    expect(openai.calls.filter((c) => c.path.endsWith('/chat/completions') && isAnswerRequest(c.body)).map((c) => lastPatientMessage(c.body))).toEqual(['What is IVF?']);
    expect(openai.calls.filter((c) => c.path.endsWith('/chat/completions') && isAnswerRequest(c.body))).toHaveLength(1);
  });

  it('when a patient sends three quick messages while the first is being answered, then the answers come in order and the burst is answered together', async () => {
    openai.chatReply = echoQuestion;
    openai.latency.chat = 400;
    await send('+15554000002', 'first question');
    await waitFor(() => openai.inFlight >= 1 && openai.calls.some((c) => c.path.endsWith('/chat/completions') && isAnswerRequest(c.body)), { what: 'first answer in flight' });
    await send('+15554000002', 'second question');
    await send('+15554000002', 'third question');
    await twilioApi.waitForMessages(2);
    await waitFor(() => service.worker.busy === 0, { what: 'worker idle' });
    expect(twilioApi.messages.map((m) => m.body)).toEqual(['Answer to: first question', 'Answer to: second question | third question']);
  });

  it("when one patient's answer is slow, then another patient's is not held up", async () => {
    openai.chatReply = echoQuestion;
    let slowStarted = false;
    openai.failWith = (call) => {
      if (call.path.endsWith('/chat/completions') && isAnswerRequest(call.body) && JSON.stringify(call.body).includes('slow one')) slowStarted = true;
      return undefined;
    };
    openai.latency.chat = 1500;
    await send('+15554000003', 'slow one');
    await waitFor(() => slowStarted, { what: 'slow answer started' });
    openai.latency.chat = 0;
    await send('+15554000004', 'quick one');
    await twilioApi.waitForMessages(2);
    expect(twilioApi.messages.map((m) => m.to)).toEqual(['+15554000004', '+15554000003']);
  });

  it('when OpenAI fails a third of its calls with 500, then every patient still gets a generated answer', async () => {
    // Every third call fails, but never the same request twice: with three tries each, every answer can
    // then be generated, and a fallback is a regression (a global count could fail one request's three
    // tries in a row, and the test would only be measuring luck).
    let count = 0;
    const failedOnce = new Set<string>();
    openai.failWith = (call) => {
      const request = JSON.stringify(call.body);
      if (++count % 3 !== 0 || failedOnce.has(request)) return undefined;
      failedOnce.add(request);
      return 500;
    };
    const patients = Array.from({ length: 12 }, (_, i) => `+1555401${String(i).padStart(4, '0')}`);
    await Promise.all(patients.map((from) => send(from, 'What is a frozen embryo transfer?')));
    await twilioApi.waitForMessages(12, 20_000);
    expect(new Set(twilioApi.messages.map((m) => m.to))).toEqual(new Set(patients));
    expect(openai.calls.some((c) => c.status === 500)).toBe(true);
    // Generated, not the fallback: only the fake model's answers carry its mark (the fallback quotes the
    // same passage as `From "…"`).
    for (const message of twilioApi.messages) expect(message.body.startsWith(`${GENERATED_MARK}From "Frozen Embryo Transfer`), message.body).toBe(true);
  });

  it('when OpenAI is down entirely, then every patient gets the best passage and a line that a person can follow up, and staff can see it', async () => {
    openai.failWith = () => 503;
    const patients = ['+15554020001', '+15554020002', '+15554020003'];
    await Promise.all(patients.map((from) => send(from, 'How long does egg retrieval take?')));
    await twilioApi.waitForMessages(3, 20_000);
    for (const message of twilioApi.messages) {
      expect(message.body).toMatch(/^From "Egg Retrieval/);
      expect(message.body).toContain('A member of our team can follow up: call +15550000000.');
    }
    // One fallback counted for each of the three (the tests before this one generated their answers).
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/^clinic_fallback_answers_total\{reason="openai_error"\} 3$/m);
    expect(service.logs.some((line) => line.level === 50 && line.msg === 'answer generation failed; replying with the best passage')).toBe(true);
  });

  it('when OpenAI resets connections now and then, then the calls are retried and the answers are generated', async () => {
    let count = 0;
    openai.failWith = () => (++count % 2 === 1 ? 0 : undefined);
    await send('+15554025001', 'What is ICSI?');
    const [reply] = await twilioApi.waitForMessages(1);
    expect(openai.calls.some((c) => c.status === 0)).toBe(true);
    expect(reply!.body.startsWith(`${GENERATED_MARK}From "ICSI`)).toBe(true);
    expect(reply!.body).not.toContain('A member of our team can follow up');
  });

  it('when OpenAI does not answer within OPENAI_TIMEOUT_MS, then the patient gets the best passage and a follow-up line', async () => {
    openai.latency.chat = 8_000;
    await send('+15554026001', 'What is ICSI?');
    const [reply] = await twilioApi.waitForMessages(1, 15_000);
    expect(reply!.body).toMatch(/^From "ICSI/);
    expect(reply!.body).toContain('A member of our team can follow up');
  });

  it('when OpenAI asks to retry after five minutes, then no slot is held for minutes and the patient still gets an answer in time', async () => {
    openai.failWith = () => 429;
    openai.retryAfterSeconds = 300;
    const started = Date.now();
    await send('+15554030001', 'What is OHSS?');
    const [reply] = await twilioApi.waitForMessages(1, 15_000);
    expect(reply!.body).toMatch(/^From "Ovarian Hyperstimulation/);
    // Bounded by OPENAI_TIMEOUT_MS (3 s) per operation, not by Retry-After.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('when a Twilio send fails and then recovers, then the reply is delivered once, with the same text', async () => {
    twilioApi.failWith = (attempt) => (attempt <= 2 ? { status: 500, code: 20500, message: 'Internal Server Error' } : undefined);
    await send('+15554040001', 'What is ICSI?');
    const [reply] = await twilioApi.waitForMessages(1);
    await waitFor(() => service.worker.busy === 0, { what: 'worker idle' });
    expect(twilioApi.requests).toBe(3);
    expect(twilioApi.messages).toHaveLength(1);
    expect(reply!.body).toMatch(/ICSI/);
    expect(openai.calls.filter((c) => c.path.endsWith('/chat/completions') && isAnswerRequest(c.body))).toHaveLength(1);
  });

  it('when Twilio keeps failing, then the message is marked failed with the provider error and counted, not lost', async () => {
    twilioApi.failWith = () => ({ status: 503, code: 20503, message: 'Service Unavailable' });
    await send('+15554050001', 'What are the clinic hours?');
    const [failure] = await waitFor(async () => {
      const failures = await service.inbox.failures();
      return failures.length > 0 && failures;
    }, { what: 'message marked failed' });
    expect(failure!.attempts).toBe(5);
    expect(failure!.error).toMatch(/Twilio send failed \(503, code 20503\)/);
    expect(twilioApi.requests).toBe(5);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/clinic_replies_total\{channel="twilio",outcome="failed"\} 1/);
  });

  it('when a patient floods the number, then they get one polite notice, the rest is stored unanswered, and others are not slowed', async () => {
    openai.chatReply = echoQuestion;
    const flood = Array.from({ length: 25 }, (_, i) => send('+15554060001', `message ${i}`));
    await Promise.all(flood);
    await send('+15554060002', 'What is IVF?');
    await waitFor(() => twilioApi.messages.some((m) => m.to === '+15554060002'), { what: 'other patient answered' });
    await waitFor(() => service.worker.busy === 0 && twilioApi.messages.some((m) => m.body.includes('a lot of messages')), { what: 'notice sent' });
    const toFlooder = twilioApi.messages.filter((m) => m.to === '+15554060001');
    expect(toFlooder.filter((m) => m.body.includes('a lot of messages'))).toHaveLength(1);
    expect((await service.inbox.stats()).skipped).toBe(4);
    // Every one of the first 20 was answered (bursts answered together).
    const answered = toFlooder.filter((m) => m.body.startsWith('Answer to:')).map((m) => m.body).join(' | ');
    for (let i = 0; i < 20; i++) expect(answered).toContain(`message ${i}`);

    // An emergency is never throttled.
    await send('+15554060001', 'now I have heavy bleeding');
    await waitFor(() => twilioApi.messages.some((m) => m.to === '+15554060001' && m.body.includes('emergency line')), { what: 'emergency reply despite the throttle' });
    expect(twilioApi.messages.some((m) => m.to === '+15550001111' && m.body.includes('URGENT'))).toBe(true);
  });

  it('when a staff number sends many messages, then it is not throttled', async () => {
    const burst = Array.from({ length: 22 }, (_, i) => send('+15550001111', `staff test ${i}`));
    await Promise.all(burst);
    await waitFor(async () => {
      const stats = await service.inbox.stats();
      return !stats.pending && !stats.processing;
    }, { what: 'staff burst answered' });
    expect(twilioApi.messages.some((m) => m.body.includes('a lot of messages'))).toBe(false);
  });
});

describe('when the pipeline itself fails', () => {
  it('when a message cannot be answered at all (the search function is gone), then the patient still hears something', async () => {
    const twilioApi = await startFakeTwilio();
    const service = await startTestService(twilioEnv(twilioApi));
    try {
      await (service.db as PgliteDatabase).exec('drop function hybrid_search');
      await postTwilioWebhook(service.url, { From: '+15554070001', To: CLINIC, Body: 'What is IVF?' }, { authToken: twilioApi.authToken });
      const [reply] = await twilioApi.waitForMessages(1);
      expect(reply!.body).toBe("Sorry, I can't answer right now. Please call +15550000000 and the team will help. If it's urgent, call +15559999999.");
      const [failure] = await waitFor(async () => {
        const failures = await service.inbox.failures();
        return failures.length > 0 && failures;
      }, { what: 'message marked failed' });
      expect(failure!.error).toMatch(/hybrid_search/);
    } finally {
      await service.stop();
      await twilioApi.close();
    }
  });
});
