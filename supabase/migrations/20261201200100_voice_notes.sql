-- Voice notes: where each one's audio is kept by the provider, and its transcript.
--
-- The reference (Twilio's MediaUrl0, or a Meta media id, with the content type) is stored by the webhook
-- before the message itself, keyed like the inbox by the provider's message id, so that the worker never
-- claims a voice note whose audio it cannot find. It is deleted once the note is transcribed, and any
-- left behind (a note that could not be transcribed) after two days. The audio itself is never stored.
-- The transcript becomes the message's body: what the patient said is what they wrote, for the answer,
-- the history, the staff console, export, retention and erasure alike.

create table if not exists inbound_media (
  channel text not null,
  provider_message_id text not null,
  media jsonb not null,
  created_at timestamptz not null default now(),
  primary key (channel, provider_message_id)
);
alter table inbound_media enable row level security;

create or replace function inbound_media_store(p_channel text, p_provider_message_id text, p_media jsonb)
returns jsonb language plpgsql set search_path = public, extensions as $$
begin
  delete from inbound_media where created_at < now() - interval '2 days';
  insert into inbound_media (channel, provider_message_id, media) values (p_channel, p_provider_message_id, p_media)
  on conflict (channel, provider_message_id) do nothing;
  return jsonb_build_object('stored', true);
end $$;

create or replace function inbound_media_get(p_channel text, p_provider_message_id text)
returns jsonb language sql stable set search_path = public, extensions as $$
  select coalesce((select media from inbound_media where channel = p_channel and provider_message_id = p_provider_message_id), 'null'::jsonb);
$$;

-- The transcript of voice note p_id becomes its body; its audio reference is no longer needed.
create or replace function inbox_save_transcript(p_id bigint, p_transcript text)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  saved int;
begin
  update inbox set body = p_transcript where id = p_id and kind = 'voice';
  get diagnostics saved = row_count;
  delete from inbound_media m using inbox i where i.id = p_id and m.channel = i.channel and m.provider_message_id = i.provider_message_id;
  return jsonb_build_object('saved', saved > 0);
end $$;

-- As in the core migration, with what patients said in voice notes and wrote under photos: both are
-- turns of the conversation ("and does it hurt?" after a spoken question needs it).
create or replace function conversation_history(
  p_conversation text, p_limit int default 6, p_before_id bigint default null, p_since timestamptz default null
) returns jsonb language sql stable set search_path = public, extensions as $$
  select coalesce(jsonb_agg(jsonb_build_object('role', role, 'content', content, 'at', at) order by at, ord), '[]'::jsonb)
  from (
    select * from (
      select 'user' as role, body as content, received_at as at, id * 2 as ord
      from inbox
      where conversation = p_conversation and state in ('answered', 'merged') and kind in ('text', 'emergency', 'voice', 'captioned')
        and body <> ''
        and (p_before_id is null or id < p_before_id)
        and (p_since is null or received_at >= p_since)
      union all
      select 'assistant', body, created_at, inbox_id * 2 + 1
      from outbound
      where conversation = p_conversation and status <> 'failed'
        and (p_before_id is null or inbox_id < p_before_id)
        -- A reply counts from when its question arrived: the answer to "#reset" is not memory.
        and (p_since is null or exists (select 1 from inbox i where i.id = outbound.inbox_id and i.received_at >= p_since))
      order by at desc, ord desc
      limit p_limit
    ) newest
  ) turns;
$$;

do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon')
     and exists (select 1 from pg_roles where rolname = 'authenticated')
     and exists (select 1 from pg_roles where rolname = 'service_role') then
    revoke all on table inbound_media from public, anon, authenticated;
    revoke execute on function inbound_media_store(text, text, jsonb), inbound_media_get(text, text), inbox_save_transcript(bigint, text)
      from public, anon, authenticated;
    grant select, insert, update, delete on table inbound_media to service_role;
    grant execute on function inbound_media_store(text, text, jsonb), inbound_media_get(text, text), inbox_save_transcript(bigint, text)
      to service_role;
  end if;
end $$;
