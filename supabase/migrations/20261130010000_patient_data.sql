-- Patient data: retention, erasure and export (GDPR articles 15 and 17), and an audit of each.
--
-- Who a patient is, here: every address of one phone number (SMS "+15551234567", WhatsApp through
-- Twilio "whatsapp:+15551234567", a Meta wa_id "15551234567"), passed in as p_addresses. Their
-- conversations are the ones whose key ends in one of those addresses (channel:business:patient).

create table if not exists data_audit (
  id bigint generated always as identity primary key,
  action text not null check (action in ('erase', 'purge')),
  at timestamptz not null default now(),
  -- Erasure: which patient, as a salted SHA-256 of the E.164 number (never the number itself).
  address_hash text,
  -- Purge: the cut-off; rows older than it lost their text.
  older_than timestamptz,
  -- Rows removed or emptied, by table.
  counts jsonb not null
);
alter table data_audit enable row level security;

-- Rows whose text the retention purge has removed: not purged twice, and never memory again.
alter table inbox add column if not exists purged_at timestamptz;
alter table outbound add column if not exists purged_at timestamptz;
alter table staff_alerts add column if not exists purged_at timestamptz;
create index if not exists inbox_purge_due on inbox (received_at) where purged_at is null;
create index if not exists outbound_purge_due on outbound (created_at) where purged_at is null;
create index if not exists delivery_status_received on delivery_status (received_at);
-- An erasure finds a patient's rows by address, and the replies of each by inbox id.
create index if not exists inbox_patient on inbox (patient);
create index if not exists outbound_inbox_id on outbound (inbox_id) where inbox_id is not null;

-- Removes everything about one patient: their inbox rows (and the alerts raised about them), every
-- reply and part sent in their conversations, the delivery reports of those, their opt-out, pause and
-- debug state. Records the erasure in data_audit, by hash. One transaction: all or nothing.
create or replace function patient_erase(p_addresses jsonb, p_address_hash text)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  addresses text[] := array(select value #>> '{}' from jsonb_array_elements(p_addresses));
  conversations text[];
  inbox_ids bigint[];
  provider_ids text[];
  n_alerts int; n_outbound int; n_status int; n_state int; n_inbox int;
  counts jsonb;
begin
  select coalesce(array_agg(id), '{}'), coalesce(array_agg(distinct conversation), '{}')
  into inbox_ids, conversations
  from inbox where patient = any (addresses);
  -- Replies sent without an inbox row of their own (a late emergency reply) are found by conversation.
  -- (A conversation key is channel:business:patient; the business may hold a colon, the end never lies.)
  conversations := conversations || array(
    select distinct o.conversation from outbound o
    where exists (select 1 from unnest(addresses) a where o.conversation like '%:' || a)
  );
  select coalesce(array_agg(provider_message_id), '{}') into provider_ids from (
    select provider_message_id from outbound where conversation = any (conversations) and provider_message_id is not null
    union all
    select provider_message_id from staff_alerts where inbox_id = any (inbox_ids) and provider_message_id is not null
  ) sent;

  delete from staff_alerts where inbox_id = any (inbox_ids);
  get diagnostics n_alerts = row_count;
  delete from outbound o
  where o.conversation = any (conversations) or o.inbox_id = any (inbox_ids)
     -- Alerts sent by earlier versions were outbound rows in the staff member's conversation, quoting
     -- the message as `… (<channel>, message <id>): "<text>"`.
     or (o.inbox_id is null and exists (
       select 1 from inbox i where i.id = any (inbox_ids) and o.body like '%(' || i.channel || ', message ' || i.id || '): "%'));
  get diagnostics n_outbound = row_count;
  delete from delivery_status where provider_message_id = any (provider_ids);
  get diagnostics n_status = row_count;
  delete from patient_state where patient = any (addresses);
  get diagnostics n_state = row_count;
  delete from inbox where id = any (inbox_ids);
  get diagnostics n_inbox = row_count;

  counts := jsonb_build_object('inbox', n_inbox, 'outbound', n_outbound, 'delivery_status', n_status,
                               'patient_state', n_state, 'staff_alerts', n_alerts);
  insert into data_audit (action, address_hash, counts) values ('erase', p_address_hash, counts);
  return counts;
end $$;

-- The retention purge: the text of messages, replies, alerts and delivery reports older than
-- p_older_than is removed, and the patient's number with it; what metrics and the audit need (ids,
-- times, states, channels, counts) stays. Open messages are left alone. One purge at a time across
-- every instance sharing the database: a second caller gets {"skipped": true}. At most p_limit rows a
-- table per call, so that a first purge of years of data does not hold the database (the embedded one
-- runs one query at a time) for long: the caller calls again until nothing is left.
create or replace function retention_purge(p_older_than timestamptz, p_limit int default 2000)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  n_inbox int; n_outbound int; n_status int; n_alerts int;
  counts jsonb;
begin
  if not pg_try_advisory_xact_lock(hashtext('clinic-assistant retention_purge')) then
    return jsonb_build_object('skipped', true);
  end if;
  -- A WhatsApp message id (wamid) encodes the number it was sent to or from: ids go with the text.
  -- Rows still in use are left: open messages, the pieces merged into one, alerts that may still be
  -- refused (sent, and their fallbacks not yet needed).
  update inbox i set body = '', reply = null, last_error = null, patient = 'purged', conversation = 'purged:' || i.id,
         provider_message_id = 'purged:' || i.id, purged_at = now()
  where i.id in (
    select c.id from inbox c
    where c.received_at < p_older_than and c.purged_at is null and c.state not in ('pending', 'processing')
      and not (c.state = 'merged' and exists (select 1 from inbox h where h.id = c.merged_into and h.state in ('pending', 'processing')))
    limit p_limit);
  get diagnostics n_inbox = row_count;
  update outbound set body = '', error = null, conversation = 'purged:' || id, provider_message_id = null, purged_at = now()
  where id in (select id from outbound where created_at < p_older_than and purged_at is null limit p_limit);
  get diagnostics n_outbound = row_count;
  update staff_alerts set body = '', variables = null, fallbacks = '[]'::jsonb, error = null, provider_message_id = null, purged_at = now()
  where id in (
    select id from staff_alerts
    where created_at < p_older_than and purged_at is null and state not in ('pending', 'sending')
      and (state <> 'sent' or updated_at < now() - interval '1 day')
    limit p_limit);
  get diagnostics n_alerts = row_count;
  delete from delivery_status where id in (select id from delivery_status where received_at < p_older_than limit p_limit);
  get diagnostics n_status = row_count;
  counts := jsonb_build_object('inbox', n_inbox, 'outbound', n_outbound, 'staff_alerts', n_alerts, 'delivery_status', n_status);
  if n_inbox + n_outbound + n_alerts + n_status > 0 then
    insert into data_audit (action, older_than, counts) values ('purge', p_older_than, counts);
  end if;
  return counts || jsonb_build_object('skipped', false);
end $$;

-- A patient's conversation for a subject access request: every message in and out, in order, with
-- its time, channel and delivery status.
create or replace function patient_export(p_addresses jsonb)
returns jsonb language sql stable set search_path = public, extensions as $$
  with addresses as (
    select value #>> '{}' as address from jsonb_array_elements(p_addresses)
  ), theirs as (
    select * from inbox where patient in (select address from addresses)
  ), messages as (
    select 'in' as direction, t.received_at as at, t.channel, t.body as text, t.state as status, null::text as error, t.id * 2 as ord
    from theirs t
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

-- As in the core migration: on Supabase only the service role reaches the new table and functions.
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon')
     and exists (select 1 from pg_roles where rolname = 'authenticated')
     and exists (select 1 from pg_roles where rolname = 'service_role') then
    revoke all on table data_audit from public, anon, authenticated;
    revoke all on sequence data_audit_id_seq from public, anon, authenticated;
    revoke execute on function patient_erase(jsonb, text), retention_purge(timestamptz, int), patient_export(jsonb) from public, anon, authenticated;
    grant select, insert, update, delete on table data_audit to service_role;
    grant usage, select on sequence data_audit_id_seq to service_role;
    grant execute on function patient_erase(jsonb, text), retention_purge(timestamptz, int), patient_export(jsonb) to service_role;
  end if;
end $$;
