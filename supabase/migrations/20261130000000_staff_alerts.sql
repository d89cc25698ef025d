-- Staff alerts that reach a person: stored, retried, their delivery read, and sent another way when
-- WhatsApp refuses them.
--
-- WhatsApp takes a free-form message only within 24 hours of the recipient's last message to the
-- business number (the customer-service window). A staff phone that has not written to the clinic
-- number recently does not get a free-form alert: Twilio accepts the send and reports it failed on the
-- status callback (error 63016); the Cloud API reports error 131047 on a status webhook. So an alert is
-- a row, like a reply: the first try goes the way the patient wrote ('direct'); a refusal, or a send
-- that keeps failing, turns it 'refused' and creates its fallbacks at once (an approved WhatsApp
-- template, and/or an SMS from STAFF_ALERT_SMS_FROM), planned when the alert was raised. A staff
-- member for whom every way has failed is reported back, for the service to log as an error and count.

create table if not exists staff_alerts (
  id bigint generated always as identity primary key,
  -- The patient's message the alert is about: one alert per message, staff member and route, so that
  -- a retried message never alerts twice, while a second emergency message alerts again.
  inbox_id bigint not null references inbox (id),
  reason text not null check (reason in ('emergency', 'self_harm', 'handoff')),
  staff_number text not null,
  route text not null check (route in ('direct', 'template', 'sms')),
  channel text not null check (channel in ('twilio', 'meta')),
  sender text not null,
  recipient text not null,
  body text not null,
  -- For route 'template': the template (a Twilio Content SID, or Meta name:language) and its values.
  template text,
  variables jsonb,
  -- The alerts to create if this one is refused: [{route, channel, sender, recipient, template?, variables?}].
  fallbacks jsonb not null default '[]'::jsonb,
  state text not null default 'pending'
    check (state in ('pending', 'sending', 'sent', 'delivered', 'read', 'refused', 'failed')),
  attempts int not null default 0,
  available_at timestamptz not null default now(),
  lease_owner text,
  lease_until timestamptz,
  provider_message_id text,
  error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (inbox_id, staff_number, route)
);

create index if not exists staff_alerts_due on staff_alerts (available_at) where state in ('pending', 'sending');
create index if not exists staff_alerts_provider_id on staff_alerts (channel, provider_message_id) where provider_message_id is not null;
-- Delivery reports are looked up by provider id (an alert's early failure, an erasure).
create index if not exists delivery_status_provider_id on delivery_status (channel, provider_message_id);
alter table staff_alerts enable row level security;

-- Raises the alerts for one patient message: p_alerts [{staff_number, channel, sender, recipient, body, fallbacks}].
-- Idempotent: a message handled again (a retry, a crash) raises nothing new.
create or replace function staff_alerts_raise(p_inbox_id bigint, p_reason text, p_alerts jsonb)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  created int;
begin
  insert into staff_alerts (inbox_id, reason, staff_number, route, channel, sender, recipient, body, fallbacks)
  select p_inbox_id, p_reason, a ->> 'staff_number', 'direct', a ->> 'channel', a ->> 'sender', a ->> 'recipient', a ->> 'body',
         coalesce(a -> 'fallbacks', '[]'::jsonb)
  from jsonb_array_elements(p_alerts) a
  on conflict (inbox_id, staff_number, route) do nothing;
  get diagnostics created = row_count;
  return jsonb_build_object('created', created);
end $$;

-- Claims alerts due for a send (new, retried, or held by a sender whose lease ran out).
create or replace function staff_alerts_claim(p_owner text, p_lease_seconds int, p_limit int)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  result jsonb;
begin
  with due as (
    select id from staff_alerts
    where (state = 'pending' and available_at <= now()) or (state = 'sending' and lease_until < now())
    order by id
    limit p_limit
    for update skip locked
  ), claimed as (
    update staff_alerts a
    set state = 'sending', lease_owner = p_owner, lease_until = now() + make_interval(secs => p_lease_seconds),
        attempts = a.attempts + 1, updated_at = now()
    from due where a.id = due.id
    returning a.*
  )
  select coalesce(jsonb_agg(jsonb_build_object(
      'id', id, 'inboxId', inbox_id, 'reason', reason, 'staffNumber', staff_number, 'route', route, 'channel', channel,
      'sender', sender, 'recipient', recipient, 'body', body, 'template', template, 'variables', variables, 'attempts', attempts
    ) order by id), '[]'::jsonb)
  into result from claimed;
  return result;
end $$;

-- The provider took the alert: its delivery report will follow. A report of failure can come before
-- this is recorded (the provider answers the send, calls back at once, and that webhook is stored
-- first): then the alert is refused here, as delivery_status_record would have done.
create or replace function staff_alerts_sent(p_id bigint, p_owner text, p_provider_message_id text)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  alert staff_alerts%rowtype;
  early delivery_status%rowtype;
begin
  -- The same lock as delivery_status_record takes: on a database that runs both at once (Supabase),
  -- whichever comes second sees what the first wrote, so a refusal cannot fall between them.
  perform pg_advisory_xact_lock(hashtext('delivery:' || coalesce(p_provider_message_id, '')));
  update staff_alerts set state = 'sent', provider_message_id = p_provider_message_id, lease_owner = null, lease_until = null, updated_at = now()
  where id = p_id and lease_owner = p_owner and state = 'sending'
  returning * into alert;
  if alert.id is null then
    return jsonb_build_object('updated', 0);
  end if;
  select * into early from delivery_status
  where channel = alert.channel and provider_message_id = p_provider_message_id and status in ('failed', 'undelivered')
  order by id limit 1;
  if early.id is not null then
    return jsonb_build_object('updated', 1, 'refusal', staff_alert_refused(alert.id, coalesce(early.error, early.status)));
  end if;
  return jsonb_build_object('updated', 1);
end $$;

-- A send that may pass: tried again after p_delay_ms.
create or replace function staff_alerts_retry(p_id bigint, p_owner text, p_error text, p_delay_ms int)
returns jsonb language sql set search_path = public, extensions as $$
  with updated as (
    update staff_alerts set state = 'pending', error = p_error, lease_owner = null, lease_until = null,
           available_at = now() + make_interval(secs => p_delay_ms / 1000.0), updated_at = now()
    where id = p_id and lease_owner = p_owner and state = 'sending'
    returning id
  )
  select jsonb_build_object('updated', count(*)) from updated;
$$;

-- Creates an alert's fallbacks (once: a fallback already raised for that staff member and route is
-- left as it is), due at once. Returns how many were created.
create or replace function staff_alert_fallbacks(p_alert staff_alerts)
returns int language plpgsql set search_path = public, extensions as $$
declare
  created int;
begin
  insert into staff_alerts (inbox_id, reason, staff_number, route, channel, sender, recipient, body, template, variables)
  select p_alert.inbox_id, p_alert.reason, p_alert.staff_number, f ->> 'route', f ->> 'channel', f ->> 'sender', f ->> 'recipient',
         p_alert.body, f ->> 'template', f -> 'variables'
  from jsonb_array_elements(p_alert.fallbacks) f
  on conflict (inbox_id, staff_number, route) do nothing;
  get diagnostics created = row_count;
  return created;
end $$;

-- A send that keeps failing with errors that may pass (an outage): its fallbacks go out now, and this
-- way is tried again later, not given up. Only a provider's refusal ends a way.
create or replace function staff_alert_escalate(p_id bigint, p_owner text, p_error text, p_delay_ms int)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  alert staff_alerts%rowtype;
begin
  update staff_alerts set state = 'pending', error = p_error, lease_owner = null, lease_until = null,
         available_at = now() + make_interval(secs => p_delay_ms / 1000.0), updated_at = now()
  where id = p_id and lease_owner = p_owner and state = 'sending'
  returning * into alert;
  if alert.id is null then
    return jsonb_build_object('changed', false);
  end if;
  return jsonb_build_object('changed', true, 'fallbacksCreated', staff_alert_fallbacks(alert));
end $$;

-- An alert that will not arrive this way: refused (its fallbacks are created, due at once) or, with no
-- fallback left, failed. `failedEveryWay` lists the staff members (for this message) for whom no way is
-- left: every one of their alerts has been refused or has failed.
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
    where inbox_id = refused.inbox_id and staff_number = refused.staff_number and state not in ('refused', 'failed')
  ) into failed_every_way;
  return jsonb_build_object(
    'changed', true, 'id', refused.id, 'inboxId', refused.inbox_id, 'route', refused.route, 'state', refused.state,
    'fallbacksCreated', fallbacks_created, 'failedEveryWay', failed_every_way
  );
end $$;

-- Delivery reports now also reach the alerts: delivered and read are recorded; failed or undelivered
-- is a refusal (fallbacks, or the end of the road). Returns what happened to alerts, for the service
-- to wake its alert sender and to log the ones that failed every way.
create or replace function delivery_status_record(p_channel text, p_provider_message_id text, p_status text, p_error text default null)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  alert staff_alerts%rowtype;
  outcomes jsonb := '[]'::jsonb;
begin
  perform pg_advisory_xact_lock(hashtext('delivery:' || coalesce(p_provider_message_id, '')));
  insert into delivery_status (channel, provider_message_id, status, error)
  values (p_channel, p_provider_message_id, p_status, p_error);
  update outbound set status = p_status, error = coalesce(p_error, error), updated_at = now()
  where channel = p_channel and provider_message_id = p_provider_message_id;
  for alert in select * from staff_alerts where channel = p_channel and provider_message_id = p_provider_message_id loop
    if p_status in ('failed', 'undelivered') then
      outcomes := outcomes || jsonb_build_array(staff_alert_refused(alert.id, coalesce(p_error, p_status)));
    elsif p_status in ('delivered', 'read') and alert.state in ('sent', 'delivered') then
      update staff_alerts set state = p_status, updated_at = now() where id = alert.id;
    end if;
  end loop;
  return jsonb_build_object('recorded', true, 'alerts', outcomes);
end $$;

-- A flood from one patient is throttled, but never what safety needs: an emergency, STOP / START, a
-- request for a person and a staff command are stored to be acted on, however many came before.
-- (As in 20261129000000_core.sql otherwise.)
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

-- Emergencies alone, for the worker's urgent lane: an emergency is claimed even when every worker
-- slot is taken by questions waiting on the model.
create or replace function inbox_claim_emergencies(p_owner text, p_lease_seconds int, p_limit int)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  result jsonb;
begin
  with due as (
    select i.id from inbox i
    where i.kind = 'emergency' and i.state in ('pending', 'processing')
      and ((i.state = 'pending' and i.available_at <= now()) or (i.state = 'processing' and i.lease_until < now()))
    order by i.id
    limit p_limit
    for update of i skip locked
  ), claimed as (
    update inbox i
    set state = 'processing', lease_owner = p_owner, lease_until = now() + make_interval(secs => p_lease_seconds), attempts = i.attempts + 1
    from due where i.id = due.id
    returning i.*
  )
  select coalesce(jsonb_agg(jsonb_build_object(
      'id', id, 'channel', channel, 'provider_message_id', provider_message_id, 'conversation', conversation,
      'patient', patient, 'business', business, 'body', body, 'merged', 0, 'kind', kind, 'attempts', attempts,
      'reply', reply, 'parts_sent', parts_sent, 'received_at', received_at
    ) order by id), '[]'::jsonb)
  into result from claimed;
  return result;
end $$;

-- As in the core migration: on Supabase only the service role reaches the new table and functions.
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon')
     and exists (select 1 from pg_roles where rolname = 'authenticated')
     and exists (select 1 from pg_roles where rolname = 'service_role') then
    revoke all on table staff_alerts from public, anon, authenticated;
    revoke all on sequence staff_alerts_id_seq from public, anon, authenticated;
    revoke execute on function staff_alerts_raise(bigint, text, jsonb), staff_alerts_claim(text, int, int),
      staff_alerts_sent(bigint, text, text), staff_alerts_retry(bigint, text, text, int), staff_alert_refused(bigint, text),
      staff_alert_escalate(bigint, text, text, int), staff_alert_fallbacks(staff_alerts), inbox_claim_emergencies(text, int, int)
      from public, anon, authenticated;
    grant select, insert, update, delete on table staff_alerts to service_role;
    grant usage, select on sequence staff_alerts_id_seq to service_role;
    grant execute on function staff_alerts_raise(bigint, text, jsonb), staff_alerts_claim(text, int, int),
      staff_alerts_sent(bigint, text, text), staff_alerts_retry(bigint, text, text, int), staff_alert_refused(bigint, text),
      staff_alert_escalate(bigint, text, text, int), staff_alert_fallbacks(staff_alerts), inbox_claim_emergencies(text, int, int)
      to service_role;
  end if;
end $$;
