import type { PgliteDatabase } from '../../src/db/pglite/pglite-database.ts';

/**
 * The three roles PostgREST switches to on Supabase, as Supabase creates them (NOLOGIN NOINHERIT;
 * service_role bypasses row-level security). Created in an embedded database before migrating, they
 * make the migration's grants take effect there as they do on Supabase.
 */
export const SUPABASE_ROLES_SQL = `
  create role anon nologin noinherit;
  create role authenticated nologin noinherit;
  create role service_role nologin noinherit bypassrls;
`;

/**
 * Supabase's default privileges in `public`, for the role migrations run as (`postgres`, which is also
 * the embedded database's user): every table, sequence and function it creates there is granted in
 * full to anon, authenticated and service_role, unless a migration revokes it. Run after
 * SUPABASE_ROLES_SQL and before migrating, so that the migrations' revoke blocks, and nothing else,
 * keep the API roles out.
 *
 * Sources:
 * - supabase/postgres, migrations/db/init-scripts/00000000000000-initial-schema.sql: "grant usage on
 *   schema public to postgres, anon, authenticated, service_role; alter default privileges in schema
 *   public grant all on tables | functions | sequences to postgres, anon, authenticated, service_role"
 *   (and the same `for user supabase_admin`).
 * - Supabase KB, "Can't change the default privileges of supabase_admin in the public schema"
 *   (https://supabase.com/kb/troubleshooting/cant-change-the-default-privileges-of-supabase_admin-in-the-public-schema):
 *   supabase_admin's defaults "give anon, authenticated, and service_role all privileges on tables,
 *   sequences, and functions"; "Tables and functions that you create get the default privileges of
 *   postgres", which a project dump lists as `ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA
 *   public GRANT ALL ON SEQUENCES TO anon` and so on, and which the "Securing your API" guide turns
 *   off with `alter default privileges for role postgres in schema public revoke ...`
 *   (supabase/supabase#49366).
 * - supabase/agent-skills#485: on Supabase `revoke ... from public` does not take a new function from
 *   anon and authenticated, whose EXECUTE comes by name from these defaults.
 * Supabase's changelog (https://supabase.com/changelog/45329-breaking-change-tables-not-exposed-to-data-and-graphql-api-automatically)
 * makes "Automatically expose new tables and functions" off by default for new projects from 30 May
 * 2026 and for existing ones from 30 October 2026, but it stays a setting a project can turn on, and
 * Postgres itself still lets PUBLIC execute every new function. This models the setting on: the case
 * the migrations' revoke blocks are written for.
 */
export const SUPABASE_DEFAULT_PRIVILEGES_SQL = `
  grant usage on schema public to anon, authenticated, service_role;
  alter default privileges for role postgres in schema public grant all on tables to anon, authenticated, service_role;
  alter default privileges for role postgres in schema public grant all on sequences to anon, authenticated, service_role;
  alter default privileges for role postgres in schema public grant all on functions to anon, authenticated, service_role;
`;

/**
 * What the anon key could reach through PostgREST in `public`: functions that anon or authenticated
 * may execute (PUBLIC's EXECUTE included, since every role has it) or that service_role may not;
 * tables, views and sequences on which anon or authenticated hold any privilege, whole or on a column.
 * Empty on a correctly migrated database. Functions are named by signature, relations by name.
 */
export async function objectsReachableByClients(db: Pick<PgliteDatabase, 'query'>): Promise<string[]> {
  const rows = await db.query<{ object: string }>(
    `select p.oid::regprocedure::text as object from pg_proc p
     where p.pronamespace = 'public'::regnamespace
       and (has_function_privilege('anon', p.oid, 'execute') or has_function_privilege('authenticated', p.oid, 'execute')
            or not has_function_privilege('service_role', p.oid, 'execute'))
     union all
     select c.relname::text from pg_class c
     where c.relnamespace = 'public'::regnamespace
       and case when c.relkind = 'S'
             then has_sequence_privilege('anon', c.oid, 'usage, select, update') or has_sequence_privilege('authenticated', c.oid, 'usage, select, update')
           when c.relkind in ('r', 'p', 'v', 'm', 'f')
             then has_table_privilege('anon', c.oid, 'select, insert, update, delete, truncate, references, trigger')
               or has_table_privilege('authenticated', c.oid, 'select, insert, update, delete, truncate, references, trigger')
               or has_any_column_privilege('anon', c.oid, 'select, insert, update, references')
               or has_any_column_privilege('authenticated', c.oid, 'select, insert, update, references')
           else false end
     order by 1`,
  );
  return rows.map((row) => row.object);
}

/** Tables in `public` without row-level security, but for the embedded migrator's own bookkeeping. */
export async function tablesWithoutRowLevelSecurity(db: Pick<PgliteDatabase, 'query'>): Promise<string[]> {
  const rows = await db.query<{ relname: string }>(
    `select relname from pg_class
     where relnamespace = 'public'::regnamespace and relkind in ('r', 'p') and not relrowsecurity
       and relname <> 'schema_migrations' order by relname`,
  );
  return rows.map((row) => row.relname);
}

/**
 * SUPABASE_ROLES_SQL for a real server, where roles belong to the whole cluster: created only where
 * missing (../shared/tools/test-postgres and `supabase start` already have them).
 */
export const SUPABASE_ROLES_IF_MISSING_SQL = `
  do $$
  declare name text;
  begin
    foreach name in array array['anon', 'authenticated', 'service_role'] loop
      if not exists (select from pg_roles where rolname = name) then
        execute format('create role %I nologin noinherit%s', name, case when name = 'service_role' then ' bypassrls' else '' end);
      end if;
    end loop;
  end $$;
`;
