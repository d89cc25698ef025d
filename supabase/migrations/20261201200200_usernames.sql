-- WhatsApp usernames: a user who adopts one may write with their business-scoped user id (BSUID,
-- "US.13491208655302741918") instead of their phone number, or with both. One person must stay one
-- conversation: the first address seen with a BSUID (their phone number when the message carried one,
-- else the BSUID itself) is the one their conversation is kept under from then on, whichever ids
-- later messages carry. A conversation that began before BSUIDs were sent is found by its phone number.

create table if not exists patient_aliases (
  channel text not null,
  user_id text not null,
  -- The address the conversation is kept under (inbox.patient).
  patient text not null,
  -- The phone number (wa_id), once a message has carried it.
  phone text,
  created_at timestamptz not null default now(),
  primary key (channel, user_id)
);
create index if not exists patient_aliases_patient on patient_aliases (channel, patient);
alter table patient_aliases enable row level security;

-- The address to keep a message from (p_user_id, p_phone) under; records the link on first sight.
create or replace function patient_alias(p_channel text, p_user_id text, p_phone text default null)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  found_patient text;
begin
  insert into patient_aliases (channel, user_id, patient, phone)
  values (p_channel, p_user_id, coalesce(p_phone, p_user_id), p_phone)
  on conflict (channel, user_id) do update set phone = coalesce(patient_aliases.phone, excluded.phone)
  returning patient into found_patient;
  return jsonb_build_object('patient', found_patient);
end $$;

-- Erasing a patient's messages erases the link between their ids too (patient_erase deletes their
-- inbox rows; this keeps that function as it is).
create or replace function patient_aliases_forget() returns trigger language plpgsql set search_path = public, extensions as $$
begin
  delete from patient_aliases where channel = old.channel and patient = old.patient;
  return old;
end $$;
drop trigger if exists inbox_forget_aliases on inbox;
create trigger inbox_forget_aliases after delete on inbox for each row execute function patient_aliases_forget();

do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon')
     and exists (select 1 from pg_roles where rolname = 'authenticated')
     and exists (select 1 from pg_roles where rolname = 'service_role') then
    revoke all on table patient_aliases from public, anon, authenticated;
    revoke execute on function patient_alias(text, text, text), patient_aliases_forget() from public, anon, authenticated;
    grant select, insert, update, delete on table patient_aliases to service_role;
    grant execute on function patient_alias(text, text, text) to service_role;
  end if;
end $$;
