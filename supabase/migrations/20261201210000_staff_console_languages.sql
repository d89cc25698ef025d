-- The end of a handoff pause is told in the patient's language: p_bodies holds the message by language
-- code ({"en": …, "es": …}), chosen by the last language the conversation was answered in (inbox.language,
-- 20261201200000_languages.sql), English when none is known. Otherwise as in 20261201000000_staff_console.sql.
drop function if exists staff_end_expired_pauses(numeric, int, text);
create or replace function staff_end_expired_pauses(p_hours numeric, p_window_hours int, p_bodies jsonb)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  expired record;
  ended int := 0;
  told int := 0;
  spoken text;
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
      select i.language into spoken from inbox i
      where i.conversation = (select conversation from inbox where id = expired.id) and i.language is not null
      order by i.id desc limit 1;
      perform conversation_notify(expired.id, coalesce(p_bodies ->> spoken, p_bodies ->> 'en'));
      told := told + 1;
    end if;
  end loop;
  return jsonb_build_object('ended', ended, 'told', told);
end $$;

do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon')
     and exists (select 1 from pg_roles where rolname = 'authenticated')
     and exists (select 1 from pg_roles where rolname = 'service_role') then
    revoke execute on function staff_end_expired_pauses(numeric, int, jsonb) from public, anon, authenticated;
    grant execute on function staff_end_expired_pauses(numeric, int, jsonb) to service_role;
  end if;
end $$;
