import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import type { PgliteDatabase } from '../../src/db/pglite/pglite-database.ts';
import { GENERATED_MARK, isAnswerRequest, startFakeOpenAI, type FakeOpenAI, type FakeOpenAICall } from '../fakes/fake-openai.ts';
import { startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { openaiEnv, twilioEnv } from '../support/fake-env.ts';
import { startTestService, type TestService } from '../support/start-test-service.ts';
import { postTwilioWebhook } from '../support/twilio-webhook-client.ts';

const CLINIC = '+15557654321';
/** Three SMS parts, so that the lease can be lost between two of them. */
const LONG_ANSWER = `${GENERATED_MARK}${[1, 2, 3].map((n) => `Part ${n}. ${'Your nurse will explain each step of the transfer. '.repeat(30).trim()}`).join('\n\n')}`;

/**
 * Fencing: a worker whose lease ran out (a long pause, a network cut) and whose message another instance
 * claimed must not send. Here "another instance" is a claim made straight in the database while the
 * service is in the middle of a message, after forcing its lease to expire.
 */
describe('fencing: a worker that lost its lease sends nothing more', () => {
  let openai: FakeOpenAI;
  let twilioApi: FakeTwilio;
  let service: TestService;
  const sql = <T>(statement: string) => (service.db as PgliteDatabase).query<T>(statement);
  /** The lease runs out and another instance claims every message whose lease ran out. */
  const stealLease = async (providerMessageId: string) => {
    await sql(`update inbox set lease_until = now() - interval '1 second' where provider_message_id = '${providerMessageId}'`);
    await sql(`select inbox_claim('another-instance', 300, 10)`);
  };
  const leaseLost = (inboxId: number) => service.logs.find((line) => line.inboxId === inboxId && String(line.msg).startsWith('lease lost'));

  beforeAll(async () => {
    [openai, twilioApi] = await Promise.all([startFakeOpenAI(), startFakeTwilio()]);
    service = await startTestService({ ...openaiEnv(openai), ...twilioEnv(twilioApi) });
  });
  afterAll(async () => {
    await service?.stop();
    await Promise.all([openai?.close(), twilioApi?.close()]);
  });
  beforeEach(() => {
    openai.reset();
    twilioApi.reset();
  });

  it('when the lease is lost while the answer is generated, then nothing is sent, saved or finished by the old owner', async () => {
    // The answer is held until the lease has been taken away.
    let stolen!: () => void;
    const answerHeld = new Promise<void>((resolve) => (stolen = resolve));
    const isAnswer = (call: FakeOpenAICall) => call.path === '/v1/chat/completions' && isAnswerRequest(call.body);
    openai.gate = (call) => (isAnswer(call) ? answerHeld : undefined);
    const patient = '+15556100001';
    await postTwilioWebhook(service.url, { From: patient, To: CLINIC, Body: 'When do I start my injections?', MessageSid: 'SMfeed000000000000000000000000001a' }, { authToken: twilioApi.authToken });
    await waitFor(() => openai.calls.some((call) => isAnswer(call) && call.endedAt === undefined), { what: 'the answer being generated' });
    await stealLease('SMfeed000000000000000000000000001a');
    expect(await sql(`select lease_owner from inbox where provider_message_id = 'SMfeed000000000000000000000000001a'`)).toEqual([{ lease_owner: 'another-instance' }]);
    stolen();

    const [row] = await sql<{ id: number }>(`select id from inbox where provider_message_id = 'SMfeed000000000000000000000000001a'`);
    await waitFor(() => leaseLost(row!.id), { what: 'the old owner stopping' });
    expect(twilioApi.requests).toBe(0);
    expect(await sql(`select state, lease_owner, reply, parts_sent from inbox where id = ${row!.id}`)).toEqual([
      { state: 'processing', lease_owner: 'another-instance', reply: null, parts_sent: 0 },
    ]);
    expect(await sql(`select id from outbound where inbox_id = ${row!.id}`)).toEqual([]);
  });

  it('when the lease is lost while the first of three parts is being sent, then that part is the last one the old owner sends', async () => {
    openai.chatReply = () => LONG_ANSWER;
    const patient = '+15556100002';
    // Long enough for the lease to be taken away while the first part is on its way, even on a busy machine.
    twilioApi.latencyFor = (to) => (to === patient ? 3_000 : undefined);
    await postTwilioWebhook(service.url, { From: patient, To: CLINIC, Body: 'Tell me all about the transfer', MessageSid: 'SMfeed000000000000000000000000002a' }, { authToken: twilioApi.authToken });
    await waitFor(() => twilioApi.requests === 1, { what: 'the first part on its way' });
    await stealLease('SMfeed000000000000000000000000002a');

    const [row] = await sql<{ id: number }>(`select id from inbox where provider_message_id = 'SMfeed000000000000000000000000002a'`);
    await waitFor(() => leaseLost(row!.id), { what: 'the old owner stopping' });
    const sent = twilioApi.messages.filter((message) => message.to === patient);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.body.startsWith(`${GENERATED_MARK}Part 1.`)).toBe(true);
    expect(twilioApi.requests).toBe(1);
    // The part that went out could not be recorded as the old owner's progress: the new owner decides.
    expect(await sql(`select state, lease_owner, parts_sent from inbox where id = ${row!.id}`)).toEqual([{ state: 'processing', lease_owner: 'another-instance', parts_sent: 0 }]);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/^clinic_leases_lost_total 2$/m);
  });
});
