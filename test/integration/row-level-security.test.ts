import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { applyMigrations } from '../../src/db/migrate.ts';
import { openPgliteDatabase, type PgliteDatabase } from '../../src/db/pglite/pglite-database.ts';
import { fakeEmbedding } from '../fakes/fake-openai.ts';
import { objectsReachableByClients, SUPABASE_DEFAULT_PRIVILEGES_SQL, SUPABASE_ROLES_SQL, tablesWithoutRowLevelSecurity } from '../support/supabase-roles.ts';

/** At least these; a later migration's tables are checked the same way, found in the catalog. */
const TABLES = ['chunks', 'delivery_status', 'documents', 'inbox', 'outbound', 'patient_state', 'staff_alerts'];
const PERMISSION_DENIED = { code: 'db_error', details: { code: '42501' } };

/**
 * The migration on an embedded database that has Supabase's three API roles and Supabase's default
 * privileges in `public` (everything the migrations create there is granted to all three unless they
 * revoke it), as `supabase db push` finds them: only service_role may reach the tables and functions.
 */
describe('row-level security and grants, with the roles PostgREST uses on Supabase', () => {
  let db: PgliteDatabase;

  beforeAll(async () => {
    db = openPgliteDatabase({ dataDir: 'memory://' });
    await db.exec(SUPABASE_ROLES_SQL);
    await db.exec(SUPABASE_DEFAULT_PRIVILEGES_SQL);
    await applyMigrations(db);
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

  /** The tables in public, but schema_migrations: the embedded migrator's own (Supabase keeps its own elsewhere). */
  async function publicTables(): Promise<string[]> {
    const rows = await db.query<{ relname: string }>(
      `select relname from pg_class
       where relnamespace = 'public'::regnamespace and relkind in ('r', 'p') and relname <> 'schema_migrations' order by relname`,
    );
    return rows.map((row) => row.relname);
  }

  it('when the migration has run, then every table in public has row-level security on', async () => {
    expect(await publicTables()).toEqual(expect.arrayContaining(TABLES));
    expect(await tablesWithoutRowLevelSecurity(db)).toEqual([]);
  });

  it.each(['anon', 'authenticated'])('when %s reads, writes or calls a function, then it is refused', async (role) => {
    const tables = await publicTables();
    await asRole(role, async () => {
      for (const table of tables) await expect(db.query(`select * from ${table}`)).rejects.toMatchObject(PERMISSION_DENIED);
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
    // anon and authenticated by default (SUPABASE_DEFAULT_PRIVILEGES_SQL, in force here), and Postgres
    // lets PUBLIC execute every new function.
    expect(await objectsReachableByClients(db)).toEqual([]);
  });

  it('when a migration adds a table and a function without the grant block, then the checks above report them, and anon can use them', async () => {
    // A careless later migration, under the same default privileges as the real ones.
    await db.exec(`
      create table careless_notes (id bigint generated always as identity primary key, note text not null);
      create function careless_note_count() returns int language sql stable set search_path = public as $$
        select count(*)::int from careless_notes
      $$;
    `);
    try {
      expect(await objectsReachableByClients(db)).toEqual(['careless_note_count()', 'careless_notes', 'careless_notes_id_seq']);
      expect(await tablesWithoutRowLevelSecurity(db)).toEqual(['careless_notes']);
      // Not a false alarm: with the anon key in a client app, anyone could write and read it.
      await asRole('anon', async () => {
        await db.query(`insert into careless_notes (note) values ('patient data')`);
        expect(await db.query('select public.careless_note_count() as n')).toEqual([{ n: 1 }]);
      });
      // The block each migration ends with is what closes it.
      await db.exec(`
        alter table careless_notes enable row level security;
        revoke all on table careless_notes from public, anon, authenticated;
        revoke all on sequence careless_notes_id_seq from public, anon, authenticated;
        revoke execute on function careless_note_count() from public, anon, authenticated;
      `);
      expect(await objectsReachableByClients(db)).toEqual([]);
      expect(await tablesWithoutRowLevelSecurity(db)).toEqual([]);
    } finally {
      await db.exec('drop function if exists careless_note_count(); drop table if exists careless_notes;');
    }
  });
});
