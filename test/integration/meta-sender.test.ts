import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { AppError } from '../../src/app-error.ts';
import { createMetaSender } from '../../src/channels/meta/meta-sender.ts';
import { startFakeGraphApi, type FakeGraphApi } from '../fakes/fake-graph-api.ts';

describe('createMetaSender against the fake Graph API', () => {
  let graph: FakeGraphApi;

  beforeAll(async () => {
    graph = await startFakeGraphApi();
  });
  afterEach(() => graph.reset());
  afterAll(async () => {
    await graph?.close();
  });

  it('when a reply is sent, then it is a text message from the phone number id and its wamid comes back', async () => {
    const sender = createMetaSender({ accessToken: graph.accessToken, graphApiUrl: graph.baseURL });
    graph.customerWrote('15551230801'); // a reply: the patient wrote first, so WhatsApp delivers it
    const { providerMessageId } = await sender.send({ from: '106540352242922', to: '15551230801', body: 'Hello 👋' });
    expect(providerMessageId).toBe(graph.messages[0]!.id);
    expect(graph.calls[0]).toMatchObject({
      path: '/v23.0/106540352242922/messages',
      authorization: `Bearer ${graph.accessToken}`,
      body: { messaging_product: 'whatsapp', recipient_type: 'individual', to: '15551230801', type: 'text', text: { body: 'Hello 👋', preview_url: false } },
    });
    expect(sender.maxLength('15551230801')).toBe(4096);
  });

  it('when the Graph API does not answer in time, then the send fails as retryable', async () => {
    graph.latencyMs = 2_000;
    const sender = createMetaSender({ accessToken: graph.accessToken, graphApiUrl: graph.baseURL, timeoutMs: 100 });
    const error = await sender.send({ from: '106540352242922', to: '15551230802', body: 'Hello' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'send_failed', retryable: true, message: expect.stringMatching(/^Graph API send got no answer/) });
  });

  it('when the token is wrong, then the Graph error is parsed and not retried', async () => {
    const sender = createMetaSender({ accessToken: 'wrong-token', graphApiUrl: graph.baseURL });
    const error = await sender.acknowledge!({ providerMessageId: 'wamid.x', business: '106540352242922', patient: '15551230803' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'acknowledge_failed', retryable: false, details: { status: 401, providerCode: 190, fbtraceId: expect.any(String) } });
  });
});
