import { appendFileSync, mkdtempSync, rmSync, statSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { PgliteDatabase } from '../../src/db/pglite/pglite-database.ts';
import { journalPathsFor } from '../../src/intake/journal-file.ts';
import { encodeRecords } from '../../src/intake/journal-records.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/fake-openai.ts';
import { startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { openaiEnv, twilioEnv } from '../support/fake-env.ts';
import { sample } from '../support/metric-sample.ts';
import { spawnedServices, type SpawnedService } from '../support/spawn-service.ts';
import { startTestService, type TestService } from '../support/start-test-service.ts';
import { messageSid, postTwilioWebhook, twilioWebhookRequest } from '../support/twilio-webhook-client.ts';

const CLINIC = '+15557654321';
const HOLD = 'hold the database';
/**
 * How a test holds the database thread of a running service from outside it: a trigger that sleeps a
 * minute when the message `HOLD` is stored. PGlite runs one statement at a time, so every call behind
 * it waits, as behind a long search or an ingestion.
 */
const HOLD_TRIGGER = `
  create function public.test_hold() returns trigger language plpgsql as $$
  begin
    if new.body = '${HOLD}' then perform pg_sleep(60); end if;
    return new;
  end $$;
  create trigger test_hold before insert on public.inbox for each row execute function public.test_hold();`;

/** Opens a stopped service's data directory in this process (the service must not be running). */
async function withDatabase<T>(dataDir: string, use: (db: PGlite) => Promise<T>): Promise<T> {
  const db = await PGlite.create({ dataDir, extensions: { vector } });
  try {
    return await use(db);
  } finally {
    await db.close();
  }
}

describe('the inbox journal of a data directory on disk (real processes)', () => {
  let openai: FakeOpenAI;
  let twilioApi: FakeTwilio;
  const dir = mkdtempSync(join(tmpdir(), 'clinic-journal-'));
  const dataDir = join(dir, 'data');
  const services = spawnedServices();

  const spawnTracked = () =>
    services.spawn({
      DATA_DIR: dataDir,
      ...openaiEnv(openai),
      ...twilioEnv(twilioApi),
      CLINIC_NAME: 'Test Clinic',
      CLINIC_PHONE: '+15550000000',
      CLINIC_EMERGENCY_PHONE: '+15559999999',
    });
  /** A signed Twilio webhook; a 200 must come within 10 s, whatever the database is doing. */
  const send = async (service: SpawnedService, from: string, body: string, sid = messageSid()) => {
    const url = `${service.url}/webhooks/twilio`;
    const response = await fetch(url, {
      method: 'POST',
      ...twilioWebhookRequest(url, { From: from, To: CLINIC, Body: body, MessageSid: sid }, { authToken: twilioApi.authToken }),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: response.status, body: await response.text(), sid };
  };
  const storedLines = (service: SpawnedService) => service.logs.filter((line) => line.msg === 'inbound message stored');

  beforeAll(async () => {
    [openai, twilioApi] = await Promise.all([startFakeOpenAI(), startFakeTwilio()]);
  });
  afterAll(async () => {
    await services.killAll();
    await Promise.all([openai?.close(), twilioApi?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('when webhooks are answered while the database thread is held and the process is killed with SIGKILL before they are stored, then the next start stores each once and answers it, in order per patient', async () => {
    // A first start creates the database and loads the documents; then the test installs its hold.
    const creator = await spawnTracked();
    creator.child.kill('SIGTERM');
    expect((await creator.exited).code).toBe(0);
    await withDatabase(dataDir, (db) => db.exec(HOLD_TRIGGER));

    const service = await spawnTracked();
    await waitFor(() => fetch(`${service.url}/readyz`).then((r) => r.ok), { what: 'ready', timeoutMs: 30_000 });
    expect((await send(service, '+15553200099', HOLD)).status).toBe(200);
    // Five patients, three messages each, one after the other per patient; one message redelivered.
    const patients = Array.from({ length: 5 }, (_, i) => `+1555320000${i}`);
    const sent = new Map<string, string[]>(patients.map((patient) => [patient, []]));
    for (let round = 1; round <= 3; round++) {
      const answers = await Promise.all(patients.map((patient) => send(service, patient, `Question ${round} from ${patient.slice(-1)}: what is IVF?`)));
      for (const [index, answer] of answers.entries()) {
        expect(answer.status).toBe(200);
        expect(answer.body).toBe('<Response></Response>');
        sent.get(patients[index]!)!.push(answer.sid);
      }
    }
    const redelivered = sent.get(patients[0]!)![1]!;
    expect((await send(service, patients[0]!, `Question 2 from 0: what is IVF?`, redelivered)).status).toBe(200);
    // Every 200 came while the database was held: none of those messages is stored yet.
    expect(storedLines(service).map((line) => line.providerMessageId)).toEqual([]);
    expect(statSync(journalPathsFor(dataDir).journal).size).toBeGreaterThan(17 * 100);
    service.child.kill('SIGKILL');
    expect((await service.exited).signal).toBe('SIGKILL');

    await withDatabase(dataDir, (db) => db.exec('drop trigger test_hold on public.inbox; drop function public.test_hold();'));
    // And a hundred more acknowledged just before the kill (more than one batch of the drainer).
    const more = Array.from({ length: 100 }, (_, i) => ({
      v: 1,
      message: { channel: 'twilio', providerMessageId: messageSid(), patient: `+1555320${String(1000 + i)}`, business: CLINIC, body: 'What is IVF?', kind: 'text' },
      rateLimit: 20,
    }));
    appendFileSync(journalPathsFor(dataDir).journal, encodeRecords(more));
    twilioApi.reset();
    const restarted = await spawnTracked();
    // Replayed before the worker claims: the journal's 117 records (the redelivery included).
    expect(restarted.logs.find((line) => line.msg === 'storing messages an earlier process acknowledged but had not stored')).toMatchObject({ messages: 117 });
    const replayed = await waitFor(() => {
      const lines = restarted.logs.filter((line) => line.msg === 'inbound message stored' || line.msg === 'inbound message redelivered, already stored');
      return lines.length === 117 && lines;
    }, { what: 'the journal replayed' });
    expect(replayed.filter((line) => line.duplicate === true).map((line) => line.providerMessageId)).toEqual([redelivered]);
    expect(restarted.logs.findIndex((line) => line.msg === 'worker started')).toBeGreaterThan(restarted.logs.indexOf(replayed.at(-1)!));
    await waitFor(() => [...patients, '+15553200099', '+15553201099'].every((patient) => twilioApi.messages.some((m) => m.to === patient)), { what: 'every patient answered', timeoutMs: 60_000 });
    await waitFor(async () => {
      const metrics = await fetch(`${restarted.url}/metrics`).then((r) => r.text());
      return (
        sample(metrics, 'clinic_inbox_journal_waiting') === 0 &&
        sample(metrics, 'clinic_inbox_messages', { state: 'pending' }) === 0 &&
        sample(metrics, 'clinic_inbox_messages', { state: 'processing' }) === 0
      );
    }, { what: 'inbox drained', timeoutMs: 60_000 });
    restarted.child.kill('SIGTERM');
    expect((await restarted.exited).code).toBe(0);
    expect(statSync(journalPathsFor(dataDir).journal).size).toBe(0);

    const rows = await withDatabase(dataDir, async (db) =>
      (await db.query<{ patient: string; provider_message_id: string; state: string }>(
        `select patient, provider_message_id, state from inbox where patient like '+1555320%' order by id`,
      )).rows,
    );
    for (const patient of patients) {
      const theirs = rows.filter((row) => row.patient === patient);
      // Each message once, in the order it was sent, and answered (alone or with its burst).
      expect(theirs.map((row) => row.provider_message_id)).toEqual(sent.get(patient));
      expect(theirs.every((row) => row.state === 'answered' || row.state === 'merged')).toBe(true);
    }
    expect(rows.filter((row) => row.patient.startsWith('+15553201')).map((row) => row.provider_message_id)).toEqual(more.map((record) => record.message.providerMessageId));
    // Each patient's burst answered once: one reply each.
    for (const patient of patients) expect(twilioApi.messages.filter((m) => m.to === patient)).toHaveLength(1);
  }, 180_000);

  it('when the journal cannot be written (a full disk), then the webhook gets a 503 with the reason and nothing is stored', async () => {
    const { journal } = journalPathsFor(dataDir);
    unlinkSync(journal);
    // /dev/full fails every write with ENOSPC, as a full disk does.
    symlinkSync('/dev/full', journal);
    const service = await spawnTracked();
    const refused = await send(service, '+15553200011', 'Is my appointment tomorrow?');
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'journal_unwritable', message: expect.stringContaining('ENOSPC') } });
    expect(await service.waitForLog((line) => line.msg === 'request failed')).toMatchObject({ level: 50, path: '/webhooks/twilio' });
    service.child.kill('SIGTERM');
    expect((await service.exited).code).toBe(0);
    expect(storedLines(service)).toHaveLength(0);
  }, 120_000);
});

describe('the inbox journal of an in-memory database', () => {
  let twilioApi: FakeTwilio;
  let service: TestService;

  beforeAll(async () => {
    twilioApi = await startFakeTwilio();
    service = await startTestService({ ...twilioEnv(twilioApi), PATIENT_RATE_LIMIT_PER_MINUTE: '2' });
  });
  afterAll(async () => {
    await service?.stop();
    await twilioApi?.close();
  });

  it('when the database thread is held, then each webhook is answered 200 before its message is stored, and the messages are stored after, in order', async () => {
    // Three seconds of the database thread, posted to it before the webhooks' writes: they queue behind it.
    let heldUntil: number | undefined;
    const held = (service.db as PgliteDatabase).exec('select pg_sleep(3)').then(() => (heldUntil = performance.now()));
    const sids: string[] = [];
    const acknowledged: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const sid = messageSid();
      sids.push(sid);
      const response = await postTwilioWebhook(service.url, { From: '+15553300001', To: CLINIC, Body: `Question ${i}`, MessageSid: sid }, { authToken: twilioApi.authToken });
      expect(response.status).toBe(200);
      acknowledged.push(performance.now());
    }
    expect(heldUntil).toBeUndefined();
    expect(service.logs.filter((line) => sids.includes(line.providerMessageId as string))).toHaveLength(0);
    await held;
    await waitFor(() => service.intake.waiting === 0, { what: 'the journal drained' });
    const stored = service.logs.filter((line) => line.msg === 'inbound message stored' && sids.includes(line.providerMessageId as string));
    expect(stored.map((line) => line.providerMessageId)).toEqual(sids);
    expect(Math.max(...acknowledged)).toBeLessThan(heldUntil!);
  }, 30_000);

  it('when a message is redelivered, then it is journaled twice, stored once, and the rate limit counts it once', async () => {
    // PATIENT_RATE_LIMIT_PER_MINUTE=2: a third message in the minute is the one that gets the notice.
    const first = messageSid();
    for (const sid of [first, first, messageSid()]) {
      expect((await postTwilioWebhook(service.url, { From: '+15553300002', To: CLINIC, Body: 'What is IVF?', MessageSid: sid }, { authToken: twilioApi.authToken })).status).toBe(200);
    }
    await waitFor(() => service.intake.waiting === 0, { what: 'the journal drained' });
    const lines = service.logs.filter((line) => line.from === '…0002' && typeof line.state === 'string');
    expect(lines.map((line) => [line.providerMessageId === first, line.duplicate, line.state])).toEqual([
      [true, false, 'pending'],
      [true, true, expect.any(String)],
      [false, false, 'pending'],
    ]);
    const rows = await (service.db as PgliteDatabase).query<{ kind: string }>(`select kind from inbox where patient = '+15553300002' order by id`);
    expect(rows.map((row) => row.kind)).toEqual(['text', 'text']);
  });
});
