import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { conversationKey } from '../../src/channels/channel.ts';
import { startFakeGraphApi, type FakeGraphApi } from '../fakes/fake-graph-api.ts';
import { isAnswerRequest, lastPatientMessage, startFakeOpenAI, type FakeOpenAI } from '../fakes/fake-openai.ts';
import { startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { openaiEnv, twilioEnv } from '../support/fake-env.ts';
import { inboxDrained } from '../support/inbox-drained.ts';
import { makeOggOpus } from '../support/make-ogg-opus.ts';
import { postMetaWebhook } from '../support/meta-webhook-client.ts';
import { startTestService, type TestService } from '../support/start-test-service.ts';
import { messageSid, postTwilioWebhook } from '../support/twilio-webhook-client.ts';

const APP_SECRET = 'meta-app-secret-for-tests';
const PHONE_NUMBER_ID = '106540352242922';
const WHATSAPP_CLINIC = 'whatsapp:+15557654322';
const QUESTION = 'When do I start my injections?';

/** A Cloud API webhook carrying one voice note, as Meta sends it (audio id, mime type, voice: true). */
function metaVoiceNote(from: string, mediaId: string): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: '102290129340398', changes: [{ field: 'messages', value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: '15550783881', phone_number_id: PHONE_NUMBER_ID },
      contacts: [{ profile: { name: 'Patient' }, wa_id: from }],
      messages: [{ from, id: `wamid.${messageSid()}`, timestamp: '1764421700', type: 'audio', audio: { mime_type: 'audio/ogg; codecs=opus', sha256: 'x', id: mediaId, voice: true } }],
    } }] }],
  });
}

describe('voice notes, transcribed and answered as if typed', () => {
  let openai: FakeOpenAI;
  let twilioApi: FakeTwilio;
  let graph: FakeGraphApi;
  let service: TestService;
  const transcriptions = () => openai.calls.filter((call) => call.path === '/v1/audio/transcriptions');
  const sendVoiceNote = async (from: string, audio: Uint8Array) => {
    const { url } = twilioApi.addMedia({ contentType: 'audio/ogg', bytes: audio });
    return postTwilioWebhook(service.url, { From: from, To: WHATSAPP_CLINIC, Body: '', NumMedia: '1', MediaContentType0: 'audio/ogg', MediaUrl0: url }, { authToken: twilioApi.authToken, opensWindowOn: twilioApi });
  };

  beforeAll(async () => {
    [openai, twilioApi, graph] = await Promise.all([startFakeOpenAI(), startFakeTwilio(), startFakeGraphApi()]);
    service = await startTestService({
      ...openaiEnv(openai),
      ...twilioEnv(twilioApi),
      META_ACCESS_TOKEN: graph.accessToken,
      META_APP_SECRET: APP_SECRET,
      META_GRAPH_API_URL: graph.baseURL,
      OPENAI_MAX_CONCURRENCY: '1',
      VOICE_MAX_SECONDS: '60',
      STAFF_ALERT_NUMBERS: '+15550009999',
    });
  });
  afterEach(async () => {
    await waitFor(() => service.worker.busy === 0, { what: 'worker idle' });
    openai.reset();
    twilioApi.reset();
    graph.reset();
  });
  afterAll(async () => {
    await service?.stop();
    await Promise.all([openai?.close(), twilioApi?.close(), graph?.close()]);
  });

  it('when a voice note comes through Twilio, then it is downloaded with the account credentials, transcribed, stored as the message and answered', async () => {
    await sendVoiceNote('whatsapp:+15551270001', makeOggOpus(6, QUESTION));
    const [reply] = await twilioApi.waitForMessages(1);
    expect(reply!.body).toMatch(/^\[fake model\] From "Fertility Medications and Injections/);

    expect(transcriptions()).toHaveLength(1);
    expect(transcriptions()[0]!.body).toMatchObject({ model: 'gpt-4o-mini-transcribe', file: { filename: 'voice.ogg', contentType: 'audio/ogg' } });
    const asked = openai.calls.filter((call) => call.path.endsWith('/chat/completions') && isAnswerRequest(call.body)).map((call) => lastPatientMessage(call.body));
    expect(asked).toEqual([QUESTION]);
    // The transcript is the message as stored (history, staff console, export).
    await inboxDrained(service);
    const conversation = conversationKey({ channel: 'twilio', business: WHATSAPP_CLINIC, patient: 'whatsapp:+15551270001' });
    expect(await service.inbox.history(conversation, Number.MAX_SAFE_INTEGER)).toContainEqual(expect.objectContaining({ role: 'user', content: QUESTION }));
    // Neither the audio nor the transcript is in the logs at info.
    const logged = JSON.stringify(service.logs);
    expect(logged).not.toContain('spoken:');
    expect(logged).not.toContain(QUESTION);
  });

  it('when a voice note comes through the Cloud API, then the media id is resolved to a URL, downloaded with the token, and answered', async () => {
    const { id } = graph.addMedia({ mimeType: 'audio/ogg; codecs=opus', bytes: makeOggOpus(4, 'What happens at egg retrieval?') });
    await postMetaWebhook(service.url, metaVoiceNote('15551270002', id), { appSecret: APP_SECRET, opensWindowOn: graph });
    const [reply] = await graph.waitForMessages(1);
    expect(reply!.body).toMatch(/^\[fake model\] From "Egg Retrieval/i);
    expect(graph.calls.filter((call) => call.method === 'GET').map((call) => call.authorization)).toEqual([`Bearer ${graph.accessToken}`, `Bearer ${graph.accessToken}`]);
  });

  it('when the patient says an emergency, then it gets the emergency reply and staff are alerted, without waiting for a model answer', async () => {
    await sendVoiceNote('whatsapp:+15551270003', makeOggOpus(5, "I'm bleeding really heavily, soaking a pad every hour"));
    const replies = await twilioApi.waitForMessages(1);
    const toPatient = replies.find((message) => message.to === 'whatsapp:+15551270003');
    expect(toPatient!.body).toMatch(/^This could be urgent\. Please call Test Fertility Clinic's emergency line now at \+15559999999/);
    expect(openai.calls.filter((call) => call.path.endsWith('/chat/completions') && isAnswerRequest(call.body))).toEqual([]);
  });

  it('when a voice note is longer than VOICE_MAX_SECONDS, then the patient is asked for a shorter one and nothing is transcribed', async () => {
    await sendVoiceNote('whatsapp:+15551270004', makeOggOpus(61, QUESTION));
    const [reply] = await twilioApi.waitForMessages(1);
    expect(reply!.body).toMatch(/^Your voice note is longer than I can listen to \(1 min\)\. Please send a shorter one, type your question, or call \+15550000000\.$/);
    expect(transcriptions()).toEqual([]);
  });

  it('when a voice note has no words in it, or its audio is gone, then the patient is asked to type', async () => {
    await sendVoiceNote('whatsapp:+15551270005', makeOggOpus(3, ''));
    const [silent] = await twilioApi.waitForMessages(1);
    expect(silent!.body).toMatch(/^Sorry, I couldn't make out your voice note\. Please type your question/);

    await postMetaWebhook(service.url, metaVoiceNote('15551270006', '9999999999999999'), { appSecret: APP_SECRET, opensWindowOn: graph });
    const [gone] = await graph.waitForMessages(1);
    expect(gone!.body).toMatch(/^Sorry, I couldn't make out your voice note/);
  });

  it('when the transcription fails for a moment, then the voice note is retried and answered', async () => {
    let failures = 0;
    openai.failWith = (call) => (call.path === '/v1/audio/transcriptions' && failures++ < 3 ? 503 : undefined);
    await sendVoiceNote('whatsapp:+15551270007', makeOggOpus(6, QUESTION));
    const [reply] = await twilioApi.waitForMessages(1);
    expect(reply!.body).toMatch(/^\[fake model\] From "Fertility Medications and Injections/);
    expect(transcriptions().length).toBeGreaterThan(3);
  });

  it('when voice notes and questions arrive together, then transcriptions share the one OpenAI cap', async () => {
    openai.latency.chat = 50;
    await Promise.all([
      sendVoiceNote('whatsapp:+15551270008', makeOggOpus(6, QUESTION)),
      sendVoiceNote('whatsapp:+15551270009', makeOggOpus(6, 'What is IVF?')),
      postTwilioWebhook(service.url, { From: 'whatsapp:+15551270010', To: WHATSAPP_CLINIC, Body: 'How much does IVF cost?' }, { authToken: twilioApi.authToken, opensWindowOn: twilioApi }),
    ]);
    await twilioApi.waitForMessages(3);
    expect(transcriptions()).toHaveLength(2);
    expect(openai.maxInFlight).toBe(1);
  });
});

describe('voice notes without OPENAI_API_KEY', () => {
  let twilioApi: FakeTwilio;
  let service: TestService;

  beforeAll(async () => {
    twilioApi = await startFakeTwilio();
    service = await startTestService(twilioEnv(twilioApi));
  });
  afterAll(async () => {
    await service?.stop();
    await twilioApi?.close();
  });

  it('when a voice note arrives offline, then the patient is asked to type, as before', async () => {
    const { url } = twilioApi.addMedia({ contentType: 'audio/ogg', bytes: makeOggOpus(6, QUESTION) });
    await postTwilioWebhook(service.url, { From: 'whatsapp:+15551270020', To: WHATSAPP_CLINIC, Body: '', NumMedia: '1', MediaContentType0: 'audio/ogg', MediaUrl0: url }, { authToken: twilioApi.authToken, opensWindowOn: twilioApi });
    const [reply] = await twilioApi.waitForMessages(1);
    expect(reply!.body).toMatch(/^I can only read text messages for now; please type your question/);
  });
});
