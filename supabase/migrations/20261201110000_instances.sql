-- Several instances on one database. Each announces itself here with a heartbeat (about every second).
-- One whose heartbeat stopped (SIGKILL, a lost machine) is dead after a few seconds: the messages it held
-- are due again at once instead of after their 2-minute lease, and its share of the OpenAI cap is free.
--
-- The OpenAI cap (OPENAI_MAX_CONCURRENCY) is for the whole deployment: each live instance takes a
-- share, and `npm run ingest` takes part like an instance. Shares never add up to more than the total,
-- even while they are re-divided: each instance records what it may still have in flight
-- (`openai_held`: its share, or more while calls started under a larger share finish), and a share only
-- grows into what the others do not hold.

create table if not exists instances (
  id text primary key,
  kind text not null default 'service' check (kind in ('service', 'ingest')),
  started_at timestamptz not null default now(),
  heartbeat_at timestamptz not null default now(),
  openai_share int not null default 0,
  openai_held int not null default 0
);
alter table instances enable row level security;

-- The messages these owners held are due again now (a dead instance's, or one leaving).
create or replace function inbox_release_owners(p_owners text[])
returns int language sql set search_path = public, extensions as $$
  with freed as (
    update inbox set state = 'pending', lease_owner = null, lease_until = null, available_at = now()
    where state = 'processing' and lease_owner = any (p_owners)
    returning id
  )
  select count(*)::int from freed;
$$;

-- One heartbeat: records this instance as alive, declares dead the ones silent for p_ttl_seconds
-- (releasing their messages), and answers this instance's share of p_openai_total. p_openai_held is
-- what this instance may have in flight as it calls: the larger of its current cap and its calls
-- running. Heartbeats run one at a time (an advisory lock), so that two shares are never computed from
-- the same stale picture.
create or replace function instance_heartbeat(p_id text, p_kind text, p_ttl_seconds int, p_openai_total int, p_openai_held int)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  dead text[];
  released int := 0;
  live int;
  rank int;
  fair int;
  others int;
  share int;
begin
  perform pg_advisory_xact_lock(hashtext('clinic-assistant instances'));
  insert into instances (id, kind, openai_held) values (p_id, p_kind, p_openai_held)
  on conflict (id) do update set heartbeat_at = now(), openai_held = greatest(instances.openai_share, p_openai_held);

  with gone as (
    delete from instances where heartbeat_at < now() - make_interval(secs => p_ttl_seconds) returning id
  )
  select coalesce(array_agg(id), '{}') into dead from gone;
  if cardinality(dead) > 0 then
    released := inbox_release_owners(dead);
  end if;

  -- The fair share: the total divided among the live instances, the remainder to the first ones by id.
  select count(*), count(*) filter (where id < p_id) into live, rank from instances;
  fair := p_openai_total / live + case when rank < p_openai_total % live then 1 else 0 end;
  select coalesce(sum(openai_held), 0) into others from instances where id <> p_id;
  share := greatest(0, least(fair, p_openai_total - others));
  update instances set openai_share = share, openai_held = greatest(share, p_openai_held) where id = p_id;
  return jsonb_build_object('share', share, 'instances', live, 'released', released, 'dead', to_jsonb(dead));
end $$;

-- A clean stop: the instance leaves at once (its share is free for the others' next heartbeat), and
-- the messages it still held are due again (fencing stops it if it is still sending one).
create or replace function instance_leave(p_id text)
returns jsonb language plpgsql set search_path = public, extensions as $$
begin
  perform pg_advisory_xact_lock(hashtext('clinic-assistant instances'));
  delete from instances where id = p_id;
  return jsonb_build_object('released', inbox_release_owners(array[p_id]));
end $$;

-- As in the core migration: on Supabase only the service role reaches the new table and functions.
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon')
     and exists (select 1 from pg_roles where rolname = 'authenticated')
     and exists (select 1 from pg_roles where rolname = 'service_role') then
    revoke all on table instances from public, anon, authenticated;
    revoke execute on function instance_heartbeat(text, text, int, int, int), instance_leave(text), inbox_release_owners(text[]) from public, anon, authenticated;
    grant select, insert, update, delete on table instances to service_role;
    grant execute on function instance_heartbeat(text, text, int, int, int), instance_leave(text), inbox_release_owners(text[]) to service_role;
  end if;
end $$;
