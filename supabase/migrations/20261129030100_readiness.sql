-- Readiness: which migrations this database has applied, so that GET /readyz can compare them with
-- the files the running code ships with (a database one migration behind the code is not ready).
--
-- The Supabase CLI records migrations in supabase_migrations.schema_migrations (version = the
-- 14-digit timestamp); the embedded database's migrator in public.schema_migrations (version = the
-- file name without .sql). Both are answered as 14-digit timestamps.
create or replace function applied_migrations() returns jsonb
language plpgsql stable security definer set search_path = '' as $$
declare
  result jsonb := '[]'::jsonb;
begin
  if to_regclass('supabase_migrations.schema_migrations') is not null then
    execute 'select coalesce(jsonb_agg(distinct left(version, 14)), ''[]''::jsonb) from supabase_migrations.schema_migrations' into result;
  elsif to_regclass('public.schema_migrations') is not null then
    execute 'select coalesce(jsonb_agg(distinct left(version, 14)), ''[]''::jsonb) from public.schema_migrations' into result;
  end if;
  return result;
end $$;

-- Only the service role may call it (see 20261129030000_dev_outbox.sql for why this is repeated).
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    revoke execute on function applied_migrations() from public, anon, authenticated;
    grant execute on function applied_migrations() to service_role;
  end if;
end $$;
