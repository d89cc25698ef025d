import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { startFakeGraphApi, type FakeGraphApi } from '../fakes/fake-graph-api.ts';
import { startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { twilioEnv } from '../support/fake-env.ts';
import { inboxDrained } from '../support/inbox-drained.ts';
import { metaFixture, postMetaWebhook } from '../support/meta-webhook-client.ts';
import { startTestService, type TestService } from '../support/start-test-service.ts';
import { postTwilioWebhook } from '../support/twilio-webhook-client.ts';

const APP_SECRET = 'meta-app-secret-for-tests';
const NOT_READ = "I can't open photos or files, so I have answered only what you wrote.";

describe('photos with words, edits, deletions, locations and contacts (offline)', () => {
  let twilioApi: FakeTwilio;
  let graph: FakeGraphApi;
  let service: TestService;

  beforeAll(async () => {
    [twilioApi, graph] = await Promise.all([startFakeTwilio(), startFakeGraphApi()]);
    service = await startTestService({ ...twilioEnv(twilioApi), META_ACCESS_TOKEN: graph.accessToken, META_APP_SECRET: APP_SECRET, META_GRAPH_API_URL: graph.baseURL });
  });
  afterEach(async () => {
    await waitFor(() => service.worker.busy === 0, { what: 'worker idle' });
    twilioApi.reset();
    graph.reset();
  });
  afterAll(async () => {
    await service?.stop();
    await Promise.all([twilioApi?.close(), graph?.close()]);
  });

  it('when a Twilio photo comes with a caption, then the caption is answered, with a line that the photo was not read', async () => {
    await postTwilioWebhook(
      service.url,
      { From: 'whatsapp:+15551260001', To: 'whatsapp:+15557654322', Body: 'When do I start my injections?', NumMedia: '1', MediaContentType0: 'image/jpeg', MediaUrl0: `${twilioApi.apiBaseURL}/photo` },
      { authToken: twilioApi.authToken, opensWindowOn: twilioApi },
    );
    const [reply] = await twilioApi.waitForMessages(1);
    expect(reply!.body).toMatch(/^From "Fertility Medications and Injections"/);
    expect(reply!.body.endsWith(`\n\n${NOT_READ}`)).toBe(true);
  });

  it('when a WhatsApp message is edited, then the new words are answered as a new message; when one is deleted, then nothing is said', async () => {
    const response = await postMetaWebhook(service.url, metaFixture('edit-and-revoke'), { appSecret: APP_SECRET, opensWindowOn: graph });
    expect(response.status).toBe(200);
    const replies = await graph.waitForMessages(2);
    await inboxDrained(service);
    expect(replies.map((reply) => reply.body)).toEqual([
      expect.stringMatching(/^From "Fertility Medications and Injections"/),
      expect.stringMatching(new RegExp(`\\n\\n${NOT_READ.replace(/[.']/g, '\\$&')}$`)),
    ]);
    // The deletion stored nothing and said nothing.
    expect(graph.messages).toHaveLength(2);
    expect(service.logs.some((line) => line.msg?.startsWith('webhook content not understood'))).toBe(false);
  });
});
