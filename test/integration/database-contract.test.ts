import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import type { InboundMessage } from '../../src/channels/channel.ts';
import type { Database } from '../../src/db/database.ts';
import { applyMigrations } from '../../src/db/migrate.ts';
import { openPgliteDatabase } from '../../src/db/pglite/pglite-database.ts';
import { openPostgresDatabase } from '../../src/db/postgres/postgres-database.ts';
import { openSupabaseDatabase } from '../../src/db/supabase/supabase-database.ts';
import { planAlerts } from '../../src/alerts/plan-alerts.ts';
import { createStaffAlerts } from '../../src/alerts/staff-alerts.ts';
import { verifyAddressHash, hashAddress } from '../../src/patient-data/hash-address.ts';
import { patientAddresses } from '../../src/patient-data/patient-addresses.ts';
import { createPatientData } from '../../src/patient-data/patient-data-store.ts';
import { createPatientStates } from '../../src/store/patient-state.ts';
import { createInbox, type Inbox } from '../../src/store/inbox.ts';
import { createInstances } from '../../src/store/instances.ts';
import { createKnowledge, type ChunkInput, type Knowledge } from '../../src/store/knowledge.ts';
import { fakeEmbedding } from '../fakes/fake-openai.ts';
import { startFakePostgrest, type FakePostgrest } from '../fakes/fake-postgrest.ts';
import { closedPort } from '../support/closed-port.ts';
import { createTestDatabase, NO_TEST_DATABASE, TEST_DATABASE_URL } from '../support/test-database.ts';

/** A transport under test, and a back door to empty the tables between tests. */
type Harness = { db: Database; sql(statement: string): Promise<void>; query<T>(statement: string, params?: unknown[]): Promise<T[]>; close(): Promise<void> };

// One fake PostgREST for the whole file: each costs an embedded database start of several seconds.
let postgrestStarted: Promise<FakePostgrest> | undefined;
const sharedPostgrest = () => (postgrestStarted ??= startFakePostgrest());
afterAll(async () => {
  await (await postgrestStarted)?.close();
});

const transports: [string, () => Promise<Harness>][] = [
  [
    'embedded PGlite',
    async () => {
      const db = openPgliteDatabase({ dataDir: 'memory://' });
      await applyMigrations(db);
      return { db, sql: (statement) => db.exec(statement), query: (statement, params) => db.query(statement, params), close: () => db.close() };
    },
  ],
  [
    'supabase-js rpc() over PostgREST',
    async () => {
      const postgrest = await sharedPostgrest();
      const db = openSupabaseDatabase({ url: postgrest.url, serviceRoleKey: postgrest.serviceRoleKey });
      return { db, sql: (statement) => postgrest.db.exec(statement), query: (statement, params) => postgrest.db.query(statement, params), close: () => db.close() };
    },
  ],
  // A real server, through the driver DATABASE_URL uses: calls run at once on several connections.
  ...(TEST_DATABASE_URL
    ? [
        [
          'PostgreSQL driver (DATABASE_URL)',
          async () => {
            const database = await createTestDatabase('contract');
            const db = openPostgresDatabase({ url: database.url, poolSize: 4 });
            return {
              db,
              sql: (statement) => db.exec(statement),
              query: (statement, params) => db.query(statement, params),
              close: async () => {
                await db.close();
                await database.drop();
              },
            };
          },
        ] satisfies [string, () => Promise<Harness>],
      ]
    : []),
];

describe.skipIf(TEST_DATABASE_URL)(`database contract: PostgreSQL driver (${NO_TEST_DATABASE})`, () => {
  it('runs on TEST_DATABASE_URL', () => {});
});

const CLINIC = '+15557654321';

function answer(text: string) {
  return { text, origin: 'generated' as const, sources: [], uncovered: false };
}

function inbound(patient: string, providerMessageId: string, body: string, channel: InboundMessage['channel'] = 'twilio'): InboundMessage {
  return { channel, providerMessageId, patient, business: CLINIC, body, kind: 'text' };
}

function document(source: string, title: string, sections: { heading: string; content: string }[], options: { embed?: boolean; hash?: string } = {}) {
  const chunks: ChunkInput[] = sections.map((section, position) => ({
    position,
    title,
    heading: section.heading,
    content: section.content,
    contentHash: `${source}#${position}:${section.content.length}`,
    ...(options.embed ? { embedding: fakeEmbedding(`${title}\n${section.heading}\n${section.content}`) } : {}),
  }));
  return { source, title, contentHash: options.hash ?? `hash-of-${source}`, chunks };
}

const LEAFLETS = (embed: boolean) => [
  document('medications.md', 'Medications and Injections', [
    { heading: 'Starting your injections', content: 'You start your stimulation injections on day two of your cycle. A nurse shows you how to inject.' },
  ], { embed }),
  document('clinic-hours.md', 'Clinic Hours', [{ heading: 'Mornings', content: 'Monitoring appointments start at seven in the morning.' }], { embed }),
  document('egg-retrieval.md', 'Egg Retrieval', [{ heading: 'The day of retrieval', content: 'Retrieval takes about twenty minutes under sedation. Do not eat after midnight.' }], { embed }),
  document('costs.md', 'Costs and Payment', [{ heading: 'Instalments', content: 'Treatment can be paid in three instalments; medication is billed separately.' }], { embed }),
];

describe.each(transports)('database contract: %s', (_name, open) => {
  let harness: Harness;
  let inbox: Inbox;
  let knowledge: Knowledge;

  beforeAll(async () => {
    harness = await open();
    inbox = createInbox(harness.db);
    knowledge = createKnowledge(harness.db);
  });
  beforeEach(async () => {
    await harness.sql('truncate documents, chunks, inbox, outbound, delivery_status, staff_alerts, patient_state, data_audit restart identity cascade');
  });
  afterAll(async () => {
    await harness?.close();
  });

  describe('inbox', () => {
    it('when two conversations have messages waiting, then a claim hands out the oldest of each, and the next only once the first is finished', async () => {
      const a1 = await inbox.enqueue(inbound('+15550000001', 'SM-a1', 'first from A'));
      const b1 = await inbox.enqueue(inbound('+15550000002', 'SM-b1', 'first from B'));

      const first = await inbox.claim('worker-1', 60, 10);
      expect(first.map((m) => [m.id, m.body])).toEqual([
        [a1.id, 'first from A'],
        [b1.id, 'first from B'],
      ]);
      expect(first[0]).toMatchObject({ channel: 'twilio', providerMessageId: 'SM-a1', patient: '+15550000001', business: CLINIC, attempts: 1, reply: null, partsSent: 0, merged: 0 });
      // A's next message arrives while A's first is being answered: it waits its turn.
      const a2 = await inbox.enqueue(inbound('+15550000001', 'SM-a2', 'second from A'));
      expect(await inbox.claim('worker-2', 60, 10)).toEqual([]);

      await inbox.finish(a1.id, 'worker-1', 'answered');
      const next = await inbox.claim('worker-2', 60, 10);
      expect(next.map((m) => m.id)).toEqual([a2.id]);
      expect(await inbox.stats()).toEqual({ answered: 1, processing: 2 });
    });

    it('when a lease ran out and another worker claimed the message, then every write of the first owner is refused and changes nothing', async () => {
      const { id } = await inbox.enqueue(inbound('+15550000031', 'SM-fence-1', 'will my lease hold?'));
      const [claimed] = await inbox.claim('worker-old', 60, 1);
      await inbox.saveAnswer(id, 'worker-old', answer('first part'));
      await inbox.recordOutbound({ inboxId: id, channel: 'twilio', conversation: claimed!.conversation, body: 'first part', owner: 'worker-old' });
      // A long pause: the lease runs out and another instance claims the message.
      await harness.sql(`update inbox set lease_until = now() - interval '1 second' where id = ${id}`);
      const [taken] = await inbox.claim('worker-new', 60, 1);
      expect(taken).toMatchObject({ id, reply: 'first part', partsSent: 1, attempts: 2 });

      const refused = { name: 'LeaseLostError', code: 'lease_lost', retryable: false, inboxId: id };
      await expect(inbox.saveAnswer(id, 'worker-old', answer('another reply'))).rejects.toMatchObject(refused);
      await expect(inbox.recordOutbound({ inboxId: id, channel: 'twilio', conversation: taken!.conversation, body: 'second part', owner: 'worker-old' })).rejects.toMatchObject(refused);
      await expect(inbox.retry(id, 'worker-old', 'oops', 0)).rejects.toMatchObject(refused);
      await expect(inbox.finish(id, 'worker-old', 'answered')).rejects.toMatchObject(refused);
      expect(await inbox.extendLeases([id], 'worker-old', 60)).toEqual([]);
      const [row] = await harness.query<{ reply: string; parts_sent: number; state: string; lease_owner: string; outbound: number }>(
        `select reply, parts_sent, state, lease_owner, (select count(*)::int from outbound where inbox_id = ${id}) as outbound from inbox where id = ${id}`,
      );
      expect(row).toEqual({ reply: 'first part', parts_sent: 1, state: 'processing', lease_owner: 'worker-new', outbound: 1 });

      // The new owner's writes go through.
      expect(await inbox.extendLeases([id], 'worker-new', 60)).toEqual([id]);
      await inbox.finish(id, 'worker-new', 'answered');
      // A lease that ran out with nobody claiming since is no lease either: the owner must renew it first.
      const { id: second } = await inbox.enqueue(inbound('+15550000032', 'SM-fence-2', 'and now?'));
      await inbox.claim('worker-old', 60, 1);
      await harness.sql(`update inbox set lease_until = now() - interval '1 second' where id = ${second}`);
      await expect(inbox.saveAnswer(second, 'worker-old', answer('late'))).rejects.toMatchObject({ code: 'lease_lost' });
      expect(await inbox.extendLeases([second], 'worker-old', 60)).toEqual([second]);
      await inbox.saveAnswer(second, 'worker-old', answer('in time again'));
    });

    it('when more conversations wait than a claim takes, then an emergency goes first, then the oldest turns, and no conversation twice', async () => {
      const busy1 = await inbox.enqueue(inbound('+15550000021', 'SM-q-1', 'busy patient, first'));
      await inbox.claim('worker-1', 60, 1);
      await inbox.enqueue(inbound('+15550000021', 'SM-q-2', 'busy patient, second'));
      const waiting = await inbox.enqueue(inbound('+15550000022', 'SM-q-3', 'waiting patient'));
      await inbox.enqueue(inbound('+15550000022', 'SM-q-4', 'waiting patient again'));
      await inbox.enqueue({ ...inbound('+15550000023', 'SM-q-5', 'STOP'), kind: 'command' });
      // The busy patient's emergency does not wait for the answer still being generated for them.
      const emergency = await inbox.enqueue({ ...inbound('+15550000021', 'SM-q-6', 'I am bleeding heavily'), kind: 'emergency' });

      const claimed = await inbox.claim('worker-2', 60, 2);
      expect(claimed.map((m) => [m.id, m.kind])).toEqual([
        [waiting.id, 'text'],
        [emergency.id, 'emergency'],
      ]);
      expect(claimed[0]).toMatchObject({ merged: 1, body: 'waiting patient\nwaiting patient again' });
      // The busy patient's second message still waits for their first.
      const rest = await inbox.claim('worker-2', 60, 10);
      expect(rest.map((m) => m.providerMessageId)).toEqual(['SM-q-5']);
      await inbox.finish(busy1.id, 'worker-1', 'answered');
      expect((await inbox.claim('worker-2', 60, 10)).map((m) => m.providerMessageId)).toEqual(['SM-q-2']);
    });

    it('when a burst has a command in it, then only the text before the command is merged, and the command keeps its own turn', async () => {
      const first = await inbox.enqueue(inbound('+15550000012', 'SM-cmd-1', 'What is IVF?'));
      await inbox.enqueue(inbound('+15550000012', 'SM-cmd-2', 'and ICSI?'));
      const stop = await inbox.enqueue({ ...inbound('+15550000012', 'SM-cmd-3', 'STOP'), kind: 'command' });
      await inbox.enqueue(inbound('+15550000012', 'SM-cmd-4', 'sorry, one more'));
      const [claimed] = await inbox.claim('worker-1', 60, 10);
      expect(claimed).toMatchObject({ id: first.id, merged: 1, body: 'What is IVF?\nand ICSI?' });
      await inbox.finish(first.id, 'worker-1', 'answered');
      const [next] = await inbox.claim('worker-1', 60, 10);
      expect(next).toMatchObject({ id: stop.id, kind: 'command', merged: 0, body: 'STOP' });
    });

    it('when a patient sends a burst before the worker starts on it, then it is claimed as one message with the whole burst, in order', async () => {
      const first = await inbox.enqueue(inbound('+15550000011', 'SM-burst-1', 'hi'));
      await inbox.enqueue(inbound('+15550000011', 'SM-burst-2', 'I have a question'));
      await inbox.enqueue(inbound('+15550000011', 'SM-burst-3', 'when do I start injections?'));
      const [claimed, ...rest] = await inbox.claim('worker-1', 60, 10);
      expect(rest).toEqual([]);
      expect(claimed).toMatchObject({ id: first.id, merged: 2, body: 'hi\nI have a question\nwhen do I start injections?' });
      expect(await inbox.stats()).toEqual({ processing: 1, merged: 2 });
    });

    it('when webhooks arrive while one is being stored, then (embedded) they are stored together, each as it would be alone', async () => {
      const patient = '+15550000031';
      // Eight at once: the first goes alone, the other seven wait for it and go as one batch, with a
      // redelivery of the first among them and the patient's rate limit (5 a minute) crossed inside it.
      const ids = ['SM-g-1', 'SM-g-2', 'SM-g-1', 'SM-g-3', 'SM-g-4', 'SM-g-5', 'SM-g-6', 'SM-g-7'];
      const store = (id: string) => inbox.enqueue(inbound(patient, id, `text ${id}`), 5);
      // Supabase runs calls in parallel and is not grouped: there, in order, one after the other.
      const results: Awaited<ReturnType<typeof store>>[] = [];
      if (harness.db.serial) results.push(...(await Promise.all(ids.map(store))));
      else for (const id of ids) results.push(await store(id));
      expect(results.map((r) => [r.duplicate, r.state])).toEqual([
        [false, 'pending'], [false, 'pending'], [true, 'pending'], [false, 'pending'],
        [false, 'pending'], [false, 'pending'], [false, 'pending'], [false, 'skipped'],
      ]);
      // The sixth new message is the one that tells the patient to slow down; the seventh is dropped.
      expect(results[6]).toMatchObject({ kind: 'throttle_notice' });
      expect(results[2]!.id).toBe(results[0]!.id);
      expect(new Set(results.map((r) => r.id)).size).toBe(7);
      const [claimed] = await inbox.claim('worker-1', 60, 10);
      expect(claimed!.body).toBe('text SM-g-1\ntext SM-g-2\ntext SM-g-3\ntext SM-g-4\ntext SM-g-5');
      expect(claimed!.merged).toBe(4);

      // The batch function itself (a failed batch would fall back to one call each, unseen above).
      const row = (id: string) => ({ channel: 'twilio', provider_message_id: id, conversation: `twilio:${patient}`, patient, business: CLINIC, body: id, kind: 'text' });
      const direct = await harness.db.call<{ duplicate: boolean; state: string }[]>('inbox_enqueue_batch', { p_messages: [row('SM-g-2'), row('SM-g-8')] });
      expect(direct.map((r) => [r.duplicate, r.state])).toEqual([[true, 'merged'], [false, 'pending']]);
    });

    it('when a message is full of quotes, backslashes and SQL, then it is stored and read back exactly, as data', async () => {
      const hostile = `O'Brien's "dose" \\'; drop table inbox; -- \\\\ $1 $$ E'\\n' 😊 ‘quoted’`;
      const { id } = await inbox.enqueue(inbound("+1555'0000032", "SM-'quote'", hostile));
      const [claimed] = await inbox.claim('worker-1', 60, 10);
      expect(claimed).toMatchObject({ id, body: hostile, patient: "+1555'0000032", providerMessageId: "SM-'quote'" });
      expect(await inbox.stats()).toEqual({ processing: 1 });
    });

    it('when a provider delivers the same message twice, then the second is a duplicate of the first and only one is claimed', async () => {
      const first = await inbox.enqueue(inbound('+15550000003', 'SM-dup', 'hello'));
      const again = await inbox.enqueue(inbound('+15550000003', 'SM-dup', 'hello'));
      expect(first.duplicate).toBe(false);
      expect(again).toEqual({ id: first.id, duplicate: true, state: 'pending' });
      // The same id on the other channel is another message.
      expect((await inbox.enqueue(inbound('15550000003', 'SM-dup', 'hello', 'meta'))).duplicate).toBe(false);

      const claimed = await inbox.claim('worker-1', 60, 10);
      expect(claimed.filter((m) => m.providerMessageId === 'SM-dup' && m.channel === 'twilio')).toHaveLength(1);
    });

    it('when a claimed message is put back for a retry, then it keeps its saved reply and is claimed again once due', async () => {
      const { id } = await inbox.enqueue(inbound('+15550000004', 'SM-retry', 'question'));
      await inbox.claim('worker-1', 60, 10);
      await inbox.saveAnswer(id, 'worker-1', { text: 'the saved answer', origin: 'generated', sources: [], uncovered: false });
      await inbox.retry(id, 'worker-1', 'send failed', 0);
      const [again] = await inbox.claim('worker-2', 60, 10);
      expect(again).toMatchObject({ id, attempts: 2, reply: 'the saved answer' });
    });
  });

  describe('instances', () => {
    beforeEach(async () => {
      await harness.sql('delete from instances');
    });

    it('when instances come and go, then the OpenAI shares are re-divided and never add up to more than the total', async () => {
      const instances = createInstances(harness.db);
      const beat = (id: string, held: number) => instances.heartbeat({ id, kind: 'service', ttlSeconds: 60, openaiTotal: 4, openaiHeld: held });
      expect(await beat('a', 0)).toMatchObject({ share: 4, instances: 1 });
      // B joins while A may still have 4 calls in flight: B waits for A to give up its half.
      expect(await beat('b', 0)).toMatchObject({ share: 0, instances: 2 });
      expect(await beat('a', 4)).toMatchObject({ share: 2 });
      expect(await beat('b', 0)).toMatchObject({ share: 0 });
      // A's next beat reports its new cap: 2 are free for B.
      expect(await beat('a', 2)).toMatchObject({ share: 2 });
      expect(await beat('b', 0)).toMatchObject({ share: 2 });
      // An ingest run takes part like an instance; shares follow as each beats.
      expect(await instances.heartbeat({ id: 'c-ingest', kind: 'ingest', ttlSeconds: 60, openaiTotal: 4, openaiHeld: 0 })).toMatchObject({ share: 0, instances: 3 });
      const rows = await harness.query<{ held: number }>('select sum(openai_held)::int as held from instances');
      expect(rows[0]!.held).toBeLessThanOrEqual(4);
      await instances.leave('c-ingest');
      expect(await beat('a', 2)).toMatchObject({ share: 2, instances: 2 });
    });

    it('when an instance stops heartbeating, then the next heartbeat of another releases its messages and frees its share', async () => {
      const instances = createInstances(harness.db);
      const beat = (id: string) => instances.heartbeat({ id, kind: 'service', ttlSeconds: 5, openaiTotal: 4, openaiHeld: 2 });
      await beat('alive');
      await beat('doomed');
      const { id } = await inbox.enqueue(inbound('+15550000041', 'SM-dead-1', 'held by an instance that dies'));
      expect(await inbox.claim('doomed', 120, 1)).toHaveLength(1);
      await harness.sql(`update instances set heartbeat_at = now() - interval '6 seconds' where id = 'doomed'`);
      expect(await beat('alive')).toMatchObject({ dead: ['doomed'], released: 1, instances: 1 });
      const [again] = await inbox.claim('alive', 120, 1);
      expect(again).toMatchObject({ id, attempts: 2 });
      // The dead instance's late writes are refused (fencing).
      await expect(inbox.finish(id, 'doomed', 'answered')).rejects.toMatchObject({ code: 'lease_lost' });
      expect(await beat('alive')).toMatchObject({ share: 4 });
      expect(await instances.leave('alive')).toEqual({ released: 1 });
    });
  });

  describe('history', () => {
    it('when a conversation has answered turns, then history gives them oldest first, before the current message, without other conversations', async () => {
      const patient = '+15550000010';
      const answer = async (providerMessageId: string, question: string, reply: string) => {
        const { id } = await inbox.enqueue(inbound(patient, providerMessageId, question));
        const [claimed] = await inbox.claim('worker-1', 60, 10);
        expect(claimed!.id).toBe(id);
        await inbox.recordOutbound({ inboxId: id, channel: 'twilio', conversation: claimed!.conversation, body: reply, providerMessageId: `SM-reply-${id}` });
        await inbox.finish(id, 'worker-1', 'answered');
        return claimed!.conversation;
      };
      const conversation = await answer('SM-h1', 'What is IVF?', 'IVF is in vitro fertilisation.');
      await answer('SM-h2', 'How long does it take?', 'About four to six weeks.');
      await inbox.enqueue(inbound('+15550000011', 'SM-other', 'Another patient'));
      const current = await inbox.enqueue(inbound(patient, 'SM-h3', 'And the cost?'));

      const turns = (await inbox.history(conversation, current.id)).map(({ role, content }) => ({ role, content }));
      expect(turns).toEqual([
        { role: 'user', content: 'What is IVF?' },
        { role: 'assistant', content: 'IVF is in vitro fertilisation.' },
        { role: 'user', content: 'How long does it take?' },
        { role: 'assistant', content: 'About four to six weeks.' },
      ]);
      const lastTwo = (await inbox.history(conversation, current.id, { limit: 2 })).map(({ role, content }) => ({ role, content }));
      expect(lastTwo).toEqual(turns.slice(2));
    });
  });

  describe('hybrid search', () => {
    it('when the question has an embedding, then the passage first on both full-text and vector ranks first, fused by reciprocal rank', async () => {
      for (const leaflet of LEAFLETS(true)) await knowledge.ingestDocument(leaflet);
      const question = 'When do I start my injections?';
      const results = await knowledge.search(question, fakeEmbedding(question));

      expect(results.map((r) => r.source).slice(0, 2)).toEqual(['medications.md', 'clinic-hours.md']);
      expect(results[0]).toMatchObject({ title: 'Medications and Injections', heading: 'Starting your injections', fullTextRank: 1, semanticRank: 1 });
      expect(results[0]!.score).toBeCloseTo(2 / 61, 10);
      // Every leaflet is among the nearest, so each has a vector rank; only two match the words.
      expect(results).toHaveLength(4);
      expect(results.every((r) => r.semanticRank !== null)).toBe(true);
      expect(results.filter((r) => r.fullTextRank !== null).map((r) => r.source)).toEqual(['medications.md', 'clinic-hours.md']);
      for (let i = 1; i < results.length; i++) expect(results[i]!.score).toBeLessThanOrEqual(results[i - 1]!.score);
    });

    it('when there is no embedding (offline mode), then the ranking is full-text alone', async () => {
      for (const leaflet of LEAFLETS(false)) await knowledge.ingestDocument(leaflet);
      const results = await knowledge.search('When do I start my injections?', undefined);
      expect(results.map((r) => [r.source, r.fullTextRank, r.semanticRank])).toEqual([
        ['medications.md', 1, null],
        ['clinic-hours.md', 2, null],
      ]);
      expect(results[0]!.score).toBeCloseTo(1 / 61, 10);
      expect(await knowledge.search('zebra crossing', undefined)).toEqual([]);
    });
  });

  describe('ingestion', () => {
    it('when a document is ingested again unchanged, then changed, then it is added once, left alone, and its chunks replaced', async () => {
      const original = document('ohss.md', 'OHSS', [
        { heading: 'What it is', content: 'Ovarian hyperstimulation syndrome is a reaction to the stimulation medicines.' },
        { heading: 'Warning signs', content: 'Call the clinic about severe bloating or shortness of breath.' },
      ], { embed: true, hash: 'v1' });
      const added = await knowledge.ingestDocument(original);
      expect(added.outcome).toBe('added');
      expect(await knowledge.stats()).toEqual({ documents: 1, chunks: 2, embedded: 2 });

      expect(await knowledge.ingestDocument(original)).toEqual({ documentId: added.documentId, outcome: 'unchanged' });

      const revised = document('ohss.md', 'OHSS', [{ heading: 'What it is', content: 'A rare reaction after the trigger shot; drink electrolytes.' }], { hash: 'v2' });
      expect(await knowledge.ingestDocument(revised)).toEqual({ documentId: added.documentId, outcome: 'changed' });
      expect(await knowledge.stats()).toEqual({ documents: 1, chunks: 1, embedded: 0 });
      expect((await knowledge.search('electrolytes', undefined)).map((r) => r.content)).toEqual([revised.chunks[0]!.content]);
      expect(await knowledge.search('bloating', undefined)).toEqual([]);
    });
  });

  describe('staff alerts', () => {
    const routes = { smsFrom: '+15550009999', twilioContentSid: `HX${'ab'.repeat(16)}`, metaTemplate: undefined };
    const raised = async (staff: string[]) => {
      const { id } = await inbox.enqueue({ ...inbound('whatsapp:+15556000001', 'SM-alert-1', 'I feel faint'), business: 'whatsapp:+15557654322', kind: 'emergency' });
      const message = { id, channel: 'twilio' as const, business: 'whatsapp:+15557654322', patient: 'whatsapp:+15556000001', body: 'I feel faint' };
      const alerts = createStaffAlerts(harness.db);
      return { id, alerts, created: await alerts.raise(id, 'emergency', planAlerts(message, 'emergency', staff, routes)), again: () => alerts.raise(id, 'emergency', planAlerts(message, 'emergency', staff, routes)) };
    };

    it('when a message raises its alerts twice, then they are stored once, and claimed once', async () => {
      const { alerts, created, again } = await raised(['+15550002221', '+15550002222']);
      expect(created).toBe(2);
      expect(await again()).toBe(0);
      const claimed = await alerts.claim('dispatcher-1', 60, 10);
      expect(claimed.map((alert) => [alert.route, alert.recipient])).toEqual([['direct', 'whatsapp:+15550002221'], ['direct', 'whatsapp:+15550002222']]);
      expect(await alerts.claim('dispatcher-2', 60, 10)).toEqual([]);
    });

    it('when WhatsApp reports an alert failed, then its template and SMS fallbacks are due at once; when they fail too, no way is left', async () => {
      const { alerts } = await raised(['+15550002221']);
      const [direct] = await alerts.claim('d', 60, 10);
      expect(await alerts.sent(direct!.id, 'd', 'SM-direct')).toBeUndefined();
      const { alerts: refusals } = await inbox.recordDeliveryStatus({ channel: 'twilio', providerMessageId: 'SM-direct', status: 'failed', error: '63016' });
      expect(refusals).toEqual([expect.objectContaining({ changed: true, route: 'direct', state: 'refused', fallbacksCreated: 2, failedEveryWay: false })]);
      const fallbacks = await alerts.claim('d', 60, 10);
      expect(fallbacks.map((alert) => [alert.route, alert.sender, alert.recipient, alert.template])).toEqual([
        ['template', 'whatsapp:+15557654322', 'whatsapp:+15550002221', routes.twilioContentSid],
        ['sms', '+15550009999', '+15550002221', null],
      ]);
      expect(fallbacks[0]!.variables).toEqual(['URGENT (possible emergency)', '+15556000001 (WhatsApp via Twilio)', 'I feel faint']);
      expect(await alerts.refused(fallbacks[0]!.id, 'template rejected')).toMatchObject({ state: 'failed', failedEveryWay: false });
      expect(await alerts.refused(fallbacks[1]!.id, 'unreachable')).toMatchObject({ state: 'failed', failedEveryWay: true });
      expect(await alerts.refused(fallbacks[1]!.id, 'again')).toEqual({ changed: false });
    });

    it('when the failure report arrives before the send is recorded, then recording the send refuses the alert', async () => {
      const { alerts } = await raised(['+15550002221']);
      const [direct] = await alerts.claim('d', 60, 10);
      expect((await inbox.recordDeliveryStatus({ channel: 'twilio', providerMessageId: 'SM-early', status: 'undelivered', error: '63016' })).alerts).toEqual([]);
      expect(await alerts.sent(direct!.id, 'd', 'SM-early')).toMatchObject({ changed: true, route: 'direct', fallbacksCreated: 2 });
      expect((await alerts.claim('d', 60, 10)).map((alert) => alert.route)).toEqual(['template', 'sms']);
    });
  });

  describe('patient data', () => {
    const A = patientAddresses('+15556000001');
    const B = patientAddresses('+15556000002');
    const A_TEXT = 'Patient A private words about her transfer';
    const B_TEXT = 'Patient B asks about the clinic hours';

    /** Two patients with messages on SMS, WhatsApp and the Cloud API, replies, reports, state and alerts. */
    async function twoPatients() {
      const alerts = createStaffAlerts(harness.db);
      const states = createPatientStates(harness.db);
      let n = 0;
      for (const [who, text] of [[A, A_TEXT], [B, B_TEXT]] as const) {
        for (const [channel, patient, business] of [
          ['twilio', who.addresses[0]!, CLINIC],
          ['twilio', who.addresses[1]!, `whatsapp:${CLINIC}`],
          ['meta', who.addresses[2]!, '106540352242922'],
        ] as const) {
          n++;
          const message = { channel, providerMessageId: `P-${n}`, patient, business, body: `${text} (${channel} ${n})`, kind: 'emergency' } as const;
          const { id } = await inbox.enqueue(message);
          const conversation = `${channel}:${business}:${patient}`;
          await inbox.recordOutbound({ inboxId: id, channel, conversation, body: `Reply to ${patient}: please call`, providerMessageId: `OUT-${n}` });
          await inbox.recordDeliveryStatus({ channel, providerMessageId: `OUT-${n}`, status: 'failed', error: `30003: Unreachable ${patient}` });
          await alerts.raise(id, 'emergency', planAlerts({ id, channel, business, patient, body: message.body }, 'emergency', ['+15550002221'], { smsFrom: undefined, twilioContentSid: undefined, metaTemplate: undefined }));
          await states.set(channel, patient, { optedOut: true });
          // An alert as earlier versions recorded it: an outbound row in the staff member's conversation.
          await inbox.recordOutbound({ inboxId: null, channel, conversation: `${channel}:${business}:+15550002221`, body: `URGENT (possible emergency) from …${patient.slice(-4)} (${channel}, message ${id}): "${message.body}"` });
        }
      }
    }

    /** Every text and JSON column of every table in public that mentions `needle`, as table.column. */
    async function mentions(needle: string): Promise<string[]> {
      const columns = await harness.query<{ table_name: string; column_name: string }>(
        `select table_name, column_name from information_schema.columns
         where table_schema = 'public' and data_type in ('text', 'character varying', 'jsonb', 'json', 'ARRAY', 'tsvector')
         order by table_name, column_name`,
      );
      const found: string[] = [];
      for (const { table_name, column_name } of columns) {
        const [row] = await harness.query<{ n: number }>(`select count(*)::int as n from public."${table_name}" where "${column_name}"::text like '%' || $1 || '%'`, [needle]);
        if (row!.n > 0) found.push(`${table_name}.${column_name}`);
      }
      return found;
    }

    it('when a patient is erased, then no table holds their number or their words, the other patient is untouched, and the audit has the hashed number', async () => {
      await twoPatients();
      expect(await mentions('5556000001')).not.toEqual([]);
      const counts = await createPatientData(harness.db).erase(A.addresses, hashAddress(A.phoneNumber));
      expect(counts).toEqual({ inbox: 3, outbound: 6, delivery_status: 3, patient_state: 3, staff_alerts: 3 });
      expect(await mentions('5556000001')).toEqual([]);
      expect(await mentions('Patient A private')).toEqual([]);
      expect(await mentions('5556000002')).toEqual(expect.arrayContaining(['delivery_status.error', 'inbox.patient', 'outbound.body', 'patient_state.patient', 'staff_alerts.body']));
      expect(await mentions(B_TEXT)).toEqual(['inbox.body', 'outbound.body', 'staff_alerts.body']);
      const [audit] = await harness.query<{ action: string; address_hash: string; counts: Record<string, number> }>('select action, address_hash, counts from data_audit');
      expect(audit!.action).toBe('erase');
      expect(audit!.counts).toEqual(counts);
      expect(verifyAddressHash(A.phoneNumber, audit!.address_hash)).toBe(true);
      expect(verifyAddressHash(B.phoneNumber, audit!.address_hash)).toBe(false);
      // A later message from A starts afresh: no memory, no opt-out.
      const { id } = await inbox.enqueue(inbound(A.addresses[0]!, 'P-again', 'Hello again'));
      expect(await inbox.history(`twilio:${CLINIC}:${A.addresses[0]}`, id + 1)).toEqual([]);
      expect((await createPatientStates(harness.db).get('twilio', A.addresses[0]!)).optedOut).toBe(false);
    });

    it('when the purge runs, then the text and numbers older than the cut-off are gone, newer ones stay, open messages are left, and it is audited', async () => {
      await twoPatients();
      await harness.sql(`update inbox set received_at = now() - interval '400 days' where patient like '%5556000001'`);
      await harness.sql(`update outbound set created_at = now() - interval '400 days' where conversation like '%5556000001' or body like '%Patient A private%'`);
      await harness.sql(`update staff_alerts set created_at = now() - interval '400 days', state = 'delivered' where body like '%5556000001%'`);
      await harness.sql(`update delivery_status set received_at = now() - interval '400 days' where error like '%5556000001'`);
      // The old messages are answered; one old message is still open and must not be touched.
      await harness.sql(`update inbox set state = 'answered' where patient like '%5556000001' and provider_message_id <> 'P-1'`);
      const patientData = createPatientData(harness.db);
      // In batches of one row a table: the caller's loop must still get through all of it.
      const counts = await patientData.purge(new Date(Date.now() - 365 * 24 * 60 * 60 * 1000), 1);
      expect(counts).toEqual({ skipped: false, inbox: 2, outbound: 6, staff_alerts: 3, delivery_status: 3 });
      expect(await mentions('Patient A private')).toEqual(['inbox.body']);
      expect((await harness.query<{ provider_message_id: string }>(`select provider_message_id from inbox where body like 'Patient A%'`)).map((r) => r.provider_message_id)).toEqual(['P-1']);
      expect(await mentions(B_TEXT)).toEqual(['inbox.body', 'outbound.body', 'staff_alerts.body']);
      const [kept] = await harness.query<{ n: number }>(`select count(*)::int as n from inbox where purged_at is not null and state = 'answered'`);
      expect(kept!.n).toBe(2);
      const audit = await harness.query<{ action: string; counts: Record<string, number> }>(`select action, counts from data_audit order by id`);
      expect(audit.length).toBeGreaterThanOrEqual(3);
      expect(audit.every((row) => row.action === 'purge')).toBe(true);
      expect(audit.reduce((sum, row) => sum + row.counts.outbound!, 0)).toBe(6);
      // Nothing left to purge: nothing changed, nothing audited.
      expect(await patientData.purge(new Date(Date.now() - 365 * 24 * 60 * 60 * 1000))).toEqual({ skipped: false, inbox: 0, outbound: 0, staff_alerts: 0, delivery_status: 0 });
      expect(await harness.query(`select id from data_audit`)).toHaveLength(audit.length);
    });

    it('when a patient asks for their data, then the export has every message in and out on every channel, in order, with delivery status, and no one else\'s', async () => {
      await twoPatients();
      const exported = await createPatientData(harness.db).export(A.addresses);
      expect(exported.addresses).toEqual(A.addresses);
      expect(exported.messages.map((m) => [m.direction, m.channel, m.text, m.status])).toEqual([
        ['in', 'twilio', `${A_TEXT} (twilio 1)`, 'pending'],
        ['out', 'twilio', `Reply to ${A.addresses[0]}: please call`, 'failed'],
        ['in', 'twilio', `${A_TEXT} (twilio 2)`, 'pending'],
        ['out', 'twilio', `Reply to ${A.addresses[1]}: please call`, 'failed'],
        ['in', 'meta', `${A_TEXT} (meta 3)`, 'pending'],
        ['out', 'meta', `Reply to ${A.addresses[2]}: please call`, 'failed'],
      ]);
      expect(JSON.stringify(exported)).not.toContain('5556000002');
    });
  });

  describe('errors', () => {
    it('when a function is not in the schema, then the error says to run the migrations and is not retryable', async () => {
      const missing = harness.db.call('no_such_function');
      await expect(missing).rejects.toMatchObject({ code: 'db_function_missing', retryable: false });
      await expect(missing).rejects.toThrow('database function public.no_such_function is missing: run the migrations in supabase/migrations');
      // Unknown argument names are the same error on both transports (42883 embedded, PGRST202 on PostgREST).
      await expect(harness.db.call('inbox_stats', { p_unknown: 1 })).rejects.toMatchObject({ code: 'db_function_missing' });
    });

    it('when the SQL fails, then the error carries SQLSTATE, message and details, and is not retryable', async () => {
      const call = harness.db.call('inbox_enqueue', {
        p_channel: 'fax', p_provider_message_id: 'FAX-1', p_conversation: 'fax:1:2', p_patient: '1', p_business: '2', p_body: 'hello',
      });
      await expect(call).rejects.toMatchObject({ code: 'db_error', retryable: false, details: { code: '23514' } });
      await expect(call).rejects.toThrow(/^database error 23514: new row for relation "inbox" violates check constraint "inbox_channel_check"$/);
      // The failing row (a patient's message in it) stays out of the message, which is what gets logged.
      await expect(call).rejects.toMatchObject({ details: { details: expect.stringMatching(/^Failing row contains/) } });
    });
  });
});

describe('supabase-js transport: what the network adds', () => {
  let postgrest: FakePostgrest;

  beforeAll(async () => {
    postgrest = await sharedPostgrest();
  });
  beforeEach(() => postgrest.reset());

  it('when PostgREST answers 503, then the error is retryable and supabase-js did not retry the POST itself', async () => {
    postgrest.failWith = () => 503;
    const db = openSupabaseDatabase({ url: postgrest.url, serviceRoleKey: postgrest.serviceRoleKey });
    await expect(db.call('inbox_stats')).rejects.toMatchObject({ code: 'db_unavailable', retryable: true, details: { status: 503, code: 'PGRST002' } });
    expect(postgrest.calls).toHaveLength(1);
  });

  it('when PostgREST does not answer, then the call gives up after its timeout with a retryable error', async () => {
    postgrest.failWith = () => 'hang';
    const db = openSupabaseDatabase({ url: postgrest.url, serviceRoleKey: postgrest.serviceRoleKey, timeoutMs: 300 });
    const started = Date.now();
    await expect(db.call('inbox_stats')).rejects.toMatchObject({ code: 'db_timeout', retryable: true, message: 'Supabase did not answer inbox_stats within 300 ms' });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('when nothing listens at the URL, then the error is retryable and names the URL', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const db = openSupabaseDatabase({ url, serviceRoleKey: postgrest.serviceRoleKey });
    await expect(db.call('inbox_stats')).rejects.toMatchObject({ code: 'db_unreachable', retryable: true });
    await expect(db.call('inbox_stats')).rejects.toThrow(`Supabase at ${url} is unreachable`);
  });

  it('when the key is wrong, then the call is rejected for good', async () => {
    const db = openSupabaseDatabase({ url: postgrest.url, serviceRoleKey: 'not-the-service-role-key' });
    await expect(db.call('inbox_stats')).rejects.toMatchObject({ code: 'db_auth_rejected', retryable: false, details: { status: 401 } });
    await expect(db.call('inbox_stats')).rejects.toThrow(/Invalid API key/);
  });

  it('when a call succeeds, then it carried the key as apikey and as the bearer token, and the function ran as service_role', async () => {
    const db = openSupabaseDatabase({ url: postgrest.url, serviceRoleKey: postgrest.serviceRoleKey });
    // The fake answers 401 to a missing or different key, and runs the function as the key's role,
    // which the migration's grants leave as the only one that may.
    expect(await db.call('service_health')).toEqual({ ok: true, schema: '20261129000000_core' });
    expect(postgrest.calls).toEqual([{ fn: 'service_health', args: {}, status: 200 }]);
  });
});
