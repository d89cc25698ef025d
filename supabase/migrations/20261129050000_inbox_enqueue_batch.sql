-- Group commit for webhooks: the messages of webhooks that arrive while an earlier one is being
-- stored are stored together, in one call and one transaction, each exactly as inbox_enqueue would
-- store it on its own (duplicates, the rate limit and the order between them included).
--
-- On the embedded database every call costs about 0.3 ms of the one database thread before any SQL
-- runs, and every transaction its own commit: alone, an inbox_enqueue took 1.1 ms there, in batches
-- of ten 0.4 ms a message (scratch measurement on this machine, see BENCHMARKS.md). At hundreds of
-- webhooks a second that is the difference between a database thread that keeps up and a queue in
-- front of it. On Supabase it saves a round trip per message under the same load.
create or replace function inbox_enqueue_batch(p_messages jsonb)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  m jsonb;
  results jsonb := '[]'::jsonb;
begin
  -- Each inbox_enqueue takes its patient's rate-limit lock until the transaction ends; two batches that
  -- took the same patients in different orders would deadlock. So all of them first, in one order
  -- (advisory locks are re-entrant: the calls below take them again at no cost).
  perform pg_advisory_xact_lock(k)
  from (
    select distinct hashtext((e->>'channel') || ':' || (e->>'patient')) as k
    from jsonb_array_elements(p_messages) e
    where coalesce((e->>'rate_limit')::int, 0) > 0 and coalesce(e->>'kind', 'text') <> 'emergency'
    order by 1
  ) locks;
  for m in select value from jsonb_array_elements(p_messages) with ordinality order by ordinality loop
    results := results || jsonb_build_array(inbox_enqueue(
      m->>'channel', m->>'provider_message_id', m->>'conversation', m->>'patient', m->>'business', m->>'body',
      coalesce(m->>'kind', 'text'), coalesce((m->>'rate_limit')::int, 0), coalesce((m->>'rate_window_seconds')::int, 60)
    ));
  end loop;
  return results;
end $$;

-- As in the core migration: on Supabase only the service role may call the new function.
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon')
     and exists (select 1 from pg_roles where rolname = 'authenticated')
     and exists (select 1 from pg_roles where rolname = 'service_role') then
    revoke execute on function inbox_enqueue_batch(jsonb) from public, anon, authenticated;
    grant execute on function inbox_enqueue_batch(jsonb) to service_role;
  end if;
end $$;
