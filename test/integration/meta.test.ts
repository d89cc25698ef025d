import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { startFakeGraphApi, graphFailure, type FakeGraphApi } from '../fakes/fake-graph-api.ts';
import { isAnswerRequest, lastPatientMessage, startFakeOpenAI, type FakeOpenAI } from '../fakes/fake-openai.ts';
import { startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { startTestService, type TestService } from '../support/start-test-service.ts';
import { metaFixture, postMetaWebhook } from '../support/meta-webhook-client.ts';
import { postTwilioWebhook } from '../support/twilio-webhook-client.ts';

const APP_SECRET = 'meta-app-secret-for-tests';
const VERIFY_TOKEN = 'clinic-verify-token-7f3a';
const CLINIC_PHONE_NUMBER_ID = '106540352242922';
const MEDIA_REPLY = /^I can only read text messages for now; please type your question or call the clinic at \+15550000000\.$/;

/** A fixture with some ids or numbers swapped, so that one payload can be sent as new in another test. */
function variant(name: string, replacements: Record<string, string>): Buffer {
  let text = metaFixture(name).toString('utf8');
  for (const [from, to] of Object.entries(replacements)) text = text.replaceAll(from, to);
  return Buffer.from(text);
}

describe('WhatsApp Cloud API (Meta) channel', () => {
  let graph: FakeGraphApi;
  let openai: FakeOpenAI;
  let twilioApi: FakeTwilio;
  let service: TestService;

  const textSends = () => graph.calls.filter((call) => call.body?.type === 'text');
  const verification = (params: Record<string, string>) => fetch(`${service.url}/webhooks/meta?${new URLSearchParams(params).toString()}`);

  beforeAll(async () => {
    [graph, openai, twilioApi] = await Promise.all([startFakeGraphApi(), startFakeOpenAI(), startFakeTwilio()]);
    service = await startTestService({
      OPENAI_API_KEY: 'test-key',
      OPENAI_BASE_URL: openai.baseURL,
      META_ACCESS_TOKEN: graph.accessToken,
      META_APP_SECRET: APP_SECRET,
      META_VERIFY_TOKEN: VERIFY_TOKEN,
      META_GRAPH_API_URL: graph.baseURL,
      TWILIO_ACCOUNT_SID: twilioApi.accountSid,
      TWILIO_AUTH_TOKEN: twilioApi.authToken,
      TWILIO_API_BASE_URL: twilioApi.apiBaseURL,
    });
  });
  afterEach(async () => {
    await waitFor(() => service.worker.busy === 0, { what: 'worker idle' });
    graph.reset();
    openai.reset();
    twilioApi.reset();
  });
  afterAll(async () => {
    await service?.stop();
    await Promise.all([graph?.close(), openai?.close(), twilioApi?.close()]);
  });

  it('when Meta subscribes with the verify token, then 200 with hub.challenge as the whole body', async () => {
    const response = await verification({ 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '1158201444' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toBe('1158201444');
  });

  it.each([
    ['the verify token is wrong', { 'hub.mode': 'subscribe', 'hub.verify_token': 'guess', 'hub.challenge': '1158201444' }],
    ['the mode is not subscribe', { 'hub.mode': 'unsubscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '1158201444' }],
    ['the verify token is missing', { 'hub.mode': 'subscribe', 'hub.challenge': '1158201444' }],
    ['there are no parameters', {}],
  ])('when %s, then the handshake is refused with 403', async (_name, params) => {
    const response = await verification(params);
    expect(response.status).toBe(403);
    expect(await response.text()).not.toContain('1158201444');
  });

  it('when a signed text message with non-ASCII text and emoji arrives, then 200 comes first, the message is marked read, and the reply goes out from the receiving phone number id', async () => {
    openai.latency.chat = 1000;
    let chatFinishedAt = 0;
    openai.on('call', (call) => {
      if (call.path.endsWith('/chat/completions') && isAnswerRequest(call.body)) chatFinishedAt = call.endedAt ?? Date.now();
    });
    const response = await postMetaWebhook(service.url, metaFixture('text-message'), { appSecret: APP_SECRET, opensWindowOn: graph });
    const acknowledgedAt = Date.now();
    expect(response.status).toBe(200);

    const [reply] = await graph.waitForMessages(1);
    expect(chatFinishedAt).toBeGreaterThan(acknowledgedAt);
    expect(reply).toMatchObject({ phoneNumberId: CLINIC_PHONE_NUMBER_ID, to: '15551230101' });
    expect(reply!.body).toMatch(/^\[fake model\] From "[^"]*Medications and Injections/i);
    // One call marks it read and shows "typing…", before the pipeline runs.
    expect(graph.readReceipts).toEqual([
      { phoneNumberId: CLINIC_PHONE_NUMBER_ID, messageId: 'wamid.HBgLMTU1NTEyMzAxMDEVAgASGBQzQUY3QjI1QjQ2RDM4QzM1NkQ0RgA=', typingIndicator: { type: 'text' }, at: expect.any(Number) },
    ]);
    expect(graph.calls[0]!.body).toEqual({
      messaging_product: 'whatsapp',
      status: 'read',
      message_id: 'wamid.HBgLMTU1NTEyMzAxMDEVAgASGBQzQUY3QjI1QjQ2RDM4QzM1NkQ0RgA=',
      typing_indicator: { type: 'text' },
    });
    expect(graph.calls.every((call) => call.authorization === `Bearer ${graph.accessToken}`)).toBe(true);
    // The text was stored byte for byte, and neither it nor the full number reached the logs.
    await waitFor(() => service.worker.busy === 0, { what: 'worker idle' });
    const history = await service.inbox.history(`meta:${CLINIC_PHONE_NUMBER_ID}:15551230101`, Number.MAX_SAFE_INTEGER);
    expect(history[0]).toEqual({ role: 'user', content: 'Grüße! When do I start my injections? 💉🙏 ¿Cuándo empiezo?', at: expect.any(String) });
    const logText = JSON.stringify(service.logs);
    expect(logText).not.toContain('15551230101');
    expect(logText).not.toContain('injections?');
  });

  it('when one payload carries two entries and several messages, then each is stored and answered once from its own phone number id, and a redelivery changes nothing', async () => {
    const payload = metaFixture('two-entries');
    expect((await postMetaWebhook(service.url, payload, { appSecret: APP_SECRET, opensWindowOn: graph })).status).toBe(200);
    await graph.waitForMessages(4);
    await waitFor(() => service.worker.busy === 0, { what: 'worker idle' });
    expect(graph.messages.map((m) => `${m.phoneNumberId}→${m.to}`).sort()).toEqual([
      '106540352242922→15551230201',
      '106540352242922→15551230202',
      '106540352242923→15551230203',
      '106540352242923→15551230204',
    ]);

    const before = await service.inbox.stats();
    expect((await postMetaWebhook(service.url, payload, { appSecret: APP_SECRET, opensWindowOn: graph })).status).toBe(200);
    await waitFor(() => service.worker.busy === 0, { what: 'worker idle' });
    expect(await service.inbox.stats()).toEqual(before);
    expect(graph.messages).toHaveLength(4);
  });

  it('when status updates arrive, including a failed one, then 200 and each is recorded against the outbound message', async () => {
    const patient = '15551230401';
    const conversation = `meta:${CLINIC_PHONE_NUMBER_ID}:${patient}`;
    await postMetaWebhook(service.url, variant('text-message', { '15551230101': patient, QUY3QjI1QjQ2RDM4QzM1NkQ0RgA: 'QUY3QjI1QjQ2RDM4QzM1NkQ0RgB' }), { appSecret: APP_SECRET, opensWindowOn: graph });
    const [reply] = await graph.waitForMessages(1);
    await waitFor(() => service.worker.busy === 0, { what: 'worker idle' });
    expect((await service.inbox.history(conversation, Number.MAX_SAFE_INTEGER)).map((turn) => turn.role)).toEqual(['user', 'assistant']);

    // The delivered/read ones refer to a message this service never sent: still 200.
    const statuses = variant('statuses', { 'wamid.HBgLMTU1NTEyMzA0MDIVAgARGBJBRjM5QzA4QjZFMjE0RTcyNTQA': reply!.id });
    const response = await postMetaWebhook(service.url, statuses, { appSecret: APP_SECRET });
    expect(response.status).toBe(200);

    const failed = service.logs.find((line) => line.msg === 'delivery status' && line.status === 'failed');
    expect(failed).toMatchObject({ channel: 'meta', providerMessageId: reply!.id, error: '131047: Re-engagement message' });
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    for (const status of ['sent', 'delivered', 'read', 'failed']) {
      expect(metrics).toContain(`clinic_delivery_status_total{channel="meta",status="${status}"} 1`);
    }
    // A reply that failed to arrive is no longer part of the conversation the model sees.
    expect((await service.inbox.history(conversation, Number.MAX_SAFE_INTEGER)).map((turn) => turn.role)).toEqual(['user']);
  });

  it('when the signature is wrong or missing, then 401, nothing is stored and nothing is sent', async () => {
    const before = await service.inbox.stats();
    const payload = variant('text-message', { '15551230101': '15551230402', QUY3QjI1QjQ2RDM4QzM1NkQ0RgA: 'QUY3QjI1QjQ2RDM4QzM1NkQ0RgC' });
    const wrong = await postMetaWebhook(service.url, payload, { appSecret: 'not-the-app-secret' });
    const missing = await postMetaWebhook(service.url, payload);
    expect([wrong.status, missing.status]).toEqual([401, 401]);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('signature_invalid');
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('signature_missing');
    expect(await service.inbox.stats()).toEqual(before);
    await waitFor(() => service.worker.busy === 0, { what: 'worker idle' });
    expect(graph.calls).toEqual([]);
  });

  it('when an image arrives, then the patient gets the kind "text only" answer, without the model', async () => {
    const response = await postMetaWebhook(service.url, metaFixture('image-message'), { appSecret: APP_SECRET, opensWindowOn: graph });
    expect(response.status).toBe(200);
    const [reply] = await graph.waitForMessages(1);
    expect(reply).toMatchObject({ phoneNumberId: CLINIC_PHONE_NUMBER_ID, to: '15551230501' });
    expect(reply!.body).toMatch(MEDIA_REPLY);
    expect(openai.calls.filter((call) => call.path.endsWith('/chat/completions'))).toEqual([]);
  });

  it('when non-text messages arrive, then buttons and lists are answered as their text, media kindly, and a reaction not at all', async () => {
    const response = await postMetaWebhook(service.url, metaFixture('non-text-messages'), { appSecret: APP_SECRET, opensWindowOn: graph });
    expect(response.status).toBe(200);
    await graph.waitForMessages(9);
    await waitFor(() => service.worker.busy === 0, { what: 'worker idle' });
    const replies = Object.fromEntries(graph.messages.map((m) => [m.to, m.body]));
    for (const media of ['15551230603', '15551230604', '15551230609', '15551230610']) {
      expect(replies[media], media).toMatch(MEDIA_REPLY);
    }
    // The voice note's audio is not on this fake Graph API (voice-notes.test.ts has one that is).
    expect(replies['15551230601']).toMatch(/^Sorry, I couldn't make out your voice note\. Please type your question/);
    // The document's caption is answered, with a line that the file itself was not read.
    expect(replies['15551230602']).toMatch(/^\[fake model\] From "[\s\S]*\n\nI can't open photos or files, so I have answered only what you wrote\.$/);
    for (const asText of ['15551230606', '15551230607', '15551230608']) {
      expect(replies[asText], asText).toMatch(/^\[fake model\] From "/);
    }
    expect(replies['15551230608']).toMatch(/^\[fake model\] From "Egg Retrieval/i);
    // The choices reached the model as the patient's words.
    const asked = openai.calls.filter((call) => call.path.endsWith('/chat/completions') && isAnswerRequest(call.body)).map((call) => lastPatientMessage(call.body));
    expect(asked).toEqual(expect.arrayContaining(['Opening hours', 'Costs and payment', 'What happens at egg retrieval?', 'My lab results']));
    expect(replies).not.toHaveProperty('15551230605'); // the 👍
    expect(replies).not.toHaveProperty('15551230611'); // the system message
    expect(graph.messages).toHaveLength(9);
  });

  it('when the payload is JSON the app does not understand, then 200, nothing stored, and a warning without content', async () => {
    const before = await service.inbox.stats();
    const logsBefore = service.logs.length;
    const unknown = await postMetaWebhook(service.url, metaFixture('unknown-shape'), { appSecret: APP_SECRET });
    const odd = await postMetaWebhook(service.url, '{"hello":"world","from":"15551230999"}', { appSecret: APP_SECRET });
    expect([unknown.status, odd.status]).toEqual([200, 200]);
    expect(await service.inbox.stats()).toEqual(before);
    const warnings = service.logs.slice(logsBefore).filter((line) => line.msg === 'webhook content not understood; acknowledged without storing it');
    expect(warnings.map((line) => line.ignored)).toEqual([
      ['entry[0].changes[0]: field "message_template_status_update" is not handled', 'entry[0].changes[1]: field "account_update" is not handled'],
      ['not a WhatsApp Business Account update'],
    ]);
    expect(warnings.every((line) => line.level === 40)).toBe(true);
    expect(JSON.stringify(warnings)).not.toMatch(/1555/);
  });

  it('when a correctly signed body is not JSON at all, then 400 (Meta never sends one)', async () => {
    const response = await postMetaWebhook(service.url, 'object=whatsapp_business_account', { appSecret: APP_SECRET });
    expect(response.status).toBe(400);
  });

  it('when the Graph API is rate limited, then the reply is sent again and arrives once', async () => {
    let textAttempts = 0;
    graph.failWith = (call) => (call.body?.type === 'text' && ++textAttempts === 1 ? graphFailure(429, 130429, 'Rate limit hit') : undefined);
    await postMetaWebhook(service.url, variant('text-message', { '15551230101': '15551230403', QUY3QjI1QjQ2RDM4QzM1NkQ0RgA: 'QUY3QjI1QjQ2RDM4QzM1NkQ0RgD' }), { appSecret: APP_SECRET, opensWindowOn: graph });
    const [reply] = await graph.waitForMessages(1);
    expect(reply!.to).toBe('15551230403');
    expect(textSends().map((call) => call.status)).toEqual([429, 200]);
    expect(graph.readReceipts).toHaveLength(1);
  });

  it.each([
    ['the token is bad', graphFailure(401, 190, 'Error validating access token: Session has expired'), '15551230404', 'E'],
    ['the 24-hour window has closed', graphFailure(400, 131047, 'Re-engagement message'), '15551230405', 'F'],
  ])('when %s, then the send is not retried and the error is logged with its fbtrace_id', async (_name, failure, patient, suffix) => {
    graph.failWith = (call) => (call.body?.type === 'text' ? failure : undefined);
    await postMetaWebhook(service.url, variant('text-message', { '15551230101': patient, QUY3QjI1QjQ2RDM4QzM1NkQ0RgA: `QUY3QjI1QjQ2RDM4QzM1NkQ0Rg${suffix}` }), { appSecret: APP_SECRET, opensWindowOn: graph });
    const failed = await waitFor(() => service.logs.find((line) => line.msg === 'reply failed for good' && line.to === `…${patient.slice(-4)}`), { what: 'the send to fail' });
    expect(failed.err).toMatchObject({ status: failure.status, providerCode: failure.error.code, fbtraceId: failure.error.fbtrace_id, retryable: false });
    expect(textSends()).toHaveLength(1);
  });

  it('when a message arrives on a phone number id that is not the business\'s, then the reply fails for good after one try (Graph 100/33), the message ends failed and the error is logged', async () => {
    const unknownPhoneNumberId = '109999999999999';
    const patient = '15551230407';
    const wamid = 'wamid.HBgLMTU1NTEyMzAxMDEVAgASGBQzQUY3QjI1QjQ2RDM4QzM1NkQ0RgH=';
    expect(graph.phoneNumberIds.has(unknownPhoneNumberId)).toBe(false);
    const payload = variant('text-message', { [CLINIC_PHONE_NUMBER_ID]: unknownPhoneNumberId, '15551230101': patient, QUY3QjI1QjQ2RDM4QzM1NkQ0RgA: 'QUY3QjI1QjQ2RDM4QzM1NkQ0RgH' });
    expect((await postMetaWebhook(service.url, payload, { appSecret: APP_SECRET, opensWindowOn: graph })).status).toBe(200);

    const failed = await waitFor(() => service.logs.find((line) => line.msg === 'reply failed for good' && line.to === `…${patient.slice(-4)}`), { what: 'the send to fail' });
    await waitFor(() => service.worker.busy === 0, { what: 'worker idle' });
    expect(failed.err).toMatchObject({ status: 400, providerCode: 100, retryable: false, fbtraceId: expect.any(String) });
    expect((failed.err as { message: string }).message).toMatch(/^Graph API send failed \(400, code 100\): Unsupported post request\. Object with ID '…\d{4}' does not exist/);
    expect(service.logs.filter((line) => line.inboxId === failed.inboxId && line.msg === 'reply failed; will retry')).toEqual([]);
    // One send, refused; the read receipt from that id was refused too (best effort, logged).
    const sends = textSends();
    expect(sends.map((call) => [call.path, call.status])).toEqual([[`/v23.0/${unknownPhoneNumberId}/messages`, 400]]);
    expect(sends[0]!.body).toMatchObject({ to: patient, type: 'text' });
    expect(graph.calls.filter((call) => call.body?.status === 'read').map((call) => call.status)).toEqual([400]);
    expect(service.logs.find((line) => line.msg === 'could not mark the message read' && line.inboxId === failed.inboxId)?.err).toMatchObject({ providerCode: 100 });
    expect(graph.messages).toEqual([]);
    // The inbox row ends failed after one attempt, with the provider's error.
    const row = (await service.inbox.failures()).find((message) => message.providerMessageId === wamid);
    expect(row).toMatchObject({ id: failed.inboxId, attempts: 1, error: expect.stringContaining('code 100') });
  });

  it('when the answer is longer than WhatsApp allows, then it goes out in parts of at most 4,096 characters', async () => {
    const paragraphs = Array.from({ length: 12 }, (_, i) => `Paragraph ${i + 1}. ${'The clinic team will guide you through each step of your treatment. '.repeat(10).trim()}`);
    openai.chatReply = () => paragraphs.join('\n\n');
    await postMetaWebhook(service.url, variant('text-message', { '15551230101': '15551230406', QUY3QjI1QjQ2RDM4QzM1NkQ0RgA: 'QUY3QjI1QjQ2RDM4QzM1NkQ0RgG' }), { appSecret: APP_SECRET, opensWindowOn: graph });
    await waitFor(() => service.worker.busy === 0 && graph.messages.length >= 3, { what: 'all parts sent' });
    const parts = graph.messages.map((m) => m.body);
    expect(parts.length).toBe(3);
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(4096);
    expect(parts.join('\n\n')).toBe(paragraphs.join('\n\n'));
  });

  it('when a Twilio message carries media (NumMedia > 0), then it gets the same kind answer', async () => {
    await postTwilioWebhook(service.url, { From: 'whatsapp:+15551230701', To: 'whatsapp:+15557654322', Body: '', NumMedia: '1' }, { authToken: twilioApi.authToken, opensWindowOn: twilioApi });
    const [reply] = await twilioApi.waitForMessages(1);
    expect(reply).toMatchObject({ from: 'whatsapp:+15557654322', to: 'whatsapp:+15551230701' });
    expect(reply!.body).toMatch(MEDIA_REPLY);
  });
});
