-- Reliability: bursts answered together, floods throttled, leases renewed and recovered.

-- 'merged': a message folded into an earlier one of the same burst, answered by that one's reply.
alter table inbox drop constraint if exists inbox_state_check;
alter table inbox add constraint inbox_state_check
  check (state in ('pending', 'processing', 'answered', 'failed', 'skipped', 'merged'));
alter table inbox add column if not exists merged_into bigint references inbox (id);
create index if not exists inbox_merged_into on inbox (merged_into) where merged_into is not null;
create index if not exists inbox_patient_recent on inbox (channel, patient, received_at);

-- Stores an inbound message once, and throttles floods: past p_rate_limit messages from one patient in
-- p_rate_window_seconds, the first extra message becomes a polite notice ('throttle_notice') and the
-- rest are stored as 'skipped'. They never reach the worker, so a flood costs nobody else anything.
-- p_rate_limit 0 means no limit (staff test numbers).
drop function if exists inbox_enqueue(text, text, text, text, text, text, text);
create or replace function inbox_enqueue(
  p_channel text, p_provider_message_id text, p_conversation text, p_patient text,
  p_business text, p_body text, p_kind text default 'text',
  p_rate_limit int default 0, p_rate_window_seconds int default 60
) returns jsonb language plpgsql as $$
declare
  new_id bigint;
  recent int := 0;
  v_kind text := p_kind;
  v_state text := 'pending';
begin
  select id into new_id from inbox where channel = p_channel and provider_message_id = p_provider_message_id;
  if new_id is not null then
    return jsonb_build_object('id', new_id, 'duplicate', true, 'state', (select state from inbox where id = new_id));
  end if;
  if p_rate_limit > 0 then
    -- Serialise the count per patient, so that concurrent deliveries cannot all slip under the limit.
    perform pg_advisory_xact_lock(hashtext(p_channel || ':' || p_patient));
    select count(*) into recent from inbox
    where channel = p_channel and patient = p_patient
      and received_at > now() - make_interval(secs => p_rate_window_seconds);
    if recent = p_rate_limit then
      v_kind := 'throttle_notice';
    elsif recent > p_rate_limit then
      v_state := 'skipped';
    end if;
  end if;
  insert into inbox (channel, provider_message_id, conversation, patient, business, body, kind, state, last_error, finished_at)
  values (p_channel, p_provider_message_id, p_conversation, p_patient, p_business, p_body, v_kind, v_state,
          case when v_state = 'skipped' then 'throttled' end, case when v_state = 'skipped' then now() end)
  on conflict (channel, provider_message_id) do nothing
  returning id into new_id;
  if new_id is null then
    select id into new_id from inbox where channel = p_channel and provider_message_id = p_provider_message_id;
    return jsonb_build_object('id', new_id, 'duplicate', true, 'state', (select state from inbox where id = new_id));
  end if;
  return jsonb_build_object('id', new_id, 'duplicate', false, 'state', v_state, 'kind', v_kind);
end $$;

-- Claims up to p_limit messages, at most one per conversation (the oldest open one whose turn it is).
-- A text message that has not been answered yet takes along the text messages that arrived after it in
-- the same conversation ('merged'): a patient who writes in three quick pieces gets one answer to all
-- three. `body` is the whole burst, in order.
drop function if exists inbox_claim(text, int, int);
create or replace function inbox_claim(p_owner text, p_lease_seconds int, p_limit int)
returns jsonb language plpgsql as $$
declare
  claimed_ids bigint[];
  result jsonb;
begin
  with heads as (
    select distinct on (conversation) id
    from inbox
    where state in ('pending', 'processing')
    order by conversation, id
  ), claimable as (
    select i.id
    from inbox i
    join heads h on h.id = i.id
    where (i.state = 'pending' and i.available_at <= now())
       or (i.state = 'processing' and i.lease_until < now())
    order by i.id
    limit p_limit
    for update of i skip locked
  ), claimed as (
    update inbox i
    set state = 'processing',
        lease_owner = p_owner,
        lease_until = now() + make_interval(secs => p_lease_seconds),
        attempts = i.attempts + 1
    from claimable c
    where i.id = c.id
    returning i.id
  )
  select coalesce(array_agg(id), '{}') into claimed_ids from claimed;

  update inbox f
  set state = 'merged', merged_into = head.id, finished_at = now()
  from inbox head
  where head.id = any (claimed_ids)
    and head.kind = 'text' and head.reply is null
    and f.conversation = head.conversation and f.id > head.id
    and f.state = 'pending' and f.kind = 'text';

  select coalesce(jsonb_agg(jsonb_build_object(
      'id', i.id, 'channel', i.channel, 'provider_message_id', i.provider_message_id,
      'conversation', i.conversation, 'patient', i.patient, 'business', i.business,
      'body', concat_ws(E'\n', i.body, (select string_agg(m.body, E'\n' order by m.id) from inbox m where m.merged_into = i.id)),
      'merged', (select count(*) from inbox m where m.merged_into = i.id),
      'kind', i.kind, 'attempts', i.attempts, 'reply', i.reply, 'parts_sent', i.parts_sent, 'received_at', i.received_at
    ) order by i.id), '[]'::jsonb)
  into result
  from inbox i
  where i.id = any (claimed_ids);
  return result;
end $$;

-- Keeps the leases of messages still being worked on, so a slow answer is not claimed twice.
create or replace function inbox_extend_leases(p_ids jsonb, p_owner text, p_lease_seconds int)
returns jsonb language sql as $$
  with updated as (
    update inbox set lease_until = now() + make_interval(secs => p_lease_seconds)
    where id in (select (value #>> '{}')::bigint from jsonb_array_elements(p_ids))
      and lease_owner = p_owner and state = 'processing'
    returning id
  )
  select jsonb_build_object('updated', count(*)) from updated;
$$;

-- Embedded database only (one process per DATA_DIR): at start, whatever an earlier process held when
-- it died is due again at once, without waiting for its lease to run out.
create or replace function inbox_release_orphans(p_owner text)
returns jsonb language sql as $$
  with updated as (
    update inbox set state = 'pending', lease_owner = null, lease_until = null, available_at = now()
    where state = 'processing' and lease_owner is distinct from p_owner
    returning id
  )
  select jsonb_build_object('released', count(*)) from updated;
$$;

-- History counts merged pieces as what the patient said.
create or replace function conversation_history(p_conversation text, p_limit int default 6, p_before_id bigint default null)
returns jsonb language sql stable as $$
  select coalesce(jsonb_agg(jsonb_build_object('role', role, 'content', content, 'at', at) order by at, ord), '[]'::jsonb)
  from (
    select * from (
      select 'user' as role, body as content, received_at as at, id * 2 as ord
      from inbox
      where conversation = p_conversation and state in ('answered', 'merged') and kind = 'text'
        and (p_before_id is null or id < p_before_id)
      union all
      select 'assistant', body, created_at, inbox_id * 2 + 1
      from outbound
      where conversation = p_conversation and status <> 'failed'
        and (p_before_id is null or inbox_id < p_before_id)
      order by at desc, ord desc
      limit p_limit
    ) newest
  ) turns;
$$;

create or replace function service_health() returns jsonb language sql stable as $$
  select jsonb_build_object('ok', true, 'schema', '20261129010000_reliability');
$$;


-- Messages that could not be answered, newest first, for staff to follow up by hand.
create or replace function inbox_failures(p_limit int default 20)
returns jsonb language sql stable as $$
  select coalesce(jsonb_agg(jsonb_build_object(
      'id', id, 'channel', channel, 'providerMessageId', provider_message_id, 'attempts', attempts,
      'error', last_error, 'finishedAt', finished_at) order by id desc), '[]'::jsonb)
  from (select * from inbox where state = 'failed' order by id desc limit p_limit) failed;
$$;

-- The outbound parts a provider id belongs to, with their delivery status (staff follow-up, tests).
create or replace function outbound_for_provider_id(p_channel text, p_provider_message_id text)
returns jsonb language sql stable as $$
  select coalesce(jsonb_agg(jsonb_build_object('id', id, 'inboxId', inbox_id, 'status', status, 'error', error) order by id), '[]'::jsonb)
  from outbound where channel = p_channel and provider_message_id = p_provider_message_id;
$$;

do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    revoke execute on all functions in schema public from public, anon, authenticated;
    grant execute on all functions in schema public to service_role;
  end if;
end $$;
