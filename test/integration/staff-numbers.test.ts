import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { DEFAULT_PHONE_NUMBER_IDS, startFakeGraphApi, type FakeGraphApi } from '../fakes/fake-graph-api.ts';
import { startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { twilioEnv } from '../support/fake-env.ts';
import { inboxDrained } from '../support/inbox-drained.ts';
import { metaTextPayload, postMetaWebhook } from '../support/meta-webhook-client.ts';
import { startTestService, type TestService } from '../support/start-test-service.ts';
import { codeIn, createStaffClient } from '../support/staff-client.ts';
import { postTwilioWebhook } from '../support/twilio-webhook-client.ts';

const APP_SECRET = 'meta-app-secret-for-staff-numbers';
/** STAFF_NUMBERS as an operator writes them: E.164, an Argentine mobile without its 9, a Brazilian mobile with its ninth digit. */
const MEXICO = '+525512345678';
const ARGENTINA = '+541158749895';
const BRAZIL = '+5531996883193';
const HELP = /#debug on\|off[\s\S]*#reset[\s\S]*#resume[\s\S]*#help/;

describe('staff numbers on every channel, whatever spelling WhatsApp uses', () => {
  let twilioApi: FakeTwilio;
  let graph: FakeGraphApi;
  let service: TestService;
  const phoneNumberId = DEFAULT_PHONE_NUMBER_IDS[0]!;
  const sendMeta = (waId: string, body: string) => postMetaWebhook(service.url, metaTextPayload(waId, body, phoneNumberId), { appSecret: APP_SECRET, opensWindowOn: graph });
  const sendTwilio = (from: string, body: string) =>
    postTwilioWebhook(service.url, { From: from, To: 'whatsapp:+15557654322', Body: body }, { authToken: twilioApi.authToken, opensWindowOn: twilioApi });

  beforeAll(async () => {
    [twilioApi, graph] = await Promise.all([startFakeTwilio(), startFakeGraphApi()]);
    service = await startTestService({
      ...twilioEnv(twilioApi),
      META_ACCESS_TOKEN: graph.accessToken,
      META_APP_SECRET: APP_SECRET,
      META_GRAPH_API_URL: graph.baseURL,
      STAFF_NUMBERS: [MEXICO, ARGENTINA, BRAZIL].join(','),
    });
  });
  afterEach(async () => {
    await inboxDrained(service);
    twilioApi.reset();
    graph.reset();
  });
  afterAll(async () => {
    await service?.stop();
    await Promise.all([twilioApi?.close(), graph?.close()]);
  });

  it.each([
    ['Mexico, wa_id with the 1 after 52', '5215512345678'],
    ['Argentina, wa_id with the 9 after 54', '5491158749895'],
    ['Brazil, an old wa_id without the ninth digit', '553196883193'],
  ])('when a staff phone writes through the Cloud API (%s), then it is staff: #help lists the commands', async (_case, waId) => {
    const response = await sendMeta(waId, '#help');
    expect(response.status).toBe(200);
    await waitFor(() => graph.messages.some((message) => message.to === waId), { what: `the reply to ${waId}` });
    expect(graph.messages.find((message) => message.to === waId)!.body).toMatch(HELP);
  });

  it('when a staff phone writes through Twilio WhatsApp in the other spelling, then it is staff too', async () => {
    const from = 'whatsapp:+5215512345678';
    await sendTwilio(from, '#help');
    await waitFor(() => twilioApi.messages.some((message) => message.to === from), { what: 'the reply' });
    expect(twilioApi.messages.find((message) => message.to === from)!.body).toMatch(HELP);
  });

  it('when a number differs from a staff number in a digit that matters, then it is a patient: the command is ordinary text', async () => {
    const waId = '5215512345679';
    await sendMeta(waId, '#help');
    await waitFor(() => graph.messages.some((message) => message.to === waId), { what: 'the reply' });
    expect(graph.messages.find((message) => message.to === waId)!.body).not.toMatch(HELP);
  });

  it('when staff sign in to the console with the other spelling of their number, then the code goes to their phone and the session is the STAFF_NUMBERS entry', async () => {
    const waId = '5215512345678';
    // The phone wrote to the clinic through the Cloud API, so the code goes back that way.
    await sendMeta(waId, '#help');
    await waitFor(() => graph.messages.some((message) => message.to === waId), { what: 'the reply' });
    const staff = createStaffClient(service.url);
    await staff.signIn(`+${waId}`, async () =>
      codeIn((await waitFor(() => graph.messages.find((message) => message.to === waId && /sign-in code/.test(message.body)), { what: 'the sign-in code' })).body),
    );
    const session = await staff.request('/staff/api/session');
    expect(session.status).toBe(200);
    expect(session.json).toMatchObject({ staffNumber: MEXICO });
  });
});
