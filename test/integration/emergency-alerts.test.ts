import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { planAlerts } from '../../src/alerts/plan-alerts.ts';
import { createStaffAlerts } from '../../src/alerts/staff-alerts.ts';
import type { PgliteDatabase } from '../../src/db/pglite/pglite-database.ts';
import { graphFailure, startFakeGraphApi, type FakeGraphApi } from '../fakes/fake-graph-api.ts';
import { isAnswerRequest, isTriageRequest, lastPatientMessage, startFakeOpenAI, type FakeOpenAI } from '../fakes/fake-openai.ts';
import { startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { closedPort } from '../support/closed-port.ts';
import { openaiEnv, twilioEnv } from '../support/fake-env.ts';
import { metaTextPayload, postMetaWebhook } from '../support/meta-webhook-client.ts';
import { inboxDrained } from '../support/inbox-drained.ts';
import { startTestService, type TestService } from '../support/start-test-service.ts';
import { postTwilioWebhook } from '../support/twilio-webhook-client.ts';

const CLINIC_SMS = '+15557654321';
const CLINIC_WHATSAPP = 'whatsapp:+15557654322';
const ALERTS = ['+15550002221', '+15550002222'];
const ALERT_SMS_FROM = '+15550009999';
const CONTENT_SID = `HX${'0123456789abcdef'.repeat(2)}`;
const EMERGENCY = "I'm bleeding really heavily and I feel like I'm going to pass out";

const answerCalls = (openai: FakeOpenAI) => openai.calls.filter((call) => call.path.endsWith('/chat/completions') && isAnswerRequest(call.body));
const metrics = async (service: TestService) => (await fetch(`${service.url}/metrics`)).text();

describe('every emergency reaches a person (Twilio)', () => {
  let openai: FakeOpenAI;
  let twilioApi: FakeTwilio;
  let service: TestService;
  let publicUrl: string;
  const query = <T>(sql: string, params: unknown[] = []) => (service.db as PgliteDatabase).query<T>(sql, params);
  const sms = (from: string, body: string) => postTwilioWebhook(service.url, { From: from, To: CLINIC_SMS, Body: body }, { authToken: twilioApi.authToken });
  const whatsapp = (from: string, body: string) =>
    postTwilioWebhook(service.url, { From: from, To: CLINIC_WHATSAPP, Body: body }, { authToken: twilioApi.authToken, opensWindowOn: twilioApi });
  const to = (address: string) => twilioApi.messages.filter((message) => message.to === address);
  const idle = () => inboxDrained(service);

  beforeAll(async () => {
    [openai, twilioApi] = await Promise.all([startFakeOpenAI(), startFakeTwilio()]);
    // Delivery reports need a URL Twilio can call back: PUBLIC_URL, on a port chosen up front.
    const port = await closedPort();
    publicUrl = `http://127.0.0.1:${port}`;
    service = await startTestService({
      ...openaiEnv(openai),
      ...twilioEnv(twilioApi),
      PORT: String(port),
      PUBLIC_URL: publicUrl,
      STAFF_ALERT_NUMBERS: ALERTS.join(','),
      STAFF_ALERT_SMS_FROM: ALERT_SMS_FROM,
      TWILIO_ALERT_CONTENT_SID: CONTENT_SID,
      PATIENT_RATE_LIMIT_PER_MINUTE: '3',
      OPENAI_TRIAGE_TIMEOUT_MS: '1500',
    });
  });
  afterEach(async () => {
    await idle();
    await twilioApi.settled();
    openai.reset();
    twilioApi.reset();
  });
  afterAll(async () => {
    await service?.stop();
    await Promise.all([openai?.close(), twilioApi?.close()]);
  });

  it('when WhatsApp refuses an alert (63016 on the status callback), then it reaches that staff member by template and by SMS, with the full number and the channel', async () => {
    const patient = 'whatsapp:+15556100001';
    twilioApi.customerWrote(`whatsapp:${ALERTS[1]}`); // the second staff phone wrote to the clinic today; the first did not
    await whatsapp(patient, EMERGENCY);

    await waitFor(() => to(patient).length === 1, { what: 'the emergency reply' });
    expect(to(patient)[0]!.body).toMatch(/emergency line now at \+15559999999/);
    const [refused] = await twilioApi.waitForRefused(1);
    expect(refused!.to).toBe(`whatsapp:${ALERTS[0]}`);
    expect(refused!.statusCallback).toBe(`${publicUrl}/webhooks/twilio/status`);

    const template = await waitFor(() => to(`whatsapp:${ALERTS[0]}`).find((message) => message.contentSid === CONTENT_SID), { what: 'the template alert' });
    expect(template.from).toBe(CLINIC_WHATSAPP);
    expect(template.contentVariables).toEqual({ '1': 'URGENT (possible emergency)', '2': '+15556100001 (WhatsApp via Twilio)', '3': EMERGENCY });
    const [bySms] = await waitFor(() => to(ALERTS[0]!).length === 1 && to(ALERTS[0]!), { what: 'the SMS alert' });
    expect(bySms!.from).toBe(ALERT_SMS_FROM);
    expect(bySms!.body).toContain('URGENT (possible emergency): patient +15556100001 (WhatsApp via Twilio)');
    expect(bySms!.body).toContain(EMERGENCY);

    // The staff member whose window was open got the alert on WhatsApp, and nothing else.
    expect(to(`whatsapp:${ALERTS[1]}`).map((message) => message.contentSid)).toEqual([undefined]);
    expect(to(ALERTS[1]!)).toEqual([]);
    // Counted once the provider's answer is recorded, a moment after the fake has the message.
    await waitFor(async () => {
      const text = await metrics(service);
      return ['route="direct",outcome="refused"} 1', 'route="sms",outcome="sent"} 1', 'route="template",outcome="sent"} 1'].every((series) => text.includes(`clinic_staff_alerts_total{${series}`));
    }, { what: 'the alerts counted by route and outcome' });
  });

  it('when the alert’s way is down for a while (503), then its fallbacks go out meanwhile and it is still delivered once the provider recovers', async () => {
    const patient = 'whatsapp:+15556100009';
    const staffWhatsApp = `whatsapp:${ALERTS[0]}`;
    twilioApi.customerWrote(staffWhatsApp);
    let failures = 0;
    twilioApi.failWith = (_attempt, address) => (address === staffWhatsApp && ++failures <= 8 ? { status: 503, code: 20503, message: 'Service unavailable' } : undefined);
    await whatsapp(patient, EMERGENCY);
    const [bySms] = await waitFor(() => to(ALERTS[0]!).length === 1 && to(ALERTS[0]!), { what: 'the SMS fallback while WhatsApp is down', timeoutMs: 15_000 });
    expect(bySms!.from).toBe(ALERT_SMS_FROM);
    await waitFor(() => to(staffWhatsApp).some((message) => message.contentSid === undefined), { what: 'the WhatsApp alert itself, once the provider recovered', timeoutMs: 20_000 });
    expect(failures).toBeGreaterThan(4);
    expect(service.logs.some((line) => line.msg?.startsWith('staff alert failed every way'))).toBe(false);
  });

  it('when the alert sends are slow, then the patient’s emergency reply goes out first, without waiting for them', async () => {
    const patient = '+15556100002';
    twilioApi.latencyFor = (address) => (ALERTS.includes(address) ? 1_500 : undefined);
    await sms(patient, EMERGENCY);
    await waitFor(() => ALERTS.every((staff) => to(staff).length === 1), { what: 'both alerts', timeoutMs: 15_000 });
    const reply = to(patient)[0]!;
    for (const staff of ALERTS) expect(reply.at).toBeLessThan(to(staff)[0]!.at);
    expect(reply.body).toMatch(/emergency line/);
  });

  it('when the emergency reply fails once and is retried, then staff are alerted once; a second emergency alerts again', async () => {
    const patient = '+15556100003';
    let failedOnce = false;
    twilioApi.failWith = (_attempt, address) => {
      if (address !== patient || failedOnce) return undefined;
      failedOnce = true;
      return { status: 503, code: 20503, message: 'Service unavailable' };
    };
    await sms(patient, EMERGENCY);
    await waitFor(() => to(patient).length === 1, { what: 'the retried emergency reply' });
    await idle();
    expect(failedOnce).toBe(true);
    for (const staff of ALERTS) expect(to(staff)).toHaveLength(1);
    // Raising the same message's alerts again (a handler that runs twice) creates nothing.
    const rows = await query<{ inbox_id: number }>('select distinct a.inbox_id from staff_alerts a join inbox i on i.id = a.inbox_id where i.patient = $1', [patient]);
    expect(rows).toHaveLength(1);
    const message = { id: rows[0]!.inbox_id, channel: 'twilio' as const, business: CLINIC_SMS, patient, body: EMERGENCY };
    const routes = { smsFrom: ALERT_SMS_FROM, twilioContentSid: CONTENT_SID, metaTemplate: undefined };
    expect(await createStaffAlerts(service.db).raise(message.id, 'emergency', planAlerts(message, 'emergency', ALERTS, routes))).toBe(0);

    await sms(patient, 'the bleeding is getting worse and I feel faint');
    await waitFor(() => ALERTS.every((staff) => to(staff).length === 2), { what: 'the second emergency’s alerts' });
  });

  it('when a patient floods past the limit, then STOP, YES and an emergency are still acted on', async () => {
    const patient = 'whatsapp:+15556100004';
    for (const question of ['hi', 'what is ivf', 'how much is it', 'when do I start', 'and the injections']) await whatsapp(patient, question);
    await idle();
    const skipped = await query<{ n: number }>(`select count(*)::int as n from inbox where patient = $1 and state = 'skipped'`, [patient]);
    expect(skipped[0]!.n).toBeGreaterThan(0);

    await whatsapp(patient, 'I took a whole box of paracetamol');
    await waitFor(() => to(ALERTS[0]!).length === 1, { what: 'the alert, by SMS (the staff WhatsApp window is closed)' });
    expect(to(patient).at(-1)!.body).toMatch(/emergency line|crisis/);

    await whatsapp(patient, 'STOP');
    await waitFor(() => to(patient).some((message) => /won't get any more messages/.test(message.body)), { what: 'the opt-out confirmation' });
    await whatsapp(patient, 'YES');
    await waitFor(() => to(patient).some((message) => /Welcome back/.test(message.body)), { what: 'the opt-in confirmation' });
  });

  it('when the rules see nothing but the model says emergency, then the patient gets the emergency reply instead of an answer, and staff are alerted', async () => {
    const patient = '+15556100005';
    openai.latency = { embeddings: 0, chat: 800, triage: 0 };
    openai.triageReply = (body) => (lastPatientMessage(body).includes('zorblax') ? '{"category":"medical_emergency"}' : '{"category":"not_urgent"}');
    await sms(patient, 'my zorblax feels strange since the transfer');
    await waitFor(() => to(patient).length === 1 && ALERTS.every((staff) => to(staff).length === 1), { what: 'the emergency reply and alerts' });
    expect(to(patient)[0]!.body).toMatch(/emergency line/);
    await idle();
    expect(to(patient)).toHaveLength(1);
    expect(await metrics(service)).toMatch(/clinic_model_triage_total\{verdict="emergency"\} 1/);
  });

  it('when the model’s emergency verdict comes after the answer was sent, then the alarm is raised all the same, with the emergency reply as a second message', async () => {
    const patient = '+15556100006';
    openai.latency = { embeddings: 0, chat: 0, triage: 600 };
    openai.triageReply = () => '{"category":"self_harm"}';
    await sms(patient, 'what is the success rate for someone like me');
    await waitFor(() => to(patient).length === 2, { what: 'the answer, then the emergency reply' });
    expect(to(patient)[0]!.body).toMatch(/^\[fake model\] From "/);
    expect(to(patient)[1]!.body).toMatch(/crisis line/);
    await waitFor(() => ALERTS.every((staff) => to(staff).some((message) => message.body.includes('URGENT (self-harm risk)'))), { what: 'the alerts' });
  });

  it('when the model says emergency only after its budget ran out, then the answer went out first and the alarm is still raised', async () => {
    const patient = '+15556100008';
    openai.latency = { embeddings: 0, chat: 0, triage: 2_000 };
    openai.triageReply = () => '{"category":"medical_emergency"}';
    await sms(patient, 'what should I eat before the transfer');
    await waitFor(() => to(patient).length === 2, { what: 'the answer, then the emergency reply', timeoutMs: 15_000 });
    expect(to(patient)[0]!.body).toMatch(/^\[fake model\] From "/);
    expect(to(patient)[1]!.body).toMatch(/emergency line/);
    await waitFor(() => ALERTS.every((staff) => to(staff).length === 1), { what: 'the alerts' });
  });

  it('when the model’s triage is slower than its budget, then the answer goes out without waiting for it', async () => {
    const patient = '+15556100007';
    openai.latency = { embeddings: 0, chat: 0, triage: 8_000 };
    await sms(patient, 'What is IVF?');
    await waitFor(() => to(patient).length === 1, { what: 'the answer' });
    const triage = openai.calls.find((call) => isTriageRequest(call.body));
    expect(triage).toBeDefined();
    expect(triage!.endedAt === undefined || triage!.endedAt > to(patient)[0]!.at).toBe(true);
    expect(answerCalls(openai)).toHaveLength(1);
    await waitFor(async () => /clinic_model_triage_total\{verdict="failed"\} 1/.test(await metrics(service)), { what: 'the triage counted as failed' });
  });
});

describe('every emergency reaches a person (WhatsApp Cloud API)', () => {
  const APP_SECRET = 'meta-app-secret-for-alerts';
  const PHONE_NUMBER_ID = '106540352242922';
  let graph: FakeGraphApi;
  let service: TestService;
  const text = (from: string, body: string) =>
    postMetaWebhook(service.url, metaTextPayload(from, body, PHONE_NUMBER_ID), { appSecret: APP_SECRET, opensWindowOn: graph });

  beforeAll(async () => {
    graph = await startFakeGraphApi();
    service = await startTestService({
      META_ACCESS_TOKEN: graph.accessToken,
      META_APP_SECRET: APP_SECRET,
      META_GRAPH_API_URL: graph.baseURL,
      META_ALERT_TEMPLATE: 'clinic_alert:en_US',
      STAFF_ALERT_NUMBERS: ALERTS.join(','),
    });
    graph.webhook = { url: `${service.url}/webhooks/meta`, appSecret: APP_SECRET };
  });
  afterEach(async () => {
    await waitFor(() => service.worker.busy === 0, { what: 'worker idle' });
    await graph.settled();
    graph.reset();
  });
  afterAll(async () => {
    await service?.stop();
    await graph?.close();
  });

  it('when the Cloud API reports 131047 for an alert, then the approved template goes to that staff member', async () => {
    await text('15556200001', EMERGENCY);
    const [refused] = await graph.waitForRefused(2);
    expect(refused!.body).toContain('URGENT (possible emergency): patient +15556200001 (WhatsApp)');
    const templates = await graph.waitForTemplates(2);
    expect(templates.map((template) => template.to).sort()).toEqual(ALERTS.map((number) => number.slice(1)).sort());
    expect(templates[0]).toMatchObject({ phoneNumberId: PHONE_NUMBER_ID, name: 'clinic_alert', language: 'en_US' });
    expect(templates[0]!.bodyParameters).toEqual(['URGENT (possible emergency)', '+15556200001 (WhatsApp)', EMERGENCY]);
    expect(graph.messages.filter((message) => message.to === '15556200001').map((message) => message.body)).toEqual([expect.stringMatching(/emergency line/)]);
  });

  it('when an alert fails every way, then it is logged as an error and counted, and the service stays ready', async () => {
    graph.failWith = (call) => (call.body?.type === 'template' ? graphFailure(404, 132001, 'Template name does not exist in the translation') : undefined);
    await text('15556200002', 'my chest feels really tight and I can hardly breathe');
    await waitFor(() => service.logs.filter((line) => line.msg?.startsWith('staff alert failed every way')).length === 2, { what: 'both staff unreached, logged' });
    const error = service.logs.find((line) => line.msg?.startsWith('staff alert failed every way'))!;
    expect(error.level).toBe(50);
    expect(JSON.stringify(error)).not.toContain('15556200002');
    expect(await metrics(service)).toMatch(/clinic_staff_alerts_total\{route="template",outcome="unreached"\} 2/);
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
    expect(graph.messages.filter((message) => message.to === '15556200002')).toHaveLength(1);
  });
});

describe('the emergency reply under a full pipeline', () => {
  let openai: FakeOpenAI;
  let twilioApi: FakeTwilio;
  let service: TestService;
  const sms = (from: string, body: string) => postTwilioWebhook(service.url, { From: from, To: CLINIC_SMS, Body: body }, { authToken: twilioApi.authToken });
  const to = (address: string) => twilioApi.messages.filter((message) => message.to === address);

  beforeAll(async () => {
    [openai, twilioApi] = await Promise.all([startFakeOpenAI(), startFakeTwilio()]);
    service = await startTestService({ ...openaiEnv(openai), ...twilioEnv(twilioApi), OPENAI_MAX_CONCURRENCY: '1', WORKER_CONCURRENCY: '4', STAFF_ALERT_NUMBERS: ALERTS[0]! });
  });
  afterAll(async () => {
    await service?.stop();
    await Promise.all([openai?.close(), twilioApi?.close()]);
  });

  it('when every worker slot holds a question waiting on a slow model, then an emergency is still answered before any of them', async () => {
    openai.latency = { embeddings: 0, chat: 1_500, triage: 50 };
    const askers = Array.from({ length: 6 }, (_, index) => `+1555630000${index}`);
    for (const asker of askers) await sms(asker, 'What is IVF?');
    await waitFor(() => service.worker.busy === 4, { what: 'every worker slot taken' });
    await sms('+15556300099', EMERGENCY);
    await waitFor(() => to('+15556300099').length === 1, { what: 'the emergency reply', timeoutMs: 20_000 });
    expect(askers.filter((asker) => to(asker).length > 0)).toEqual([]);
    expect(to('+15556300099')[0]!.body).toMatch(/emergency line/);
    await waitFor(() => askers.every((asker) => to(asker).length === 1), { what: 'the questions answered in the end', timeoutMs: 30_000 });
  });

  it('when the model flags a message while answers queue for the one OpenAI slot, then its triage jumps the queue and the emergency reply comes before the queued answers', async () => {
    openai.reset();
    openai.latency = { embeddings: 0, chat: 1_500, triage: 50 };
    openai.triageReply = (body) => (lastPatientMessage(body).includes('zorblax') ? '{"category":"medical_emergency"}' : '{"category":"not_urgent"}');
    const askers = ['+15556310001', '+15556310002'];
    for (const asker of askers) await sms(asker, 'When do I start my injections?');
    await waitFor(() => answerCalls(openai).length >= 1, { what: 'the first answer generating' });
    await sms('+15556310099', 'zorblax zorblax');
    await waitFor(() => to('+15556310099').length === 1, { what: 'the emergency reply', timeoutMs: 20_000 });
    expect(to('+15556310099')[0]!.body).toMatch(/emergency line/);
    expect(askers.filter((asker) => to(asker).length === 0).length).toBeGreaterThanOrEqual(1);
    await waitFor(() => askers.every((asker) => to(asker).length === 1), { what: 'the questions answered in the end', timeoutMs: 30_000 });
  });
});
