import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { openSupabaseDatabase } from '../../src/db/supabase/supabase-database.ts';
import { ingestPaths } from '../../src/knowledge/ingest-paths.ts';
import { createKnowledge } from '../../src/store/knowledge.ts';
import { startFakePostgrest, type FakePostgrest } from '../fakes/fake-postgrest.ts';
import { startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { closedPort } from '../support/closed-port.ts';
import { startTestService, type TestService } from '../support/start-test-service.ts';
import { NO_TEST_DATABASE, TEST_DATABASE_URL } from '../support/test-database.ts';
import { codeIn, createStaffClient } from '../support/staff-client.ts';
import { postTwilioWebhook } from '../support/twilio-webhook-client.ts';

const CLINIC_NUMBER = '+15557654321';

/**
 * The same suite over both databases the fake PostgREST can stand on: an embedded PGlite (one
 * connection, every request after the last) and, with TEST_DATABASE_URL, a real PostgreSQL where
 * requests run at once on pooled connections, as they do on Supabase.
 */
const BACKENDS = [
  { over: 'PGlite', databaseUrl: undefined, skipped: false },
  { over: 'a real PostgreSQL', databaseUrl: TEST_DATABASE_URL, skipped: !TEST_DATABASE_URL },
];

for (const { over, databaseUrl, skipped } of BACKENDS) {
  describe.skipIf(skipped)(`the service on Supabase (SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY set), the fake PostgREST over ${over}${skipped ? ` (${NO_TEST_DATABASE})` : ''}`, () => {
    let postgrest: FakePostgrest;
    let twilioApi: FakeTwilio;
    let service: TestService | undefined;

    beforeAll(async () => {
      [postgrest, twilioApi] = await Promise.all([startFakePostgrest({ databaseUrl }), startFakeTwilio()]);
    });
    afterEach(async () => {
      await service?.stop();
      service = undefined;
      postgrest.reset();
    });
    afterAll(async () => {
      await Promise.all([postgrest?.close(), twilioApi?.close()]);
    });

    const supabaseEnv = (overrides: Record<string, string> = {}) => ({
      SUPABASE_URL: postgrest.url,
      SUPABASE_SERVICE_ROLE_KEY: postgrest.serviceRoleKey,
      TWILIO_ACCOUNT_SID: twilioApi.accountSid,
      TWILIO_AUTH_TOKEN: twilioApi.authToken,
      TWILIO_API_BASE_URL: twilioApi.apiBaseURL,
      ...overrides,
    });

    it('when the knowledge base on Supabase is empty, then the service starts, does not load it itself, and says how to', async () => {
      service = await startTestService(supabaseEnv());
      expect(await service.knowledge.stats()).toEqual({ documents: 0, chunks: 0, embedded: 0 });
      expect(service.logs.some((line) => line.msg === 'the knowledge base on Supabase is empty: load it with npm run ingest -- knowledge')).toBe(true);
      expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
    });

    it('when a patient texts, then the message is stored, claimed and answered through rpc() from the knowledge base on Supabase', async () => {
      // What `npm run ingest -- knowledge` does: load the documents through the same rpc() transport.
      const loader = openSupabaseDatabase({ url: postgrest.url, serviceRoleKey: postgrest.serviceRoleKey });
      await ingestPaths(['knowledge'], { knowledge: createKnowledge(loader), embedder: undefined });
      await loader.close();
      service = await startTestService(supabaseEnv());

      const response = await postTwilioWebhook(
        service.url,
        { From: '+15551239001', To: CLINIC_NUMBER, Body: 'How much does treatment cost, and can I pay in instalments?' },
        { authToken: twilioApi.authToken },
      );
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('<Response></Response>');
      const [reply] = await twilioApi.waitForMessages(1);
      expect(reply).toMatchObject({ from: CLINIC_NUMBER, to: '+15551239001' });
      expect(reply!.body).toMatch(/^From "Costs and Payment/i);

      await waitFor(() => postgrest.calls.some((call) => call.fn === 'inbox_finish' && call.status === 200), { what: 'the message finished' });
      expect(await postgrest.db.query(`select state, reply is not null as replied from inbox where patient = '+15551239001'`)).toEqual([{ state: 'answered', replied: true }]);
      const called = new Set(postgrest.calls.map((call) => call.fn));
      for (const fn of ['inbox_enqueue', 'inbox_claim', 'conversation_history', 'hybrid_search', 'inbox_save_answer', 'outbound_record', 'inbox_finish']) {
        expect(called, fn).toContain(fn);
      }
    });

    it('when a dozen patients text at once, then every message is answered once and in order for each patient', { timeout: 60_000 }, async () => {
      service = await startTestService(supabaseEnv());
      const patients = Array.from({ length: 12 }, (_, index) => `+1555124${String(index).padStart(4, '0')}`);
      const questions = ['What is IVF?', 'How much does treatment cost?', 'When do I start my injections?'];
      // Patients at once; each patient's messages one after the other, as a phone sends them.
      await Promise.all(patients.map(async (patient) => {
        for (const question of questions) {
          const response = await postTwilioWebhook(service!.url, { From: patient, To: CLINIC_NUMBER, Body: question }, { authToken: twilioApi.authToken });
          expect(response.status).toBe(200);
        }
      }));
      const open = async () => (await postgrest.db.query<{ open: number }>(
        `select count(*)::int as open from inbox where patient like '+1555124%' and state in ('pending', 'processing')`,
      ))[0]!.open;
      await waitFor(async () => (await open()) === 0, { what: 'every message finished', timeoutMs: 45_000 });

      const rows = await postgrest.db.query<{ id: string; patient: string; state: string; parts_sent: number; parts: number; first_part: string | null }>(
        `select i.id::text, i.patient, i.state, i.parts_sent, count(o.id)::int as parts, min(o.id)::text as first_part
         from inbox i left join outbound o on o.inbox_id = i.id
         where i.patient like '+1555124%' group by i.id order by i.id`,
      );
      expect(rows).toHaveLength(patients.length * questions.length);
      for (const row of rows) {
        // Answered once: as many parts recorded as sent; a message folded into an earlier one sends nothing.
        expect(['answered', 'merged'], row.id).toContain(row.state);
        expect(row.parts, row.id).toBe(row.state === 'answered' ? row.parts_sent : 0);
        if (row.state === 'answered') expect(row.parts, row.id).toBeGreaterThan(0);
      }
      for (const patient of patients) {
        const firstParts = rows.filter((row) => row.patient === patient && row.first_part !== null).map((row) => BigInt(row.first_part!));
        expect(firstParts, patient).toEqual([...firstParts].sort((a, b) => (a < b ? -1 : 1)));
        const sent = twilioApi.messages.filter((message) => message.to === patient).length;
        expect(sent, patient).toBe(rows.filter((row) => row.patient === patient).reduce((sum, row) => sum + row.parts, 0));
      }
      // Over a real server the requests did overlap: this is the concurrency PGlite cannot give.
      if (databaseUrl) expect(postgrest.maxConcurrent).toBeGreaterThan(1);
      else expect(postgrest.maxConcurrent).toBe(1);
      twilioApi.reset();
    });

    it('when the key is wrong, then the start fails saying SUPABASE_SERVICE_ROLE_KEY was rejected', async () => {
      await expect(startTestService(supabaseEnv({ SUPABASE_SERVICE_ROLE_KEY: 'an-anon-key' }))).rejects.toThrow(
        `SUPABASE_SERVICE_ROLE_KEY was rejected by SUPABASE_URL (${postgrest.url})`,
      );
    });

    it('when nothing answers at SUPABASE_URL, then the start fails saying it is unreachable', async () => {
      const url = `http://127.0.0.1:${await closedPort()}`;
      await expect(startTestService(supabaseEnv({ SUPABASE_URL: url }))).rejects.toThrow(`SUPABASE_URL (${url}) is unreachable`);
    });

    it('when the migrations were never pushed, then the start fails saying to run them, and that the service does not', async () => {
      await postgrest.db.exec('alter function public.service_health() rename to service_health_hidden');
      try {
        await expect(startTestService(supabaseEnv())).rejects.toThrow(/has no function service_health: run the migrations in supabase\/migrations with `supabase db push` \(the service does not migrate Supabase itself\)/);
      } finally {
        await postgrest.db.exec('alter function public.service_health_hidden() rename to service_health');
      }
    });

    it('the staff console works through rpc() too: sign in, see the emergency first, reply, hand back', async () => {
      const staffNumber = '+15550005551';
      service = await startTestService(supabaseEnv({ STAFF_NUMBERS: staffNumber }));
      const sms = (from: string, body: string) => postTwilioWebhook(service!.url, { From: from, To: CLINIC_NUMBER, Body: body }, { authToken: twilioApi.authToken });
      await sms(staffNumber, '#help');
      await waitFor(() => twilioApi.messages.some((m) => m.to === staffNumber), { what: 'the staff phone texting the clinic' });
      await sms('+15551239010', 'What is IVF?');
      await sms('+15551239011', 'I have severe chest pain and I cannot breathe');
      await waitFor(() => twilioApi.messages.some((m) => m.to === '+15551239011'), { what: 'the emergency reply' });

      const staff = createStaffClient(service.url);
      const before = twilioApi.messages.filter((m) => m.to === staffNumber).length;
      // The emergency's alert to this same phone may still be on its way (it goes out beside the reply): wait for the code itself.
      const codeMessage = () => twilioApi.messages.filter((m) => m.to === staffNumber).slice(before).find((m) => /sign-in code/.test(m.body));
      await staff.signIn(staffNumber, async () => codeIn((await waitFor(codeMessage, { what: 'the code' })).body));
      const list = (await staff.request('/staff/api/conversations')).json as { id: number; patient: string; state: string }[];
      expect(list[0]).toMatchObject({ patient: '+15551239011', state: 'emergency' });
      expect((await staff.request(`/staff/api/conversations/${list[0]!.id}/reply`, { body: { body: 'We are calling you now.' } })).status).toBe(202);
      await waitFor(() => twilioApi.messages.some((m) => m.to === '+15551239011' && m.body === 'We are calling you now.'), { what: 'the staff reply' });
      expect((await staff.request(`/staff/api/conversations/${list[0]!.id}/resume`, { method: 'POST' })).status).toBe(200);
      const detail = (await staff.request(`/staff/api/conversations/${list[0]!.id}`)).json;
      expect(detail.messages.map((m: { type: string; origin?: string; action?: string }) => m.origin ?? m.action ?? m.type)).toEqual(['in', 'fixed', 'staff', 'resume']);
      twilioApi.reset();
    });
  });
}
