import { PGlite } from '@electric-sql/pglite';
import { auto_explain } from '@electric-sql/pglite/contrib/auto_explain';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { applyMigrations } from '../../src/db/migrate.ts';
import { explainedPlans, planNodes } from '../support/explained-plans.ts';

const BACKLOG = 3000;

/**
 * The embedded database runs one query at a time, so a claim that reads the whole backlog makes every
 * webhook queued behind it wait as long (npm run bench: 36 ms a claim with 20,000 messages pending).
 * This proves, on the plans of the function's own statements with what each node actually read, that
 * a claim reads about as many rows as it claims, whatever the backlog.
 */
describe('inbox_claim plan on the embedded database', () => {
  let pg: PGlite;

  beforeAll(async () => {
    pg = await PGlite.create({ extensions: { vector, auto_explain } });
    await applyMigrations({ query: async (sql, params) => (await pg.query<never>(sql, params)).rows, exec: async (sql) => void (await pg.exec(sql)) });
    // A backlog: one conversation of three messages being answered, then BACKLOG patients waiting,
    // one message each, with many already answered before them; an emergency at the very end.
    await pg.exec(`
      insert into inbox (channel, provider_message_id, conversation, patient, business, body, state)
      select 'twilio', 'SM-old-' || g, 'twilio:+1555' || g, '+1555' || g, '+15557654321', 'old question', 'answered'
      from generate_series(1, ${BACKLOG}) g;
      insert into inbox (channel, provider_message_id, conversation, patient, business, body, state, lease_owner, lease_until)
      values ('twilio', 'SM-busy-1', 'twilio:+15550000001', '+15550000001', '+15557654321', 'busy', 'processing', 'w', now() + interval '1 minute');
      insert into inbox (channel, provider_message_id, conversation, patient, business, body)
      select 'twilio', 'SM-busy-' || g, 'twilio:+15550000001', '+15550000001', '+15557654321', 'busy again'
      from generate_series(2, 3) g;
      insert into inbox (channel, provider_message_id, conversation, patient, business, body)
      select 'twilio', 'SM-wait-' || g, 'twilio:+1666' || g, '+1666' || g, '+15557654321', 'waiting question'
      from generate_series(1, ${BACKLOG}) g;
      insert into inbox (channel, provider_message_id, conversation, patient, business, body, kind)
      values ('twilio', 'SM-urgent', 'twilio:+15550000009', '+15550000009', '+15557654321', 'heavy bleeding', 'emergency');
      analyze inbox;
    `);
  });
  afterAll(async () => {
    await pg?.close();
  });

  it(`when ${BACKLOG} patients are waiting, then a claim of 4 takes the emergency and the 3 oldest turns, reading no more than a few dozen rows in any step`, async () => {
    const plans = await explainedPlans(pg, `select inbox_claim('worker-1', 60, 4) as claimed`, [], { analyze: true });
    const claimed = (await pg.query<{ provider_message_id: string }>(
      `select provider_message_id from inbox where lease_owner = 'worker-1' order by id`,
    )).rows.map((row) => row.provider_message_id);
    expect(claimed).toEqual(['SM-wait-1', 'SM-wait-2', 'SM-wait-3', 'SM-urgent']);

    const inside = plans.filter((p) => !p.text.includes(`select inbox_claim(`));
    expect(inside.length, 'the statements inside inbox_claim').toBeGreaterThanOrEqual(3);
    const widest = Math.max(...inside.flatMap((p) => planNodes(p.plan)).map((node) => node['Actual Rows'] ?? 0));
    expect(widest).toBeLessThan(50);
  });
});
