-- Fencing: a worker that lost its lease (a long pause, a network cut, and another instance claimed the
-- message since) must neither write nor send. Every write after a claim now checks that the lease is
-- still this owner's and still running (`lease_until > now()`: once it has run out, inbox_claim may
-- hand the message to anyone), and says when it was refused, so that the worker stops before its next
-- send. inbox_extend_leases answers which leases it renewed, for the same reason.

create or replace function inbox_save_reply(p_id bigint, p_owner text, p_reply text)
returns jsonb language sql set search_path = public, extensions as $$
  with updated as (
    update inbox set reply = p_reply
    where id = p_id and lease_owner = p_owner and state = 'processing' and lease_until > now()
    returning id
  )
  select jsonb_build_object('updated', count(*)) from updated;
$$;

create or replace function inbox_save_answer(p_id bigint, p_owner text, p_reply text, p_origin text, p_sources jsonb, p_uncovered boolean)
returns jsonb language sql set search_path = public, extensions as $$
  with updated as (
    update inbox set reply = p_reply, reply_origin = p_origin, reply_sources = p_sources, uncovered = p_uncovered
    where id = p_id and lease_owner = p_owner and state = 'processing' and lease_until > now()
    returning id
  )
  select jsonb_build_object('updated', count(*)) from updated;
$$;

-- p_owner is new: with it, a part of a claimed message's reply is recorded only while the lease is
-- held (answer {"id": null, "owned": false} otherwise). Without it (an alert, a reply sent after the
-- message was finished) as before. The old signature goes, or named calls would be ambiguous.
drop function if exists outbound_record(bigint, text, text, text, text, text, text);
create or replace function outbound_record(
  p_inbox_id bigint, p_channel text, p_conversation text, p_body text,
  p_provider_message_id text default null, p_status text default 'sent', p_error text default null,
  p_owner text default null
) returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  new_id bigint;
begin
  if p_inbox_id is not null and p_owner is not null then
    -- The row lock makes the check and the progress one step: a claim cannot slip in between.
    perform 1 from inbox
    where id = p_inbox_id and lease_owner = p_owner and state = 'processing' and lease_until > now()
    for update;
    if not found then
      return jsonb_build_object('id', null, 'owned', false);
    end if;
  end if;
  insert into outbound (inbox_id, channel, conversation, body, provider_message_id, status, error)
  values (p_inbox_id, p_channel, p_conversation, p_body, p_provider_message_id, p_status, p_error)
  returning id into new_id;
  if p_inbox_id is not null and p_status = 'sent' then
    update inbox set parts_sent = parts_sent + 1 where id = p_inbox_id;
  end if;
  return jsonb_build_object('id', new_id, 'owned', true);
end $$;

create or replace function inbox_finish(p_id bigint, p_owner text, p_state text, p_error text default null)
returns jsonb language sql set search_path = public, extensions as $$
  with updated as (
    update inbox
    set state = p_state, last_error = p_error, finished_at = now(), lease_owner = null, lease_until = null
    where id = p_id and lease_owner = p_owner and state = 'processing' and lease_until > now()
      and p_state in ('answered', 'skipped', 'failed')
    returning id
  )
  select jsonb_build_object('updated', count(*)) from updated;
$$;

create or replace function inbox_retry(p_id bigint, p_owner text, p_error text, p_delay_ms int)
returns jsonb language sql set search_path = public, extensions as $$
  with updated as (
    update inbox
    set state = 'pending', last_error = p_error, lease_owner = null, lease_until = null,
        available_at = now() + make_interval(secs => p_delay_ms / 1000.0)
    where id = p_id and lease_owner = p_owner and state = 'processing' and lease_until > now()
    returning id
  )
  select jsonb_build_object('updated', count(*)) from updated;
$$;

-- A lease that ran out but that nobody claimed since is still renewed (nobody else is on it); one
-- that another owner holds is not, and is missing from `ids`.
create or replace function inbox_extend_leases(p_ids jsonb, p_owner text, p_lease_seconds int)
returns jsonb language sql set search_path = public, extensions as $$
  with updated as (
    update inbox set lease_until = now() + make_interval(secs => p_lease_seconds)
    where id in (select (value #>> '{}')::bigint from jsonb_array_elements(p_ids))
      and lease_owner = p_owner and state = 'processing'
    returning id
  )
  select jsonb_build_object('updated', count(*), 'ids', coalesce(jsonb_agg(id), '[]'::jsonb)) from updated;
$$;

-- As in the core migration: on Supabase only the service role may call them.
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon')
     and exists (select 1 from pg_roles where rolname = 'authenticated')
     and exists (select 1 from pg_roles where rolname = 'service_role') then
    revoke execute on function outbound_record(bigint, text, text, text, text, text, text, text) from public, anon, authenticated;
    grant execute on function outbound_record(bigint, text, text, text, text, text, text, text) to service_role;
  end if;
end $$;
