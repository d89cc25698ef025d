import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import twilio from 'twilio';

import { GENERATED_MARK, isAnswerRequest, lastPatientMessage, startFakeOpenAI, type FakeOpenAI } from '../fakes/fake-openai.ts';
import { startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { openaiEnv, twilioEnv } from '../support/fake-env.ts';
import { inboxDrained } from '../support/inbox-drained.ts';
import { startTestService, type TestService } from '../support/start-test-service.ts';
import { messageSid, postTwilioWebhook } from '../support/twilio-webhook-client.ts';

const CLINIC_NUMBER = '+15557654321';
const WHATSAPP_CLINIC = 'whatsapp:+15557654322';

describe('Twilio SMS and WhatsApp, with generated answers', () => {
  let openai: FakeOpenAI;
  let twilioApi: FakeTwilio;
  let service: TestService;

  beforeAll(async () => {
    [openai, twilioApi] = await Promise.all([startFakeOpenAI(), startFakeTwilio()]);
    service = await startTestService({
      ...openaiEnv(openai),
      OPENAI_MAX_CONCURRENCY: '3',
      ...twilioEnv(twilioApi),
    }, { fresh: true });
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

  it('ingested the knowledge base with embeddings on first start', async () => {
    const stats = await service.knowledge.stats();
    expect(stats.documents).toBeGreaterThanOrEqual(10);
    expect(stats.embedded).toBe(stats.chunks);
  });

  it('when a signed webhook arrives while the model takes a second, then the 200 comes first and the reply follows from the right number', async () => {
    openai.latency.chat = 1000;
    let chatFinishedAt = 0;
    openai.on('call', (call) => {
      if (call.path.endsWith('/chat/completions') && isAnswerRequest(call.body)) chatFinishedAt = call.endedAt ?? Date.now();
    });
    const response = await postTwilioWebhook(service.url, { From: '+15551230001', To: CLINIC_NUMBER, Body: 'When do I start my injections?' }, { authToken: twilioApi.authToken });
    const acknowledgedAt = Date.now();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/xml/);
    expect(await response.text()).toBe('<Response></Response>');

    const [reply] = await twilioApi.waitForMessages(1);
    expect(chatFinishedAt).toBeGreaterThan(acknowledgedAt);
    expect(reply!.from).toBe(CLINIC_NUMBER);
    expect(reply!.to).toBe('+15551230001');
    // The fake model quotes the first document it was given: hybrid search put the medication leaflet first.
    expect(reply!.body).toMatch(/^\[fake model\] From "[^"]*Medications and Injections/i);
  });

  it('when a WhatsApp message comes through Twilio, then the reply goes back on WhatsApp from the receiving number', async () => {
    const response = await postTwilioWebhook(service.url, { From: 'whatsapp:+15551230002', To: WHATSAPP_CLINIC, Body: 'What is IVF?' }, { authToken: twilioApi.authToken, opensWindowOn: twilioApi });
    expect(response.status).toBe(200);
    const [reply] = await twilioApi.waitForMessages(1);
    expect(reply).toMatchObject({ from: WHATSAPP_CLINIC, to: 'whatsapp:+15551230002' });
    expect(reply!.body).toMatch(/^\[fake model\] From "What Is IVF/i);
  });

  it('when the signature is wrong or missing, then 403, nothing is stored and no reply is ever sent', async () => {
    const before = await service.inbox.stats();
    const wrong = await postTwilioWebhook(service.url, { From: '+15551230003', To: CLINIC_NUMBER, Body: 'hello' }, { authToken: 'not-the-token' });
    const missing = await postTwilioWebhook(service.url, { From: '+15551230003', To: CLINIC_NUMBER, Body: 'hello' });
    expect(wrong.status).toBe(403);
    expect(missing.status).toBe(403);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('signature_invalid');
    expect(await service.inbox.stats()).toEqual(before);
    // A valid message sent afterwards is answered, and it is the only reply.
    await postTwilioWebhook(service.url, { From: '+15551230004', To: CLINIC_NUMBER, Body: 'What is IVF?' }, { authToken: twilioApi.authToken });
    await twilioApi.waitForMessages(1);
    await waitFor(() => service.worker.busy === 0, { what: 'worker idle' });
    expect(twilioApi.messages.map((m) => m.to)).toEqual(['+15551230004']);
  });

  it('when a redelivery repeats a MessageSid, then it is acknowledged and answered once', async () => {
    const sid = messageSid();
    const params = { From: '+15551230005', To: CLINIC_NUMBER, Body: 'What is IVF?', MessageSid: sid };
    const first = await postTwilioWebhook(service.url, params, { authToken: twilioApi.authToken });
    const second = await postTwilioWebhook(service.url, params, { authToken: twilioApi.authToken });
    expect([first.status, second.status]).toEqual([200, 200]);
    // Both 200s came from the journal: the inbox says which was the redelivery once both are stored.
    const stored = await waitFor(() => {
      const lines = service.logs.filter((line) => line.providerMessageId === sid);
      return lines.length === 2 && lines;
    }, { what: 'both deliveries stored' });
    expect(stored.map((line) => line.duplicate)).toEqual([false, true]);
    await twilioApi.waitForMessages(1);
    await inboxDrained(service);
    const another = await postTwilioWebhook(service.url, { From: '+15551230005', To: CLINIC_NUMBER, Body: 'And egg retrieval?' }, { authToken: twilioApi.authToken });
    expect(another.status).toBe(200);
    await twilioApi.waitForMessages(2);
    await inboxDrained(service);
    expect(twilioApi.messages).toHaveLength(2);
    // One answer to each question, the first not merged with a stored copy of itself.
    expect(openai.calls.filter((call) => call.path.endsWith('/chat/completions') && isAnswerRequest(call.body)).map((call) => lastPatientMessage(call.body))).toEqual(['What is IVF?', 'And egg retrieval?']);
  });

  it('when 20 patients write at once with OPENAI_MAX_CONCURRENCY=3, then at most 3 OpenAI calls are in flight and all 20 are answered', async () => {
    openai.latency = { embeddings: 50, chat: 150 };
    const patients = Array.from({ length: 20 }, (_, i) => `+1555124${String(i).padStart(4, '0')}`);
    const responses = await Promise.all(
      patients.map((from) => postTwilioWebhook(service.url, { From: from, To: CLINIC_NUMBER, Body: 'What happens at egg retrieval?' }, { authToken: twilioApi.authToken })),
    );
    expect(responses.every((r) => r.status === 200)).toBe(true);
    await twilioApi.waitForMessages(20, 20_000);
    await inboxDrained(service);
    // Each answered once, and generated (not a fallback after the cap made calls wait too long).
    expect(twilioApi.messages.map((m) => m.to).sort()).toEqual([...patients].sort());
    for (const message of twilioApi.messages) expect(message.body.startsWith(GENERATED_MARK), message.body).toBe(true);
    expect(openai.maxInFlight).toBeLessThanOrEqual(3);
    expect(openai.maxInFlight).toBeGreaterThanOrEqual(2);
  });

  // On WhatsApp: an SMS answer is cut to SMS_MAX_SEGMENTS long before 1,600 characters (sms-cost.test.ts).
  it('when the answer is long, then it is split at paragraph or sentence boundaries, each part within 1,600 characters', async () => {
    const paragraphs = Array.from({ length: 8 }, (_, i) => `Paragraph ${i + 1}. ${'The clinic team will guide you through each step. '.repeat(8).trim()}`);
    openai.chatReply = () => paragraphs.join('\n\n');
    await postTwilioWebhook(service.url, { From: 'whatsapp:+15551230006', To: WHATSAPP_CLINIC, Body: 'Tell me everything about IVF' }, { authToken: twilioApi.authToken, opensWindowOn: twilioApi });
    await waitFor(() => service.worker.busy === 0 && twilioApi.messages.length >= 2, { what: 'all parts sent' });
    const parts = twilioApi.messages.map((m) => m.body);
    expect(parts.length).toBeGreaterThanOrEqual(2);
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(1600);
      expect(part).toMatch(/\.$/);
    }
    expect(parts.join('\n\n')).toBe(paragraphs.join('\n\n'));
  });

  it('when the form is malformed, then 400 with a reason and nothing is stored', async () => {
    const before = await service.inbox.stats();
    const response = await postTwilioWebhook(service.url, { From: '', To: CLINIC_NUMBER, Body: 'hi' }, { authToken: twilioApi.authToken });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/From/);
    expect(await service.inbox.stats()).toEqual(before);
  });
});

describe('offline mode (no OPENAI_API_KEY)', () => {
  let twilioApi: FakeTwilio;
  let service: TestService;

  beforeAll(async () => {
    twilioApi = await startFakeTwilio();
    service = await startTestService({
      ...twilioEnv(twilioApi),
    });
  });
  afterAll(async () => {
    await service?.stop();
    await twilioApi?.close();
  });

  it('when a patient asks, then the best passage from full-text search is quoted with its title, within one SMS', async () => {
    await postTwilioWebhook(service.url, { From: '+15551230007', To: CLINIC_NUMBER, Body: 'How much does treatment cost, and can I pay in instalments?' }, { authToken: twilioApi.authToken });
    const [reply] = await twilioApi.waitForMessages(1);
    expect(reply!.body).toMatch(/^From "Costs and Payment/i);
    expect(reply!.body.length).toBeLessThanOrEqual(1600);
    expect(reply!.body).toContain('+15550000000');
    expect(reply!.body).not.toContain('{{');
  });
});

describe('behind a proxy (PUBLIC_URL), with delivery reports', () => {
  const PUBLIC_URL = 'https://clinic-test.ngrok-free.app';
  let twilioApi: FakeTwilio;
  let service: TestService;

  beforeAll(async () => {
    twilioApi = await startFakeTwilio();
    service = await startTestService({
      PUBLIC_URL,
      ...twilioEnv(twilioApi),
    });
  });
  afterAll(async () => {
    await service?.stop();
    await twilioApi?.close();
  });

  it('when Twilio signed the public URL, then the signature is checked against PUBLIC_URL + path', async () => {
    const local = await postTwilioWebhook(service.url, { From: '+15551230010', To: CLINIC_NUMBER, Body: 'What is IVF?' }, { authToken: twilioApi.authToken });
    expect(local.status).toBe(403);
    const proxied = await postTwilioWebhook(service.url, { From: '+15551230010', To: CLINIC_NUMBER, Body: 'What is IVF?' }, {
      authToken: twilioApi.authToken,
      signedUrl: `${PUBLIC_URL}/webhooks/twilio`,
    });
    expect(proxied.status).toBe(200);
    const [reply] = await twilioApi.waitForMessages(1);
    expect(reply!.statusCallback).toBe(`${PUBLIC_URL}/webhooks/twilio/status`);
  });

  it('when a delivery report arrives, then it is recorded and acknowledged, failed ones included', async () => {
    const [reply] = await twilioApi.waitForMessages(1);
    const response = await fetch(`${service.url}/webhooks/twilio/status`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': twilio.getExpectedTwilioSignature(twilioApi.authToken, `${PUBLIC_URL}/webhooks/twilio/status`, {
          MessageSid: reply!.sid,
          MessageStatus: 'undelivered',
          ErrorCode: '30003',
        }),
      },
      body: new URLSearchParams({ MessageSid: reply!.sid, MessageStatus: 'undelivered', ErrorCode: '30003' }).toString(),
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('<Response></Response>');
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/clinic_delivery_status_total\{channel="twilio",status="undelivered"\} 1/);
    const outbound = await service.db.call<{ status: string; error: string }[]>('outbound_for_provider_id', { p_channel: 'twilio', p_provider_message_id: reply!.sid });
    expect(outbound).toEqual([expect.objectContaining({ status: 'undelivered', error: 'Twilio error 30003' })]);
  });
});
