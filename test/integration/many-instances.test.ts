import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runIngestCli } from '../../src/cli/ingest.ts';
import { openPostgresDatabase, type PostgresDatabase } from '../../src/db/postgres/postgres-database.ts';
import { GENERATED_MARK, isAnswerRequest, lastPatientMessage, startFakeOpenAI, type FakeOpenAI } from '../fakes/fake-openai.ts';
import { startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { openaiEnv, twilioEnv } from '../support/fake-env.ts';
import { spawnService, type SpawnedService } from '../support/spawn-service.ts';
import { createTestDatabase, NO_TEST_DATABASE, TEST_DATABASE_URL, type TestDatabase } from '../support/test-database.ts';
import { postTwilioWebhook } from '../support/twilio-webhook-client.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLINIC = '+15557654321';
const PATIENTS = 30;
const MESSAGES_EACH = 10;
const CAP = 4;

/**
 * Three service processes on one real PostgreSQL server, as an operator runs them: every webhook is
 * delivered to two different instances (as a load balancer retrying, or a provider redelivering),
 * one instance is killed with SIGKILL midway, and still every message is answered once, in order per
 * patient, with at most one OpenAI call in flight per unit of OPENAI_MAX_CONCURRENCY across all three.
 */
describe.skipIf(!TEST_DATABASE_URL)(`three instances on one PostgreSQL (${TEST_DATABASE_URL ? 'TEST_DATABASE_URL' : NO_TEST_DATABASE})`, () => {
  let database: TestDatabase;
  let db: PostgresDatabase;
  let openai: FakeOpenAI;
  let twilioApi: FakeTwilio;
  const services: SpawnedService[] = [];

  beforeAll(async () => {
    [openai, twilioApi, database] = await Promise.all([startFakeOpenAI(), startFakeTwilio(), createTestDatabase('instances')]);
    db = openPostgresDatabase({ url: database.url, poolSize: 2 });
    const env = { DATABASE_URL: database.url, ...openaiEnv(openai), LOG_LEVEL: 'silent' };
    const ingested = await runIngestCli(['knowledge'], { stdout: { write: () => true }, stderr: { write: () => true }, env, cwd: ROOT });
    expect(ingested.exitCode).toBe(0);
  }, 120_000);
  afterAll(async () => {
    for (const service of services) service.child.kill('SIGKILL');
    await Promise.all(services.map((service) => service.exited));
    await db?.close();
    await database?.drop();
    await Promise.all([openai?.close(), twilioApi?.close()]);
  });

  it('when a few hundred messages from dozens of patients reach two instances each and one instance is killed midway, then each is answered once, in order, within the OpenAI cap', async () => {
    // Each answer names the questions it answers, so that order and duplicates can be read off the phones.
    openai.chatReply = (body) => `${GENERATED_MARK}answering ${lastPatientMessage(body).replace(/\s+/g, ' ')}`;
    openai.latency.chat = 120;
    openai.latency.embeddings = 20;
    const env = {
      DATABASE_URL: database.url,
      DATABASE_POOL_SIZE: '4',
      ...openaiEnv(openai),
      ...twilioEnv(twilioApi),
      OPENAI_MAX_CONCURRENCY: String(CAP),
      WORKER_CONCURRENCY: '8',
      PATIENT_RATE_LIMIT_PER_MINUTE: '1000',
      CLINIC_NAME: 'Test Clinic',
      CLINIC_PHONE: '+15550000000',
      CLINIC_EMERGENCY_PHONE: '+15559999999',
    };
    services.push(...(await Promise.all([spawnService(env), spawnService(env), spawnService(env)])));
    const instanceOf = (service: SpawnedService) => String(service.logs.find((line) => line.msg === 'instance joined')!.instance);
    openai.reset();
    openai.chatReply = (body) => `${GENERATED_MARK}answering ${lastPatientMessage(body).replace(/\s+/g, ' ')}`;
    openai.latency.chat = 120;
    openai.latency.embeddings = 20;
    twilioApi.latencyMs = 30;

    const victim = services[1]!;
    const alive = new Set(services);
    const patient = (p: number) => `+1555620${String(p).padStart(4, '0')}`;
    const send = async (from: string, n: number, sid: string) => {
      // Two different live instances get the very same signed webhook.
      const targets = [...alive].sort(() => Math.random() - 0.5).slice(0, 2);
      const outcomes = await Promise.allSettled(
        targets.map((service) => postTwilioWebhook(service.url, { From: from, To: CLINIC, Body: `What is IVF? (question #${n})`, MessageSid: sid }, { authToken: twilioApi.authToken })),
      );
      const accepted = outcomes.some((outcome) => outcome.status === 'fulfilled' && outcome.value.status === 200);
      // Both copies went to the instance being killed at that instant: deliver again, as Twilio would.
      if (!accepted) await send(from, n, sid);
    };
    const started = Date.now();
    const senders = Array.from({ length: PATIENTS }, async (_, p) => {
      for (let n = 1; n <= MESSAGES_EACH; n++) {
        await send(patient(p), n, `SM${p.toString(16).padStart(4, '0')}${n.toString(16).padStart(4, '0')}${'0'.repeat(24)}`);
        await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 60));
      }
    });

    // Midway: one instance dies without a word.
    const answered = async () => (await db.query<{ n: number }>(`select count(*)::int as n from inbox where state in ('answered', 'merged')`))[0]!.n;
    await waitFor(async () => (await answered()) >= (PATIENTS * MESSAGES_EACH) / 3, { what: 'a third answered', timeoutMs: 60_000 });
    const victimId = instanceOf(victim);
    alive.delete(victim);
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    await victim.exited;
    const heldByVictim = (await db.query<{ n: number }>(`select count(*)::int as n from inbox where state = 'processing' and lease_owner = $1`, [victimId]))[0]!.n;
    // Its messages are released by the survivors' heartbeats within seconds, not after the 2-minute lease.
    const survivors = [...alive];
    await waitFor(() => survivors.some((service) => service.logs.some((line) => line.msg === 'instances stopped heartbeating: their messages are due again' && (line.dead as string[]).includes(victimId))), {
      what: 'the dead instance declared dead',
      timeoutMs: 15_000,
    });
    const releasedAfterMs = Date.now() - killedAt;
    expect(releasedAfterMs).toBeLessThan(10_000);

    await Promise.all(senders);
    await waitFor(async () => (await answered()) === PATIENTS * MESSAGES_EACH, { what: 'every message answered', timeoutMs: 90_000 });
    const elapsedMs = Date.now() - started;
    expect(await db.query(`select state, count(*)::int as n from inbox where state not in ('answered', 'merged') group by state`)).toEqual([]);

    // On each phone: every question answered, in order; a repeat only for a part the victim was sending as it died.
    let repeats = 0;
    for (let p = 0; p < PATIENTS; p++) {
      const replies = twilioApi.messages.filter((message) => message.to === patient(p)).map((message) => message.body);
      const distinct = replies.filter((body, index) => body !== replies[index - 1]);
      repeats += replies.length - distinct.length;
      const numbers = distinct.flatMap((body) => [...body.matchAll(/#(\d+)/g)].map((match) => Number(match[1])));
      expect(numbers, patient(p)).toEqual(Array.from({ length: MESSAGES_EACH }, (_, index) => index + 1));
      for (const body of distinct) expect(body.startsWith(GENERATED_MARK), body).toBe(true);
    }
    expect(repeats).toBeLessThanOrEqual(heldByVictim);
    // One cap for the deployment: three instances with OPENAI_MAX_CONCURRENCY=4 never had more than 4 calls in flight.
    expect(openai.maxInFlight).toBeLessThanOrEqual(CAP);
    expect(openai.maxInFlight).toBeGreaterThanOrEqual(2);
    const answers = openai.calls.filter((call) => isAnswerRequest(call.body)).length;
    console.log(`three instances: ${PATIENTS * MESSAGES_EACH} messages in ${(elapsedMs / 1000).toFixed(1)} s, ${answers} answers generated, OpenAI in flight at most ${openai.maxInFlight} (cap ${CAP}), victim held ${heldByVictim}, released after ${releasedAfterMs} ms, ${repeats} repeated part(s)`);
  }, 240_000);
});
