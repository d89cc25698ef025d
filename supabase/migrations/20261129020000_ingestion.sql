-- Ingestion: `npm run ingest` and the first start of an empty embedded database.
--
-- A chunk's content_hash is the SHA-256 of the exact text that is embedded (title, heading path and
-- content), so two chunks with the same hash have the same embedding, whichever document they are in.
-- That is what lets a changed document keep the embeddings of its unchanged chunks, and a second run
-- over unchanged files make no embedding call at all.
--
-- List arguments are jsonb arrays rather than text[]: PostgREST passes a JSON body through as jsonb,
-- and the embedded transport sends objects as JSON text, so one declaration serves both transports.

create index if not exists chunks_content_hash on chunks (content_hash);
-- The backfill walks the chunks that lack an embedding in id order.
create index if not exists chunks_missing_embedding on chunks (id) where embedding is null;

-- Every stored document with its content hash and how many of its chunks lack an embedding.
create or replace function knowledge_documents() returns jsonb language sql stable set search_path = public, extensions as $$
  select coalesce(jsonb_agg(jsonb_build_object(
      'source', d.source, 'title', d.title, 'contentHash', d.content_hash,
      'chunks', s.chunks, 'missingEmbeddings', s.missing
    ) order by d.source), '[]'::jsonb)
  from documents d
  cross join lateral (
    select count(*) as chunks, count(*) filter (where c.embedding is null) as missing
    from chunks c where c.document_id = d.id
  ) s;
$$;

-- Inserts or replaces one document and its chunks, in one transaction; only this document's chunks
-- are touched. Each new chunk takes the embedding of any stored chunk with the same content hash (its
-- own old version, or a copy in another document), so only new text is left to embed (embedding
-- null, picked up by chunks_missing_embeddings). An unchanged document (same hash and title) is left
-- alone. p_chunks: [{position, title, heading, content, contentHash}]
create or replace function knowledge_replace_document(p_source text, p_title text, p_content_hash text, p_chunks jsonb)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  existing documents%rowtype;
  doc_id bigint;
  outcome text;
  written int;
  reused int;
begin
  select * into existing from documents where source = p_source for update;
  if found and existing.content_hash = p_content_hash and existing.title = p_title then
    return jsonb_build_object('documentId', existing.id, 'outcome', 'unchanged', 'chunks', 0, 'reusedEmbeddings', 0);
  end if;
  if found then
    update documents set title = p_title, content_hash = p_content_hash, updated_at = now() where id = existing.id;
    doc_id := existing.id;
    outcome := 'changed';
    -- Out of the way of the new positions (unique (document_id, position)), but still readable below.
    update chunks set position = -position - 1 where document_id = doc_id;
  else
    insert into documents (source, title, content_hash) values (p_source, p_title, p_content_hash)
    returning id into doc_id;
    outcome := 'added';
  end if;

  insert into chunks (document_id, position, title, heading, content, content_hash, embedding)
  select doc_id, (c ->> 'position')::int, c ->> 'title', coalesce(c ->> 'heading', ''), c ->> 'content',
         c ->> 'contentHash',
         (select k.embedding from chunks k
          where k.content_hash = c ->> 'contentHash' and k.embedding is not null
          limit 1)
  from jsonb_array_elements(p_chunks) as c;

  delete from chunks where document_id = doc_id and position < 0;

  select count(*), count(embedding) into written, reused from chunks where document_id = doc_id;
  return jsonb_build_object('documentId', doc_id, 'outcome', outcome, 'chunks', written, 'reusedEmbeddings', reused);
end $$;

-- Deletes the named documents and their chunks. p_sources: ["knowledge/old.md", …]
create or replace function knowledge_prune(p_sources jsonb) returns jsonb language sql set search_path = public, extensions as $$
  with removed as (
    delete from documents
    where source in (select jsonb_array_elements_text(coalesce(p_sources, '[]'::jsonb)))
    returning source
  )
  select jsonb_build_object('removed', coalesce(jsonb_agg(source order by source), '[]'::jsonb)) from removed;
$$;

-- Chunks without an embedding, in id order after p_after_id (keyset paging: a chunk that cannot be
-- embedded is not fetched again in the same run).
create or replace function chunks_missing_embeddings(p_limit int, p_after_id bigint default 0)
returns jsonb language sql stable set search_path = public, extensions as $$
  select coalesce(jsonb_agg(jsonb_build_object(
      'id', id, 'title', title, 'heading', heading, 'content', content, 'contentHash', content_hash
    ) order by id), '[]'::jsonb)
  from (
    select id, title, heading, content, content_hash
    from chunks
    where embedding is null and id > coalesce(p_after_id, 0)
    order by id
    limit p_limit
  ) missing;
$$;

-- Stores embeddings by content hash, on every chunk with that hash that still lacks one.
-- p_items: [{contentHash, embedding}], embedding a pgvector literal '[0.1,…]' (or a JSON array of numbers).
create or replace function chunks_set_embeddings(p_items jsonb) returns jsonb language sql set search_path = public, extensions as $$
  with items as (
    select distinct on (i ->> 'contentHash') i ->> 'contentHash' as content_hash, (i ->> 'embedding')::vector as embedding
    from jsonb_array_elements(p_items) as i
  ), updated as (
    update chunks c set embedding = items.embedding
    from items
    where c.content_hash = items.content_hash and c.embedding is null
    returning c.id
  )
  select jsonb_build_object('updated', count(*)) from updated;
$$;

-- Which of the given content hashes already have an embedding somewhere (for --dry-run's estimate).
create or replace function chunks_embedded_hashes(p_hashes jsonb) returns jsonb language sql stable set search_path = public, extensions as $$
  select coalesce(jsonb_agg(distinct c.content_hash), '[]'::jsonb)
  from chunks c
  where c.embedding is not null
    and c.content_hash in (select jsonb_array_elements_text(coalesce(p_hashes, '[]'::jsonb)));
$$;

-- As in the core migration: on Supabase only the service role may call these functions. A grant or
-- revoke covers the functions that exist when it runs, so each migration that adds some repeats it.
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
