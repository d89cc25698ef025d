import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { countSmsSegments } from '../../src/channels/sms/count-sms-segments.ts';
import { GENERATED_MARK, isAnswerRequest, startFakeOpenAI, type FakeOpenAI } from '../fakes/fake-openai.ts';
import { smsSegments, startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { openaiEnv, twilioEnv } from '../support/fake-env.ts';
import { sample } from '../support/metric-sample.ts';
import { startTestService, type TestService } from '../support/start-test-service.ts';
import { postTwilioWebhook } from '../support/twilio-webhook-client.ts';

const SMS_NUMBER = '+15557654321';
const WHATSAPP_NUMBER = 'whatsapp:+15557654322';

/** A long answer as a model writes one: typographic apostrophes, quotes and dashes, many sentences. */
const LONG_ANSWER = `${GENERATED_MARK}${'You’ll start the injections on day 2 of your cycle — your nurse shows you how first. “Take them at the same time each evening.” '.repeat(12).trim()}`;

describe('SMS cost: GSM-7 punctuation and at most SMS_MAX_SEGMENTS', () => {
  let openai: FakeOpenAI;
  let twilioApi: FakeTwilio;
  let service: TestService;

  beforeAll(async () => {
    [openai, twilioApi] = await Promise.all([startFakeOpenAI(), startFakeTwilio()]);
    service = await startTestService({ ...openaiEnv(openai), ...twilioEnv(twilioApi), SMS_MAX_SEGMENTS: '3' });
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

  it('when the model writes a long answer with curly quotes, then the SMS is GSM-7, cut at a sentence to 3 segments, and counted', async () => {
    openai.chatReply = () => LONG_ANSWER;
    const before = sample(await (await fetch(`${service.url}/metrics`)).text(), 'clinic_sms_segments_total', { encoding: 'gsm7' }) ?? 0;
    await postTwilioWebhook(service.url, { From: '+15551240001', To: SMS_NUMBER, Body: 'When do I start my injections?' }, { authToken: twilioApi.authToken });
    const [reply] = await twilioApi.waitForMessages(1);

    expect(reply!.body).not.toMatch(/[’“”—]/);
    expect(reply!.body).toMatch(/^\[fake model\] You'll start the injections on day 2 of your cycle - your nurse/);
    expect(reply!.body).toMatch(/[.!?"]$/);
    expect(countSmsSegments(reply!.body)).toEqual({ encoding: 'gsm7', segments: 3 });
    // The fake's own count of what Twilio bills agrees.
    expect(smsSegments(reply!.body)).toBe(3);
    // The model was asked for brevity within the budget, in plain punctuation.
    const answerRequest = openai.calls.find((call) => call.path.endsWith('/chat/completions') && isAnswerRequest(call.body));
    expect(answerRequest!.body.messages[0].content).toMatch(/by SMS: at most \d{3} characters in all, with straight quotes/);
    await waitFor(async () => {
      const after = sample(await (await fetch(`${service.url}/metrics`)).text(), 'clinic_sms_segments_total', { encoding: 'gsm7' });
      return after === before + 3;
    }, { what: 'clinic_sms_segments_total{encoding="gsm7"} to grow by 3' });
  });

  it('when a symptom question gets a long answer, then the cut keeps the safety line whole', async () => {
    openai.chatReply = (body) => (isAnswerRequest(body) ? LONG_ANSWER : '');
    await postTwilioWebhook(service.url, { From: '+15551240002', To: SMS_NUMBER, Body: 'Is heavy bleeding normal after transfer?' }, { authToken: twilioApi.authToken });
    const [reply] = await twilioApi.waitForMessages(1);
    expect(reply!.body).toMatch(/please call \+15559999999 now rather than waiting for a text\.$/);
    expect(countSmsSegments(reply!.body).segments).toBeLessThanOrEqual(3);
  });

  it('when the same answer goes to WhatsApp through Twilio, then it is sent whole, with its punctuation', async () => {
    openai.chatReply = () => LONG_ANSWER;
    await postTwilioWebhook(service.url, { From: 'whatsapp:+15551240003', To: WHATSAPP_NUMBER, Body: 'When do I start my injections?' }, { authToken: twilioApi.authToken, opensWindowOn: twilioApi });
    const [reply] = await twilioApi.waitForMessages(1);
    expect(reply!.body).toBe(LONG_ANSWER);
  });
});
