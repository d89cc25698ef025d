import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { conversationKey } from '../../src/channels/channel.ts';
import { startFakeGraphApi, type FakeGraphApi } from '../fakes/fake-graph-api.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { inboxDrained } from '../support/inbox-drained.ts';
import { postMetaWebhook } from '../support/meta-webhook-client.ts';
import { startTestService, type TestService } from '../support/start-test-service.ts';
import { messageSid } from '../support/twilio-webhook-client.ts';

const APP_SECRET = 'meta-app-secret-for-tests';
const PHONE_NUMBER_ID = '106540352242922';

/** A Cloud API text message as Meta sends it since usernames: the phone number only when Meta shares it. */
function textMessage(ids: { phone?: string; userId?: string }, text: string): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: '102290129340398', changes: [{ field: 'messages', value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: '15550783881', phone_number_id: PHONE_NUMBER_ID },
      contacts: [{ profile: { name: 'Patient', ...(ids.userId ? { username: '@patient' } : {}) }, ...(ids.phone ? { wa_id: ids.phone } : {}), ...(ids.userId ? { user_id: ids.userId } : {}) }],
      messages: [{ ...(ids.phone ? { from: ids.phone } : {}), ...(ids.userId ? { from_user_id: ids.userId } : {}), id: `wamid.${messageSid()}`, timestamp: '1764421900', type: 'text', text: { body: text } }],
    } }] }],
  });
}

describe('WhatsApp users with usernames (business-scoped user ids)', () => {
  let graph: FakeGraphApi;
  let service: TestService;
  const send = (ids: { phone?: string; userId?: string }, text: string) => postMetaWebhook(service.url, textMessage(ids, text), { appSecret: APP_SECRET, opensWindowOn: graph });
  const history = (patient: string) => service.inbox.history(conversationKey({ channel: 'meta', business: PHONE_NUMBER_ID, patient }), Number.MAX_SAFE_INTEGER);
  const sends = () => graph.calls.filter((call) => call.method === 'POST' && call.body?.type === 'text');

  beforeAll(async () => {
    graph = await startFakeGraphApi();
    service = await startTestService({ META_ACCESS_TOKEN: graph.accessToken, META_APP_SECRET: APP_SECRET, META_GRAPH_API_URL: graph.baseURL });
  });
  afterEach(async () => {
    await waitFor(() => service.worker.busy === 0, { what: 'worker idle' });
    graph.reset();
  });
  afterAll(async () => {
    await service?.stop();
    await graph?.close();
  });

  it('when a user writes with only a business-scoped user id, then they are answered, through `recipient`', async () => {
    const response = await send({ userId: 'US.13491208655302741918' }, 'When do I start my injections?');
    expect(response.status).toBe(200);
    const [reply] = await graph.waitForMessages(1);
    expect(reply).toMatchObject({ to: 'US.13491208655302741918' });
    expect(reply!.body).toMatch(/^From "Fertility Medications and Injections"/);
    expect(sends()[0]!.body).toMatchObject({ recipient: 'US.13491208655302741918' });
    expect(sends()[0]!.body).not.toHaveProperty('to');
    expect(service.logs.some((line) => line.msg?.startsWith('webhook content not understood'))).toBe(false);
  });

  it('when the same user later writes with their phone number too, then it is the same conversation, still answered by the id', async () => {
    await send({ userId: 'US.20000000000000000001' }, 'When do I start my injections?');
    await graph.waitForMessages(1);
    await send({ userId: 'US.20000000000000000001', phone: '15551230901' }, 'What is IVF?');
    const [, second] = await graph.waitForMessages(2);
    expect(second).toMatchObject({ to: 'US.20000000000000000001' });
    await inboxDrained(service);
    expect((await history('US.20000000000000000001')).filter((turn) => turn.role === 'user').map((turn) => turn.content)).toEqual([
      'When do I start my injections?',
      'What is IVF?',
    ]);
    expect(await history('15551230901')).toEqual([]);
  });

  it('when a user first wrote with their phone number and later without it, then the conversation stays under the number, answered by the number', async () => {
    await send({ phone: '15551230902', userId: 'US.30000000000000000002' }, 'When do I start my injections?');
    await graph.waitForMessages(1);
    await send({ userId: 'US.30000000000000000002' }, 'What is IVF?');
    const [, second] = await graph.waitForMessages(2);
    expect(second).toMatchObject({ to: '15551230902' });
    expect(sends()[1]!.body).toMatchObject({ to: '15551230902' });
    await inboxDrained(service);
    expect((await history('15551230902')).filter((turn) => turn.role === 'user')).toHaveLength(2);
  });
});
