import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { migrateEmbedded } from '../../src/db/migrate.ts';
import { openPgliteDatabase, type PgliteDatabase } from '../../src/db/pglite/pglite-database.ts';
import { fakeEmbedding } from '../fakes/fake-openai.ts';
import { SUPABASE_ROLES_SQL } from '../support/supabase-roles.ts';

const TABLES = ['chunks', 'delivery_status', 'documents', 'inbox', 'outbound', 'patient_state', 'staff_alerts'];
const PERMISSION_DENIED = { code: 'db_error', details: { code: '42501' } };

/**
 * The migration on an embedded database that has Supabase's three API roles, as `supabase db push`
 * finds them: only service_role may reach the tables and functions.
 */
describe('row-level security and grants, with the roles PostgREST uses on Supabase', () => {
  let db: PgliteDatabase;

  beforeAll(async () => {
    db = openPgliteDatabase({ dataDir: 'memory://' });
    await db.exec(SUPABASE_ROLES_SQL);
    await migrateEmbedded(db);
    await db.query(`select public.ingest_document(p_source => 'ivf.md', p_title => 'What Is IVF', p_content_hash => 'h1', p_chunks => $1)`, [
      JSON.stringify([{ position: 0, title: 'What Is IVF', heading: '', content: 'IVF means in vitro fertilisation.', contentHash: 'c1' }]),
    ]);
  });
  afterAll(async () => {
    await db?.close();
  });

  /** Runs `work` as `role` (PostgREST's SET ROLE), then goes back to the superuser. */
  async function asRole<T>(role: string, work: () => Promise<T>): Promise<T> {
    await db.exec(`set role ${role}`);
    try {
      return await work();
    } finally {
      await db.exec('reset role');
    }
  }

  it('when the migration has run, then every table in public has row-level security on', async () => {
    // schema_migrations is the embedded migrator's own bookkeeping; Supabase keeps its own elsewhere.
    const tables = await db.query<{ relname: string; relrowsecurity: boolean }>(
      `select relname, relrowsecurity from pg_class
       where relnamespace = 'public'::regnamespace and relkind in ('r', 'p') and relname <> 'schema_migrations' order by relname`,
    );
    expect(tables).toEqual(TABLES.map((relname) => ({ relname, relrowsecurity: true })));
  });

  it.each(['anon', 'authenticated'])('when %s reads, writes or calls a function, then it is refused', async (role) => {
    await asRole(role, async () => {
      for (const table of TABLES) await expect(db.query(`select * from ${table}`)).rejects.toMatchObject(PERMISSION_DENIED);
      await expect(db.query(`insert into documents (source, title, content_hash) values ('x.md', 'X', 'h')`)).rejects.toMatchObject(PERMISSION_DENIED);
      await expect(db.query(`delete from inbox`)).rejects.toMatchObject(PERMISSION_DENIED);
      await expect(db.query(`select public.knowledge_stats()`)).rejects.toMatchObject(PERMISSION_DENIED);
      await expect(db.query(`select public.hybrid_search(p_query => 'ivf')`)).rejects.toMatchObject(PERMISSION_DENIED);
      await expect(
        db.query(`select public.inbox_enqueue(p_channel => 'twilio', p_provider_message_id => 'SM1', p_conversation => 'c', p_patient => 'p', p_business => 'b', p_body => 'hi')`),
      ).rejects.toMatchObject(PERMISSION_DENIED);
    });
  });

  it('when anon is granted a table by mistake, then row-level security still shows it no rows', async () => {
    await db.exec('grant select on documents to anon');
    try {
      expect(await db.query('select count(*)::int as n from documents')).toEqual([{ n: 1 }]);
      expect(await asRole('anon', () => db.query('select count(*)::int as n from documents'))).toEqual([{ n: 0 }]);
    } finally {
      await db.exec('revoke select on documents from anon');
    }
  });

  it('when service_role calls the functions, then they run, vector search included', async () => {
    const embedding = JSON.stringify(fakeEmbedding('What is IVF?'));
    await asRole('service_role', async () => {
      const [enqueued] = await db.query<{ result: unknown }>(
        `select public.inbox_enqueue(p_channel => 'twilio', p_provider_message_id => 'SM2', p_conversation => 'c', p_patient => 'p', p_business => 'b', p_body => 'hi') as result`,
      );
      expect(enqueued!.result).toEqual({ id: expect.any(Number), duplicate: false, state: 'pending', kind: 'text' });
      const [found] = await db.query<{ result: { source: string }[] }>(`select public.hybrid_search(p_query => 'ivf', p_embedding => $1) as result`, [embedding]);
      expect(found!.result.map((r) => r.source)).toEqual(['ivf.md']);
      expect(await db.query('select count(*)::int as n from documents')).toEqual([{ n: 1 }]);
    });
  });

  it('when any later migration adds a function or table, then anon and authenticated still reach none of them', async () => {
    // Guards the grant block at the end of each migration: Supabase grants new objects in public to
    // anon and authenticated by default, and Postgres lets PUBLIC execute every new function.
    const reachable = await db.query<{ object: string }>(
      `select p.oid::regprocedure::text as object from pg_proc p
       where p.pronamespace = 'public'::regnamespace
         and (has_function_privilege('anon', p.oid, 'execute') or has_function_privilege('authenticated', p.oid, 'execute')
              or not has_function_privilege('service_role', p.oid, 'execute'))
       union all
       select c.relname from pg_class c
       where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'S')
         and (has_table_privilege('anon', c.oid, 'select, insert, update, delete, truncate, references, trigger')
              or has_table_privilege('authenticated', c.oid, 'select, insert, update, delete, truncate, references, trigger'))`,
    );
    expect(reachable).toEqual([]);
  });
});
