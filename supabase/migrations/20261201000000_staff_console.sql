-- The staff console: staff sign in with a one-time code sent to their own phone, see every
-- conversation, take one over, reply through the patient's own channel, and hand it back. Staff
-- replies are inbox rows of kind 'outgoing' with their text already in `reply`, so that the worker
-- sends them like any answer: in the conversation's order, split, retried, their delivery tracked, and
-- erased or purged with the patient's other rows.

-- What each answer was, for staff reading the conversation: 'generated' by the model, a 'fallback'
-- (the best passage, without the model), a 'fixed' reply, or 'staff'. Its sources, and whether the
-- documents did not cover the question (the console's list of what to write next).
alter table inbox add column if not exists reply_origin text
  check (reply_origin in ('generated', 'fallback', 'fixed', 'staff'));
alter table inbox add column if not exists reply_sources jsonb;
alter table inbox add column if not exists uncovered boolean not null default false;
-- Set when the message raised a staff alert: the conversation waits for a person until staff act.
alter table inbox add column if not exists attention text check (attention in ('emergency', 'self_harm', 'handoff'));
create index if not exists inbox_attention on inbox (conversation, id) where attention is not null;
create index if not exists inbox_uncovered on inbox (received_at) where uncovered;
-- The console lists conversations active recently (purged rows have no conversation left to show).
create index if not exists inbox_received_recent on inbox (received_at) include (conversation) where purged_at is null;

-- When a pause began, for HANDOFF_TIMEOUT_HOURS. Kept by a trigger, so that every way of pausing
-- (a patient asking for a person, staff taking over) sets it.
alter table patient_state add column if not exists paused_at timestamptz;
create or replace function patient_state_paused_at() returns trigger language plpgsql set search_path = public, extensions as $$
begin
  if new.paused and (tg_op = 'INSERT' or not old.paused) then
    new.paused_at := now();
  elsif not new.paused then
    new.paused_at := null;
  end if;
  return new;
end $$;
drop trigger if exists patient_state_paused_at on patient_state;
create trigger patient_state_paused_at before insert or update on patient_state
  for each row execute function patient_state_paused_at();
-- Pauses that began before this migration count from their last change, so that they time out too.
update patient_state set paused_at = updated_at where paused and paused_at is null;

-- Reminders re-alert about the same message: one alert per message, staff member, route and round
-- (0 = the first alert, 1… = reminders).
alter table staff_alerts add column if not exists round int not null default 0;
alter table staff_alerts drop constraint if exists staff_alerts_inbox_id_staff_number_route_key;
create unique index if not exists staff_alerts_once on staff_alerts (inbox_id, staff_number, route, round);

-- ---------------------------------------------------------------------------------------------------
-- Staff sign-in. Numbers and client addresses are stored hashed (the service hashes them): a login
-- attempt for a number that is not staff must not leave that number in the database.

create table if not exists staff_login_requests (
  id bigint generated always as identity primary key,
  key_hash text not null,
  at timestamptz not null default now()
);
create index if not exists staff_login_requests_key on staff_login_requests (key_hash, at);

create table if not exists staff_login_codes (
  staff_number text primary key,
  code_hash text not null,
  expires_at timestamptz not null,
  wrong_tries int not null default 0,
  created_at timestamptz not null default now()
);

-- Wrong codes per staff number, whichever code they were for: a new code does not buy new guesses.
create table if not exists staff_login_failures (
  id bigint generated always as identity primary key,
  staff_number text not null,
  at timestamptz not null default now()
);
create index if not exists staff_login_failures_number on staff_login_failures (staff_number, at);

create table if not exists staff_sessions (
  token_hash text primary key,
  staff_number text not null,
  csrf_token text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz
);
create index if not exists staff_sessions_expiry on staff_sessions (expires_at);

-- Who did what, and when: sign-in and sign-out (no conversation), and on a conversation a reply, a
-- template, taking over, handing back, and the end of a pause by timeout (staff_number 'system').
-- `inbox_id` ties an action to the conversation (its first message, or the staff reply itself), so
-- that erasing a patient's rows erases the actions on them.
create table if not exists staff_actions (
  id bigint generated always as identity primary key,
  staff_number text not null,
  action text not null check (action in ('sign_in', 'sign_out', 'reply', 'template', 'take_over', 'resume', 'timeout_resume')),
  inbox_id bigint references inbox (id) on delete cascade,
  at timestamptz not null default now()
);
create index if not exists staff_actions_inbox on staff_actions (inbox_id) where inbox_id is not null;

alter table staff_login_requests enable row level security;
alter table staff_login_codes enable row level security;
alter table staff_login_failures enable row level security;
alter table staff_sessions enable row level security;
alter table staff_actions enable row level security;

-- Counts a sign-in request against both limits (per number, per client address) and, when both allow
-- it and a code is given (the number is staff), replaces that number's code. Non-staff numbers are
-- counted the same way, so the answer never tells who is staff.
create or replace function staff_login_request(
  p_number_hash text, p_client_hash text, p_staff_number text, p_code_hash text,
  p_code_ttl_seconds int, p_number_limit int, p_client_limit int, p_window_seconds int
) returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  window_start timestamptz := now() - make_interval(secs => p_window_seconds);
  n_number int; n_client int; oldest_number timestamptz; oldest_client timestamptz;
begin
  -- Both keys, always in this order: concurrent requests cannot slip under either limit together.
  perform pg_advisory_xact_lock(hashtext('staff-login:' || p_number_hash));
  perform pg_advisory_xact_lock(hashtext('staff-login:' || p_client_hash));
  delete from staff_login_requests where at < window_start;
  select count(*), min(at) into n_number, oldest_number from staff_login_requests where key_hash = p_number_hash;
  select count(*), min(at) into n_client, oldest_client from staff_login_requests where key_hash = p_client_hash;
  if n_number >= p_number_limit or n_client >= p_client_limit then
    -- Allowed again once the oldest request of every key over its limit has left the window.
    return jsonb_build_object('allowed', false, 'retryAfterSeconds', greatest(1, ceil(extract(epoch from (
      greatest(case when n_number >= p_number_limit then oldest_number end, case when n_client >= p_client_limit then oldest_client end)
      + make_interval(secs => p_window_seconds) - now())))::int));
  end if;
  insert into staff_login_requests (key_hash) values (p_number_hash), (p_client_hash);
  if p_code_hash is not null then
    insert into staff_login_codes (staff_number, code_hash, expires_at)
    values (p_staff_number, p_code_hash, now() + make_interval(secs => p_code_ttl_seconds))
    on conflict (staff_number) do update
      set code_hash = excluded.code_hash, expires_at = excluded.expires_at, wrong_tries = 0, created_at = now();
  end if;
  return jsonb_build_object('allowed', true);
end $$;

-- Checks a code. Right: the code is spent, a session opened and the sign-in recorded. Wrong: one more
-- wrong try; at p_max_tries the code is dead, and after p_max_daily_failures wrong codes in a day the
-- number cannot sign in until they age out (`locked` tells the service, to log it for an
-- administrator). Every failure answers {ok: false} to the client, alike.
create or replace function staff_login_verify(
  p_staff_number text, p_code_hash text, p_token_hash text, p_csrf_token text, p_session_hours numeric, p_max_tries int,
  p_max_daily_failures int
) returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  code staff_login_codes%rowtype;
  failures int;
begin
  select * into code from staff_login_codes where staff_number = p_staff_number for update;
  if code.staff_number is null or code.expires_at < now() or code.wrong_tries >= p_max_tries then
    return jsonb_build_object('ok', false);
  end if;
  select count(*) into failures from staff_login_failures where staff_number = p_staff_number and at > now() - interval '1 day';
  if failures >= p_max_daily_failures then
    return jsonb_build_object('ok', false, 'locked', true);
  end if;
  if code.code_hash <> p_code_hash then
    update staff_login_codes set wrong_tries = wrong_tries + 1 where staff_number = p_staff_number;
    insert into staff_login_failures (staff_number) values (p_staff_number);
    return jsonb_build_object('ok', false, 'locked', failures + 1 >= p_max_daily_failures);
  end if;
  delete from staff_login_codes where staff_number = p_staff_number;
  insert into staff_sessions (token_hash, staff_number, csrf_token, expires_at)
  values (p_token_hash, p_staff_number, p_csrf_token, now() + make_interval(secs => (p_session_hours * 3600)::double precision));
  insert into staff_actions (staff_number, action) values (p_staff_number, 'sign_in');
  return jsonb_build_object('ok', true, 'expiresAt', now() + make_interval(secs => (p_session_hours * 3600)::double precision));
end $$;

-- The signed-in staff member of a session token, or null (unknown, expired, revoked).
create or replace function staff_session_get(p_token_hash text)
returns jsonb language sql stable set search_path = public, extensions as $$
  select jsonb_build_object('staffNumber', staff_number, 'csrfToken', csrf_token, 'expiresAt', expires_at)
  from staff_sessions
  where token_hash = p_token_hash and revoked_at is null and expires_at > now();
$$;

create or replace function staff_session_revoke(p_token_hash text)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  who text;
begin
  update staff_sessions set revoked_at = now()
  where token_hash = p_token_hash and revoked_at is null
  returning staff_number into who;
  if who is not null then
    insert into staff_actions (staff_number, action) values (who, 'sign_out');
  end if;
  return jsonb_build_object('revoked', who is not null);
end $$;

-- The last message a staff phone sent to the clinic (any of its addresses): the way its sign-in code
-- goes back, if WhatsApp's window allows.
create or replace function staff_last_contact(p_addresses jsonb)
returns jsonb language sql stable set search_path = public, extensions as $$
  select jsonb_build_object('channel', channel, 'business', business, 'patient', patient, 'receivedAt', received_at)
  from inbox
  where patient in (select value #>> '{}' from jsonb_array_elements(p_addresses)) and kind <> 'outgoing' and purged_at is null
  order by received_at desc
  limit 1;
$$;

-- ---------------------------------------------------------------------------------------------------
-- Conversations as staff see them. A conversation's id is the id of its first stored message.

-- One row per conversation: who, where, its state, and how long a patient has been waiting for a person.
-- 'emergency': an emergency or self-harm message no person has answered since; 'handoff': paused for
-- a person; 'opted_out'; 'bot'. Waiting: since the first such emergency, or, while paused, since the
-- first message of the patient after the last answer (the request for a person included).
create or replace function staff_conversation_rows(p_conversations text[])
returns table (
  id bigint, conversation text, channel text, business text, patient text, state text,
  last_message_at timestamptz, last_inbound_at timestamptz, waiting_since timestamptz,
  opted_out boolean, paused boolean
) language sql stable set search_path = public, extensions as $$
  -- Each conversation on its own, through the indexes on inbox (conversation, id), outbound
  -- (conversation, id) and staff_actions (inbox_id): the cost follows the conversations asked for, not
  -- the size of the inbox (on the embedded database a slow query here holds up every webhook).
  select s.id, c.conversation, s.channel, s.business, s.patient,
    case when w.emergency_since is not null then 'emergency'
         when coalesce(ps.paused, false) then 'handoff'
         when coalesce(ps.opted_out, false) then 'opted_out'
         else 'bot' end,
    greatest(s.last_at, o.last_at), s.last_inbound_at,
    least(w.emergency_since, case when ps.paused then w.handoff_since end),
    coalesce(ps.opted_out, false), coalesce(ps.paused, false)
  from unnest(p_conversations) as c (conversation)
  cross join lateral (
    select min(i.id) as id, min(i.channel) as channel, min(i.business) as business, min(i.patient) as patient,
      max(i.received_at) filter (where i.kind <> 'outgoing') as last_inbound_at, max(i.received_at) as last_at
    from inbox i where i.conversation = c.conversation
  ) s
  cross join lateral (select max(o.created_at) as last_at from outbound o where o.conversation = c.conversation) o
  -- A person answered: a staff reply that has not failed, the follow-up template, or handing the
  -- conversation back. Taking over alone is not an answer: the patient still waits, and reminders go on.
  cross join lateral (
    select max(a.at) as at
    from inbox m join staff_actions a on a.inbox_id = m.id
    where m.conversation = c.conversation
      and (a.action in ('template', 'resume') or (a.action = 'reply' and m.state <> 'failed'))
  ) acted
  left join patient_state ps on ps.channel = s.channel and ps.patient = s.patient
  cross join lateral (
    select
      min(m.received_at) filter (where m.attention in ('emergency', 'self_harm')) as emergency_since,
      min(m.received_at) filter (where m.attention = 'handoff' or m.received_at >= ps.paused_at) as handoff_since
    from inbox m
    where m.conversation = c.conversation and m.kind <> 'outgoing'
      and m.received_at > coalesce(acted.at, '-infinity'::timestamptz)
  ) w
  where s.id is not null;
$$;

-- The list: conversations active since p_since, and any waiting for a person however old; those
-- waiting first (emergencies, then handoffs, the longest wait first), then the most recent.
create or replace function staff_conversations(p_since timestamptz, p_limit int default 200)
returns jsonb language sql stable set search_path = public, extensions as $$
  with candidates as (
    -- Whatever may be waiting for a person (a message that raised an alert, a paused patient), and the
    -- most recently active of the rest: only these are summarised.
    select array(
      (select conversation from inbox where received_at >= p_since and purged_at is null
       group by conversation order by max(received_at) desc limit p_limit)
      union
      select distinct conversation from inbox where attention is not null and purged_at is null
      union
      select distinct i.conversation from patient_state s join inbox i on i.channel = s.channel and i.patient = s.patient
      where s.paused and i.purged_at is null
    ) as conversations
  ), listed as (
    select r.* from candidates c, staff_conversation_rows(c.conversations) r
    order by case when r.waiting_since is null then 2 when r.state = 'emergency' then 0 else 1 end,
             r.waiting_since asc nulls last, r.last_message_at desc
    limit p_limit
  )
  select coalesce(jsonb_agg(jsonb_build_object(
      'id', id, 'patient', patient, 'channel', channel, 'business', business, 'state', state,
      'lastMessageAt', last_message_at, 'lastInboundAt', last_inbound_at, 'waitingSince', waiting_since,
      'optedOut', opted_out, 'paused', paused
    ) order by case when waiting_since is null then 2 when state = 'emergency' then 0 else 1 end,
               waiting_since asc nulls last, last_message_at desc), '[]'::jsonb)
  from listed;
$$;

-- One conversation: its summary and every message in and out, with each answer's origin, sources and
-- delivery status, and the staff actions on it, in order. Null when there is no such conversation.
create or replace function staff_conversation(p_id bigint)
returns jsonb language sql stable set search_path = public, extensions as $$
  with target as (
    select conversation from inbox where id = p_id and purged_at is null
  ), summary_row as (
    select r.* from target t, staff_conversation_rows(array[t.conversation]) r
  ), ids as (
    select i.id from inbox i join target t on t.conversation = i.conversation
  ), events as (
    select i.received_at as at, i.id * 4 as ord, jsonb_build_object(
      'type', 'in', 'id', i.id, 'at', i.received_at, 'text', i.body, 'kind', i.kind, 'attention', i.attention, 'state', i.state
    ) as event
    from inbox i join target t on t.conversation = i.conversation
    where i.kind <> 'outgoing'
    union all
    select o.created_at, coalesce(o.inbox_id, 0) * 4 + 1, jsonb_build_object(
      'type', 'out', 'id', o.id, 'at', o.created_at, 'text', o.body,
      'status', case when o.status = 'undelivered' then 'failed' else o.status end, 'error', o.error,
      'origin', coalesce(i.reply_origin, 'fixed'), 'sources', coalesce(i.reply_sources, '[]'::jsonb),
      'by', (select a.staff_number from staff_actions a where a.inbox_id = o.inbox_id and a.action = 'reply' limit 1)
    )
    from outbound o join target t on t.conversation = o.conversation
    left join inbox i on i.id = o.inbox_id
    union all
    -- A message from the clinic not sent yet, or that could not be sent at all: staff must see it.
    select i.received_at, i.id * 4 + 1, jsonb_build_object(
      'type', 'out', 'id', -i.id, 'at', i.received_at, 'text', i.reply,
      'status', case when i.state = 'failed' then 'failed' else 'queued' end, 'error', i.last_error,
      'origin', i.reply_origin, 'sources', '[]'::jsonb,
      'by', (select a.staff_number from staff_actions a where a.inbox_id = i.id and a.action = 'reply' limit 1)
    )
    from inbox i join target t on t.conversation = i.conversation
    where i.kind = 'outgoing' and i.parts_sent = 0 and i.state in ('pending', 'processing', 'failed')
    union all
    select a.at, a.id * 4 + 2, jsonb_build_object('type', 'action', 'id', a.id, 'at', a.at, 'action', a.action, 'by', a.staff_number)
    from staff_actions a where a.inbox_id in (select id from ids) and a.action <> 'reply'
  )
  select case when (select count(*) from summary_row) = 0 then null else (
    select jsonb_build_object(
      'id', r.id, 'patient', r.patient, 'channel', r.channel, 'business', r.business, 'state', r.state,
      'lastMessageAt', r.last_message_at, 'lastInboundAt', r.last_inbound_at, 'waitingSince', r.waiting_since,
      'optedOut', r.opted_out, 'paused', r.paused,
      'messages', coalesce((select jsonb_agg(event order by at, ord) from events), '[]'::jsonb)
    ) from summary_row r
  ) end;
$$;

-- Queues a message from the clinic to the conversation of message p_id: an 'outgoing' inbox row with
-- its text already in `reply`, which the worker sends like any answer, in the conversation's order.
-- p_origin 'staff' for a staff reply, 'fixed' for a notice from no one (the assistant is back).
create or replace function conversation_notify(p_id bigint, p_body text, p_origin text default 'fixed')
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  head inbox%rowtype;
  new_id bigint;
begin
  select * into head from inbox where id = p_id and purged_at is null;
  if head.id is null then
    return jsonb_build_object('refused', 'not_found');
  end if;
  if exists (select 1 from patient_state where channel = head.channel and patient = head.patient and opted_out) then
    return jsonb_build_object('refused', 'opted_out');
  end if;
  insert into inbox (channel, provider_message_id, conversation, patient, business, body, kind, reply, reply_origin)
  values (head.channel, 'outgoing:' || gen_random_uuid(), head.conversation, head.patient, head.business, '', 'outgoing', p_body, p_origin)
  returning id into new_id;
  return jsonb_build_object('inboxId', new_id);
end $$;

-- Queues a staff reply to the patient of conversation p_id: an 'outgoing' inbox row the worker sends,
-- the assistant paused for that patient, the action recorded. Refused (nothing written) when the
-- patient opted out, or, on WhatsApp, when p_window_hours is set and the patient has not written
-- within it (the customer-service window; SMS has none).
create or replace function staff_reply(p_id bigint, p_staff_number text, p_body text, p_window_hours int default null)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  head inbox%rowtype;
  last_in timestamptz;
  new_id bigint;
begin
  select * into head from inbox where id = p_id and purged_at is null;
  if head.id is null then
    return jsonb_build_object('refused', 'not_found');
  end if;
  if exists (select 1 from patient_state where channel = head.channel and patient = head.patient and opted_out) then
    return jsonb_build_object('refused', 'opted_out');
  end if;
  select max(received_at) into last_in from inbox where conversation = head.conversation and kind <> 'outgoing';
  if p_window_hours is not null and (head.channel = 'meta' or head.patient like 'whatsapp:%')
     and (last_in is null or last_in < now() - make_interval(hours => p_window_hours)) then
    return jsonb_build_object('refused', 'window_closed');
  end if;
  new_id := (conversation_notify(p_id, p_body, 'staff') ->> 'inboxId')::bigint;
  insert into staff_actions (staff_number, action, inbox_id) values (p_staff_number, 'reply', new_id);
  perform patient_state_set(head.channel, head.patient, '{"paused": true}'::jsonb);
  return jsonb_build_object('inboxId', new_id, 'conversationId', (select min(id) from inbox where conversation = head.conversation));
end $$;

-- Take over (pause), hand back (resume), or record a template sent: p_action 'take_over', 'resume',
-- 'template', 'timeout_resume'. Answers the conversation's new state.
create or replace function staff_act(p_id bigint, p_staff_number text, p_action text)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  head inbox%rowtype;
  first_id bigint;
begin
  select * into head from inbox where id = p_id and purged_at is null;
  if head.id is null then
    return jsonb_build_object('refused', 'not_found');
  end if;
  select min(id) into first_id from inbox where conversation = head.conversation;
  if p_action = 'take_over' then
    perform patient_state_set(head.channel, head.patient, '{"paused": true}'::jsonb);
  elsif p_action in ('resume', 'timeout_resume') then
    perform patient_state_set(head.channel, head.patient, '{"paused": false}'::jsonb);
  elsif p_action <> 'template' then
    raise exception 'unknown staff action %', p_action using errcode = '22023';
  end if;
  insert into staff_actions (staff_number, action, inbox_id) values (p_staff_number, p_action, first_id);
  return jsonb_build_object('conversationId', first_id);
end $$;


-- Pauses older than p_hours with nobody acting since: the ones to end. Each with its conversation id,
-- and whether the patient wrote within p_window_hours (a WhatsApp message outside it would fail).
create or replace function staff_pauses_expired(p_hours numeric, p_window_hours int)
returns jsonb language sql stable set search_path = public, extensions as $$
  with paused as (
    select s.channel, s.patient, s.paused_at from patient_state s
    where s.paused and not s.opted_out and s.paused_at < now() - make_interval(secs => (p_hours * 3600)::double precision)
  ), conversations as (
    select distinct on (i.conversation) i.conversation, p.paused_at
    from paused p join inbox i on i.channel = p.channel and i.patient = p.patient and i.purged_at is null
  )
  select coalesce(jsonb_agg(jsonb_build_object(
      'id', r.id, 'channel', r.channel, 'patient', r.patient, 'business', r.business,
      'windowOpen', r.last_inbound_at >= now() - make_interval(hours => p_window_hours)
    )), '[]'::jsonb)
  from conversations c, staff_conversation_rows(array[c.conversation]) r
  where not exists (
    select 1 from staff_actions a join inbox i on i.id = a.inbox_id
    where i.conversation = c.conversation and a.at > now() - make_interval(secs => (p_hours * 3600)::double precision)
      and a.action in ('reply', 'template', 'take_over')
  );
$$;

-- Ends the pauses that timed out (once, whichever instance gets there first): the assistant answers
-- again, the end is recorded as a 'system' action, and the patient is told with p_body unless the
-- message could not arrive (WhatsApp, outside its window).
create or replace function staff_end_expired_pauses(p_hours numeric, p_window_hours int, p_body text)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  expired record;
  ended int := 0;
  told int := 0;
begin
  for expired in
    select * from jsonb_to_recordset(staff_pauses_expired(p_hours, p_window_hours))
      as e(id bigint, channel text, patient text, business text, "windowOpen" boolean)
  loop
    update patient_state set paused = false, updated_at = now()
    where channel = expired.channel and patient = expired.patient and paused;
    if not found then
      continue;
    end if;
    insert into staff_actions (staff_number, action, inbox_id) values ('system', 'timeout_resume', expired.id);
    ended := ended + 1;
    if expired."windowOpen" or not (expired.channel = 'meta' or expired.patient like 'whatsapp:%') then
      perform conversation_notify(expired.id, p_body);
      told := told + 1;
    end if;
  end loop;
  return jsonb_build_object('ended', ended, 'told', told);
end $$;

-- Conversations waiting for a person longer than p_minutes: one reminder round per p_minutes of
-- waiting, at most p_max_rounds. Answers the message to remind about (the first one waiting) and the
-- round due, for the service to plan the alerts and raise them with staff_alerts_raise(…, round).
create or replace function staff_reminders_due(p_minutes int, p_max_rounds int)
returns jsonb language sql stable set search_path = public, extensions as $$
  with waiting as (
    select r.* from staff_conversation_rows(array(
      select distinct conversation from inbox where attention is not null and purged_at is null
    )) r
    where r.waiting_since is not null and r.waiting_since < now() - make_interval(mins => p_minutes)
  ), subject as (
    select w.id as conversation_id, w.state, m.id as inbox_id, m.channel, m.business, m.patient, m.body, m.attention,
      least(p_max_rounds, floor(extract(epoch from (now() - w.waiting_since)) / 60 / p_minutes)::int) as round_due
    from waiting w
    join lateral (
      select * from inbox i where i.conversation = w.conversation and i.kind <> 'outgoing' and i.received_at >= w.waiting_since
      order by (i.attention is null), i.id limit 1
    ) m on true
  )
  select coalesce(jsonb_agg(jsonb_build_object(
      'conversationId', conversation_id, 'inboxId', inbox_id, 'channel', channel, 'business', business, 'patient', patient,
      'body', body, 'reason', coalesce(attention, 'handoff'), 'round', round_due
    )), '[]'::jsonb)
  from subject s
  where s.round_due >= 1
    and not exists (select 1 from staff_alerts a where a.inbox_id = s.inbox_id and a.round >= s.round_due);
$$;

-- Patients' questions the documents did not answer, newest first, for the console to group.
create or replace function staff_uncovered_questions(p_since timestamptz, p_limit int default 500)
returns jsonb language sql stable set search_path = public, extensions as $$
  select coalesce(jsonb_agg(jsonb_build_object('id', id, 'conversationId', conversation_id, 'at', received_at, 'text', body) order by received_at desc), '[]'::jsonb)
  from (
    select i.id, i.received_at, i.body, (select min(c.id) from inbox c where c.conversation = i.conversation) as conversation_id
    from inbox i
    where i.uncovered and i.received_at >= p_since and i.purged_at is null
    order by i.received_at desc
    limit p_limit
  ) q;
$$;

-- A change marker for the console's live stream: it changes whenever a message arrives, a reply or
-- delivery report is recorded, a state changes or staff act. Cheap: each part is an index lookup.
create or replace function staff_change_marker()
returns text language sql stable set search_path = public, extensions as $$
  select concat_ws(':',
    (select max(id) from inbox), (select max(id) from outbound), (select max(id) from delivery_status),
    (select max(id) from staff_actions), (select extract(epoch from max(updated_at)) from patient_state),
    (select count(*) from inbox where state in ('pending', 'processing')));
$$;

-- Saves a generated reply with what it is, so that a retry sends the same text and the console can
-- say what it was. (inbox_save_reply stays for callers that have only the text.)
create or replace function inbox_save_answer(p_id bigint, p_owner text, p_reply text, p_origin text, p_sources jsonb, p_uncovered boolean)
returns jsonb language sql set search_path = public, extensions as $$
  with updated as (
    update inbox set reply = p_reply, reply_origin = p_origin, reply_sources = p_sources, uncovered = p_uncovered
    where id = p_id and lease_owner = p_owner and state = 'processing'
    returning id
  )
  select jsonb_build_object('updated', count(*)) from updated;
$$;

-- Expired sign-in codes, sessions ended a day ago, and sign-in counts older than a day are removed
-- (the service runs it about hourly).
create or replace function staff_housekeeping()
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  n_sessions int; n_codes int; n_requests int;
begin
  delete from staff_sessions where expires_at < now() - interval '1 day' or revoked_at < now() - interval '1 day';
  get diagnostics n_sessions = row_count;
  delete from staff_login_codes where expires_at < now();
  get diagnostics n_codes = row_count;
  delete from staff_login_requests where at < now() - interval '1 day';
  get diagnostics n_requests = row_count;
  delete from staff_login_failures where at < now() - interval '1 day';
  return jsonb_build_object('sessions', n_sessions, 'codes', n_codes, 'loginRequests', n_requests);
end $$;

-- As in 20261130010000_patient_data.sql, but a staff reply queued in the inbox (kind 'outgoing') is
-- not something the patient said: its text is exported once, as the reply that went out.
create or replace function patient_export(p_addresses jsonb)
returns jsonb language sql stable set search_path = public, extensions as $$
  with addresses as (
    select value #>> '{}' as address from jsonb_array_elements(p_addresses)
  ), theirs as (
    select * from inbox where patient in (select address from addresses)
  ), messages as (
    select 'in' as direction, t.received_at as at, t.channel, t.body as text, t.state as status, null::text as error, t.id * 2 as ord
    from theirs t
    where t.kind <> 'outgoing'
    union all
    select 'out', o.created_at, o.channel, o.body, o.status, o.error, coalesce(o.inbox_id, 0) * 2 + 1
    from outbound o
    where o.conversation in (select conversation from theirs)
       or exists (select 1 from addresses a where o.conversation like '%:' || a.address)
  )
  select jsonb_build_object(
    'addresses', (select jsonb_agg(address) from addresses),
    'messages', coalesce((select jsonb_agg(jsonb_build_object(
        'direction', direction, 'at', at, 'channel', channel, 'text', text, 'status', status, 'error', error
      ) order by at, ord) from messages), '[]'::jsonb)
  );
$$;

-- As in 20261130000000_staff_alerts.sql, but what staff send a patient (kind 'outgoing') does not count
-- towards that patient's flood limit.
create or replace function inbox_enqueue(
  p_channel text, p_provider_message_id text, p_conversation text, p_patient text,
  p_business text, p_body text, p_kind text default 'text',
  p_rate_limit int default 0, p_rate_window_seconds int default 60
) returns jsonb language plpgsql set search_path = public, extensions as $$
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
  if p_rate_limit > 0 and p_kind not in ('emergency', 'command') then
    -- Serialise the count per patient, so that concurrent deliveries cannot all slip under the limit.
    perform pg_advisory_xact_lock(hashtext(p_channel || ':' || p_patient));
    select count(*) into recent from inbox
    where channel = p_channel and patient = p_patient and kind <> 'outgoing'
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

-- ---------------------------------------------------------------------------------------------------
-- Alerts: a message that raised one waits for a person; reminders are later rounds of the same alert.

drop function if exists staff_alerts_raise(bigint, text, jsonb);
create or replace function staff_alerts_raise(p_inbox_id bigint, p_reason text, p_alerts jsonb, p_round int default 0)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  created int;
begin
  update inbox set attention = case
      when attention in ('emergency', 'self_harm') and p_reason = 'handoff' then attention
      else p_reason end
  where id = p_inbox_id;
  insert into staff_alerts (inbox_id, reason, staff_number, route, channel, sender, recipient, body, fallbacks, round)
  select p_inbox_id, p_reason, a ->> 'staff_number', 'direct', a ->> 'channel', a ->> 'sender', a ->> 'recipient', a ->> 'body',
         coalesce(a -> 'fallbacks', '[]'::jsonb), p_round
  from jsonb_array_elements(p_alerts) a
  on conflict (inbox_id, staff_number, route, round) do nothing;
  get diagnostics created = row_count;
  return jsonb_build_object('created', created);
end $$;

create or replace function staff_alert_fallbacks(p_alert staff_alerts)
returns int language plpgsql set search_path = public, extensions as $$
declare
  created int;
begin
  insert into staff_alerts (inbox_id, reason, staff_number, route, channel, sender, recipient, body, template, variables, round)
  select p_alert.inbox_id, p_alert.reason, p_alert.staff_number, f ->> 'route', f ->> 'channel', f ->> 'sender', f ->> 'recipient',
         p_alert.body, f ->> 'template', f -> 'variables', p_alert.round
  from jsonb_array_elements(p_alert.fallbacks) f
  on conflict (inbox_id, staff_number, route, round) do nothing;
  get diagnostics created = row_count;
  return created;
end $$;

-- As in 20261130000000_staff_alerts.sql, with "every way" counted within the alert's round.
create or replace function staff_alert_refused(p_id bigint, p_error text)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  refused staff_alerts%rowtype;
  fallbacks_created int := 0;
  failed_every_way boolean;
begin
  update staff_alerts
  set state = case when jsonb_array_length(fallbacks) > 0 then 'refused' else 'failed' end,
      error = coalesce(p_error, error), lease_owner = null, lease_until = null, updated_at = now()
  where id = p_id and state not in ('refused', 'failed')
  returning * into refused;
  if refused.id is null then
    return jsonb_build_object('changed', false);
  end if;
  fallbacks_created := staff_alert_fallbacks(refused);
  select not exists (
    select 1 from staff_alerts
    where inbox_id = refused.inbox_id and staff_number = refused.staff_number and round = refused.round
      and state not in ('refused', 'failed')
  ) into failed_every_way;
  return jsonb_build_object(
    'changed', true, 'id', refused.id, 'inboxId', refused.inbox_id, 'route', refused.route, 'state', refused.state,
    'fallbacksCreated', fallbacks_created, 'failedEveryWay', failed_every_way
  );
end $$;

-- As in the core migration: on Supabase only the service role reaches the new tables and functions.
do $$
declare
  fns text := 'staff_login_request(text, text, text, text, int, int, int, int), staff_login_verify(text, text, text, text, numeric, int, int), '
    'staff_session_get(text), staff_session_revoke(text), staff_last_contact(jsonb), staff_conversation_rows(text[]), staff_conversations(timestamptz, int), '
    'staff_conversation(bigint), staff_reply(bigint, text, text, int), staff_act(bigint, text, text), conversation_notify(bigint, text, text), '
    'staff_pauses_expired(numeric, int), staff_end_expired_pauses(numeric, int, text), staff_reminders_due(int, int), staff_uncovered_questions(timestamptz, int), '
    'staff_change_marker(), inbox_save_answer(bigint, text, text, text, jsonb, boolean), staff_housekeeping(), '
    'staff_alerts_raise(bigint, text, jsonb, int), patient_state_paused_at()';
begin
  if exists (select 1 from pg_roles where rolname = 'anon')
     and exists (select 1 from pg_roles where rolname = 'authenticated')
     and exists (select 1 from pg_roles where rolname = 'service_role') then
    revoke all on table staff_login_requests, staff_login_codes, staff_login_failures, staff_sessions, staff_actions from public, anon, authenticated;
    revoke all on sequence staff_login_requests_id_seq, staff_login_failures_id_seq, staff_actions_id_seq from public, anon, authenticated;
    execute format('revoke execute on function %s from public, anon, authenticated', fns);
    grant select, insert, update, delete on table staff_login_requests, staff_login_codes, staff_login_failures, staff_sessions, staff_actions to service_role;
    grant usage, select on sequence staff_login_requests_id_seq, staff_login_failures_id_seq, staff_actions_id_seq to service_role;
    execute format('grant execute on function %s to service_role', fns);
  end if;
end $$;
