-- clinic-assistant core schema.
--
-- Every piece of database logic the service needs lives here as a SQL function, so that the embedded
-- database (PGlite) and Supabase (reached through PostgREST `rpc()`) run the very same code. Each
-- function takes named `p_` arguments (PostgREST maps JSON keys to them) and returns `jsonb`, which both
-- transports hand back unchanged.
--
-- Applied by `supabase db push` on Supabase and by src/db/migrate.ts on the embedded database, each file
-- once and in a transaction. Portability choices:
-- - pgvector goes into the `extensions` schema, as Supabase recommends (its Security Advisor flags
--   extensions in `public`, where PostgREST would expose their functions). The embedded database gets
--   the same schema, so the type is written `extensions.vector` in table definitions and signatures.
-- - Every function sets `search_path = public, extensions`: the body resolves the same names whatever
--   the caller's search_path (PostgREST's, the CLI's, PGlite's), and `<=>` and `::vector` are found.
-- - Row-level security is on for every table, with no policies, and the grants at the end leave the
--   tables and functions to `service_role` alone (see there).

create schema if not exists extensions;
create extension if not exists vector with schema extensions;

-- ---------------------------------------------------------------------------------------------------
-- Knowledge: documents and their chunks.

create table if not exists documents (
  id bigint generated always as identity primary key,
  source text not null unique,
  title text not null,
  content_hash text not null,
  updated_at timestamptz not null default now()
);

create table if not exists chunks (
  id bigint generated always as identity primary key,
  document_id bigint not null references documents (id) on delete cascade,
  position int not null,
  title text not null,
  heading text not null default '',
  content text not null,
  content_hash text not null,
  -- text-embedding-3-small; a model with another size needs a migration of its own.
  embedding extensions.vector(1536),
  fts tsvector generated always as (
    setweight(to_tsvector('english', title || ' ' || heading), 'A') ||
    setweight(to_tsvector('english', content), 'B')
  ) stored,
  unique (document_id, position)
);

create index if not exists chunks_embedding_hnsw on chunks using hnsw (embedding extensions.vector_cosine_ops);
create index if not exists chunks_fts_gin on chunks using gin (fts);

-- ---------------------------------------------------------------------------------------------------
-- Inbox: every inbound message is a row before its webhook is acknowledged.

create table if not exists inbox (
  id bigint generated always as identity primary key,
  channel text not null check (channel in ('twilio', 'meta')),
  provider_message_id text not null,
  -- One conversation = one patient address talking to one business address on one channel.
  conversation text not null,
  patient text not null,
  business text not null,
  body text not null,
  kind text not null default 'text',
  received_at timestamptz not null default now(),
  -- 'merged': folded into an earlier message of the same burst, and answered by that one's reply.
  state text not null default 'pending'
    check (state in ('pending', 'processing', 'answered', 'failed', 'skipped', 'merged')),
  merged_into bigint references inbox (id),
  attempts int not null default 0,
  available_at timestamptz not null default now(),
  lease_owner text,
  lease_until timestamptz,
  -- The reply is stored once generated, so a retried send never regenerates (or changes) it.
  reply text,
  parts_sent int not null default 0,
  last_error text,
  finished_at timestamptz,
  unique (channel, provider_message_id)
);

create index if not exists inbox_open on inbox (conversation, id) where state in ('pending', 'processing');
create index if not exists inbox_conversation on inbox (conversation, id);
create index if not exists inbox_merged_into on inbox (merged_into) where merged_into is not null;
create index if not exists inbox_patient_recent on inbox (channel, patient, received_at);

create table if not exists outbound (
  id bigint generated always as identity primary key,
  inbox_id bigint references inbox (id),
  channel text not null,
  conversation text not null,
  body text not null,
  provider_message_id text,
  status text not null default 'sent',
  error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index if not exists outbound_conversation on outbound (conversation, id);
create unique index if not exists outbound_provider_id on outbound (channel, provider_message_id);

create table if not exists delivery_status (
  id bigint generated always as identity primary key,
  channel text not null,
  provider_message_id text not null,
  status text not null,
  error text,
  received_at timestamptz not null default now()
);

-- What the clinic knows about one patient address on one channel: opted out (STOP), paused for a
-- person (handoff), and, for staff test numbers, debug footers and a history reset.
create table if not exists patient_state (
  channel text not null,
  patient text not null,
  opted_out boolean not null default false,
  paused boolean not null default false,
  debug boolean not null default false,
  history_reset_at timestamptz,
  updated_at timestamptz not null default now(),
  primary key (channel, patient)
);

-- ---------------------------------------------------------------------------------------------------
-- Only the service role reaches these tables: RLS on, and no policies, so any other role that were
-- granted a table would still see no rows. Supabase's service_role and the embedded database's
-- superuser bypass RLS.

alter table documents enable row level security;
alter table chunks enable row level security;
alter table inbox enable row level security;
alter table outbound enable row level security;
alter table delivery_status enable row level security;
alter table patient_state enable row level security;

-- ---------------------------------------------------------------------------------------------------
-- Inbox functions.

-- Stores an inbound message once, and throttles floods: past p_rate_limit messages from one patient in
-- p_rate_window_seconds, the first extra message becomes a polite notice ('throttle_notice') and the
-- rest are stored as 'skipped'. They never reach the worker, so a flood costs nobody else anything.
-- p_rate_limit 0 means no limit (staff test numbers).
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
  -- An emergency is never throttled: a frightened patient sending many messages is the case it is for.
  if p_rate_limit > 0 and p_kind <> 'emergency' then
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
create or replace function inbox_claim(p_owner text, p_lease_seconds int, p_limit int, p_max_attempts int default 10)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  claimed_ids bigint[];
  result jsonb;
begin
  -- A message whose lease keeps running out (it crashes the process every time) is given up, so that
  -- it cannot hold its conversation, and restart the service, forever.
  update inbox set state = 'failed', last_error = 'gave up after ' || attempts || ' attempts whose lease ran out',
         finished_at = now(), lease_owner = null, lease_until = null
  where state = 'processing' and lease_until < now() and attempts >= p_max_attempts;

  with heads as (
    select distinct on (conversation) id
    from inbox
    where state in ('pending', 'processing')
    order by conversation, id
  ), emergencies as (
    -- An emergency does not wait for its conversation's turn: its fixed reply and the staff alert go
    -- out while an earlier answer may still be generating.
    select id from inbox where kind = 'emergency' and state in ('pending', 'processing')
  ), candidates as (
    select id from heads union select id from emergencies
  ), claimable as (
    select i.id
    from inbox i
    join candidates h on h.id = i.id
    where (i.state = 'pending' and i.available_at <= now())
       or (i.state = 'processing' and i.lease_until < now())
    order by (i.kind = 'emergency') desc, i.id
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
    and f.state = 'pending' and f.kind = 'text'
    -- Only the unbroken run of text right after the head: a STOP, a request for a person, a staff
    -- command or a photo in between keeps its own turn, and what follows it waits for that turn.
    and not exists (
      select 1 from inbox x
      where x.conversation = head.conversation and x.id > head.id and x.id < f.id and x.kind <> 'text'
    );

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

-- Stores the generated reply so that a retry sends the same text.
create or replace function inbox_save_reply(p_id bigint, p_owner text, p_reply text)
returns jsonb language sql set search_path = public, extensions as $$
  with updated as (
    update inbox set reply = p_reply
    where id = p_id and lease_owner = p_owner and state = 'processing'
    returning id
  )
  select jsonb_build_object('updated', count(*)) from updated;
$$;

-- Records one sent part of a reply and advances the message's progress in the same statement, so a
-- crash between the two cannot happen.
create or replace function outbound_record(
  p_inbox_id bigint, p_channel text, p_conversation text, p_body text,
  p_provider_message_id text default null, p_status text default 'sent', p_error text default null
) returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  new_id bigint;
begin
  insert into outbound (inbox_id, channel, conversation, body, provider_message_id, status, error)
  values (p_inbox_id, p_channel, p_conversation, p_body, p_provider_message_id, p_status, p_error)
  returning id into new_id;
  if p_inbox_id is not null and p_status = 'sent' then
    update inbox set parts_sent = parts_sent + 1 where id = p_inbox_id;
  end if;
  return jsonb_build_object('id', new_id);
end $$;

-- Finishes a claimed message: answered, skipped (nothing to send), or failed for good.
create or replace function inbox_finish(p_id bigint, p_owner text, p_state text, p_error text default null)
returns jsonb language sql set search_path = public, extensions as $$
  with updated as (
    update inbox
    set state = p_state, last_error = p_error, finished_at = now(), lease_owner = null, lease_until = null
    where id = p_id and lease_owner = p_owner and state = 'processing'
      and p_state in ('answered', 'skipped', 'failed')
    returning id
  )
  select jsonb_build_object('updated', count(*)) from updated;
$$;

-- Puts a claimed message back for another try after p_delay_ms.
create or replace function inbox_retry(p_id bigint, p_owner text, p_error text, p_delay_ms int)
returns jsonb language sql set search_path = public, extensions as $$
  with updated as (
    update inbox
    set state = 'pending', last_error = p_error, lease_owner = null, lease_until = null,
        available_at = now() + make_interval(secs => p_delay_ms / 1000.0)
    where id = p_id and lease_owner = p_owner and state = 'processing'
    returning id
  )
  select jsonb_build_object('updated', count(*)) from updated;
$$;

-- Counts by state, for metrics and readiness.
create or replace function inbox_stats() returns jsonb language sql stable set search_path = public, extensions as $$
  select coalesce(jsonb_object_agg(state, n), '{}'::jsonb)
  from (select state, count(*) as n from inbox group by state) s;
$$;

-- History counts merged pieces as what the patient said.
create or replace function conversation_history(
  p_conversation text, p_limit int default 6, p_before_id bigint default null, p_since timestamptz default null
) returns jsonb language sql stable set search_path = public, extensions as $$
  select coalesce(jsonb_agg(jsonb_build_object('role', role, 'content', content, 'at', at) order by at, ord), '[]'::jsonb)
  from (
    select * from (
      select 'user' as role, body as content, received_at as at, id * 2 as ord
      from inbox
      where conversation = p_conversation and state in ('answered', 'merged') and kind in ('text', 'emergency')
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

-- Keeps the leases of messages still being worked on, so a slow answer is not claimed twice.
create or replace function inbox_extend_leases(p_ids jsonb, p_owner text, p_lease_seconds int)
returns jsonb language sql set search_path = public, extensions as $$
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
returns jsonb language sql set search_path = public, extensions as $$
  with updated as (
    update inbox set state = 'pending', lease_owner = null, lease_until = null, available_at = now()
    where state = 'processing' and lease_owner is distinct from p_owner
    returning id
  )
  select jsonb_build_object('released', count(*)) from updated;
$$;

-- Messages that could not be answered, newest first, for staff to follow up by hand.
create or replace function inbox_failures(p_limit int default 20)
returns jsonb language sql stable set search_path = public, extensions as $$
  select coalesce(jsonb_agg(jsonb_build_object(
      'id', id, 'channel', channel, 'providerMessageId', provider_message_id, 'attempts', attempts,
      'error', last_error, 'finishedAt', finished_at) order by id desc), '[]'::jsonb)
  from (select * from inbox where state = 'failed' order by id desc limit p_limit) failed;
$$;

-- The outbound parts a provider id belongs to, with their delivery status (staff follow-up, tests).
create or replace function outbound_for_provider_id(p_channel text, p_provider_message_id text)
returns jsonb language sql stable set search_path = public, extensions as $$
  select coalesce(jsonb_agg(jsonb_build_object('id', id, 'inboxId', inbox_id, 'status', status, 'error', error) order by id), '[]'::jsonb)
  from outbound where channel = p_channel and provider_message_id = p_provider_message_id;
$$;

-- A patient address's state (defaults when never set).
create or replace function patient_state_get(p_channel text, p_patient text)
returns jsonb language sql stable set search_path = public, extensions as $$
  select coalesce(
    (select jsonb_build_object('optedOut', opted_out, 'paused', paused, 'debug', debug, 'historyResetAt', history_reset_at)
     from patient_state where channel = p_channel and patient = p_patient),
    jsonb_build_object('optedOut', false, 'paused', false, 'debug', false, 'historyResetAt', null));
$$;

-- Changes some of a patient address's state: p_changes {optedOut?, paused?, debug?, resetHistory?}.
create or replace function patient_state_set(p_channel text, p_patient text, p_changes jsonb)
returns jsonb language plpgsql set search_path = public, extensions as $$
begin
  insert into patient_state (channel, patient) values (p_channel, p_patient) on conflict do nothing;
  update patient_state set
    opted_out = coalesce((p_changes ->> 'optedOut')::boolean, opted_out),
    paused = coalesce((p_changes ->> 'paused')::boolean, paused),
    debug = coalesce((p_changes ->> 'debug')::boolean, debug),
    history_reset_at = case when (p_changes ->> 'resetHistory')::boolean then now() else history_reset_at end,
    updated_at = now()
  where channel = p_channel and patient = p_patient;
  return patient_state_get(p_channel, p_patient);
end $$;

-- Resumes the bot for every address of one phone number (SMS, WhatsApp through Twilio, Meta wa_id).
create or replace function patient_state_resume(p_patients jsonb)
returns jsonb language sql set search_path = public, extensions as $$
  with updated as (
    update patient_state set paused = false, updated_at = now()
    where paused and patient in (select value #>> '{}' from jsonb_array_elements(p_patients))
    returning channel
  )
  select jsonb_build_object('resumed', count(*)) from updated;
$$;

-- Delivery reports from the providers (Twilio status callback, Meta statuses).
create or replace function delivery_status_record(p_channel text, p_provider_message_id text, p_status text, p_error text default null)
returns jsonb language plpgsql set search_path = public, extensions as $$
begin
  insert into delivery_status (channel, provider_message_id, status, error)
  values (p_channel, p_provider_message_id, p_status, p_error);
  update outbound set status = p_status, error = coalesce(p_error, error), updated_at = now()
  where channel = p_channel and provider_message_id = p_provider_message_id;
  return jsonb_build_object('recorded', true);
end $$;

-- ---------------------------------------------------------------------------------------------------
-- Search.

-- A question in everyday words, as an OR of its stemmed words: "when do I start my injections" must
-- find a passage about starting injections even though it does not contain "when".
create or replace function fts_query(p_text text) returns tsquery language sql immutable set search_path = public, extensions as $$
  select nullif(string_agg(quote_literal(lexeme), ' | '), '')::tsquery
  from unnest(tsvector_to_array(to_tsvector('english', coalesce(p_text, '')))) as lexeme;
$$;

-- Hybrid search: full-text and vector candidates fused by reciprocal rank (score = sum of 1/(k + rank)).
-- The vector side takes the nearest N with `order by embedding <=> q limit n`, the form the HNSW index
-- serves, and only then numbers those N rows. Without an embedding (offline mode) it is full-text only.
create or replace function hybrid_search(
  p_query text, p_embedding extensions.vector(1536) default null, p_match_count int default 5,
  p_candidates int default 30, p_rrf_k int default 60
) returns jsonb language sql stable set search_path = public, extensions as $$
  with q as (
    select fts_query(p_query) as tsq
  ), full_text as (
    select c.id, row_number() over (order by ts_rank_cd(c.fts, q.tsq) desc, c.id) as rank_ix
    from chunks c, q
    where q.tsq is not null and c.fts @@ q.tsq
    order by rank_ix
    limit p_candidates
  ), nearest as (
    select c.id, c.embedding <=> p_embedding as distance
    from chunks c
    where p_embedding is not null
    order by c.embedding <=> p_embedding
    limit p_candidates
  ), semantic as (
    select id, row_number() over (order by distance, id) as rank_ix from nearest
  ), fused as (
    select coalesce(f.id, s.id) as id,
           coalesce(1.0 / (p_rrf_k + f.rank_ix), 0.0) + coalesce(1.0 / (p_rrf_k + s.rank_ix), 0.0) as score,
           f.rank_ix as full_text_rank,
           s.rank_ix as semantic_rank
    from full_text f
    full outer join semantic s on s.id = f.id
  )
  select coalesce(jsonb_agg(jsonb_build_object(
      'id', c.id, 'documentId', c.document_id, 'source', d.source, 'title', c.title, 'heading', c.heading,
      'content', c.content, 'score', fused.score, 'fullTextRank', fused.full_text_rank,
      'semanticRank', fused.semantic_rank
    ) order by fused.score desc, c.id), '[]'::jsonb)
  from (select * from fused order by score desc, id limit p_match_count) fused
  join chunks c on c.id = fused.id
  join documents d on d.id = c.document_id;
$$;

-- ---------------------------------------------------------------------------------------------------
-- Ingestion.

-- Inserts or replaces one document and all its chunks, in one transaction. An unchanged document
-- (same content hash) is left alone. p_chunks: [{position, title, heading, content, contentHash, embedding?}]
create or replace function ingest_document(p_source text, p_title text, p_content_hash text, p_chunks jsonb)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  existing documents%rowtype;
  doc_id bigint;
  outcome text;
begin
  select * into existing from documents where source = p_source;
  if found and existing.content_hash = p_content_hash then
    return jsonb_build_object('documentId', existing.id, 'outcome', 'unchanged');
  end if;
  if found then
    update documents set title = p_title, content_hash = p_content_hash, updated_at = now()
    where id = existing.id;
    delete from chunks where document_id = existing.id;
    doc_id := existing.id;
    outcome := 'changed';
  else
    insert into documents (source, title, content_hash) values (p_source, p_title, p_content_hash)
    returning id into doc_id;
    outcome := 'added';
  end if;
  insert into chunks (document_id, position, title, heading, content, content_hash, embedding)
  select doc_id, (c ->> 'position')::int, c ->> 'title', coalesce(c ->> 'heading', ''), c ->> 'content',
         c ->> 'contentHash', nullif(c ->> 'embedding', '')::vector
  from jsonb_array_elements(p_chunks) as c;
  return jsonb_build_object('documentId', doc_id, 'outcome', outcome);
end $$;

create or replace function knowledge_stats() returns jsonb language sql stable set search_path = public, extensions as $$
  select jsonb_build_object(
    'documents', (select count(*) from documents),
    'chunks', (select count(*) from chunks),
    'embedded', (select count(*) from chunks where embedding is not null)
  );
$$;

-- Readiness: reachable, and this migration applied.
create or replace function service_health() returns jsonb language sql stable set search_path = public, extensions as $$
  select jsonb_build_object('ok', true, 'schema', '20261129000000_core');
$$;

-- On Supabase, PostgREST runs each request as the role named in the key (anon, authenticated or
-- service_role), and Supabase grants all three everything created in `public` by default, while
-- Postgres lets PUBLIC execute every new function. The anon key ships in client apps, so take it all
-- back: tables, sequences and functions are for service_role only. Functions run as the caller
-- (security invoker), so service_role needs the tables too. A later migration that adds a function or
-- table must end with this block again (test/integration/row-level-security.test.ts checks every
-- function and table in `public`). The roles do not exist in the embedded database, hence the check.
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon')
     and exists (select 1 from pg_roles where rolname = 'authenticated')
     and exists (select 1 from pg_roles where rolname = 'service_role') then
    revoke all on all tables in schema public from public, anon, authenticated;
    revoke all on all sequences in schema public from public, anon, authenticated;
    revoke execute on all functions in schema public from public, anon, authenticated;
    grant usage on schema public, extensions to service_role;
    grant select, insert, update, delete on all tables in schema public to service_role;
    grant usage, select on all sequences in schema public to service_role;
    grant execute on all functions in schema public to service_role;
  end if;
end $$;
