-- Patients write in their own language, and clinics write leaflets in theirs.
--
-- 1. Each chunk is indexed with the text search configuration of its own language (`text_search`,
--    chosen at ingestion from the document's detected or declared language; English for every chunk
--    stored before). A Spanish leaflet indexed as English keeps "inyecciones" unstemmed and misses
--    "inyección"; as Spanish both are "inyeccion".
-- 2. hybrid_search searches every chunk with the query parsed by that chunk's own configuration.
-- 3. The language each message was answered in is kept on its inbox row, so that a message that says
--    nothing about its language ("ok", a photo) is answered in the conversation's language.

alter table inbox add column if not exists language text;

alter table chunks add column if not exists text_search regconfig not null default 'english';
drop index if exists chunks_fts_gin;
alter table chunks drop column if exists fts;
alter table chunks add column fts tsvector generated always as (
  setweight(to_tsvector(text_search, title || ' ' || heading), 'A') ||
  setweight(to_tsvector(text_search, content), 'B')
) stored;
create index if not exists chunks_fts_gin on chunks using gin (fts);

-- As fts_query(text), in a given configuration.
create or replace function fts_query(p_text text, p_config regconfig) returns tsquery language sql immutable set search_path = public, extensions as $$
  select nullif(string_agg(quote_literal(lexeme), ' | '), '')::tsquery
  from unnest(tsvector_to_array(to_tsvector(p_config, coalesce(p_text, '')))) as lexeme;
$$;

-- As before, with p_text_search: the configurations chunks may be indexed with (["english","spanish"]),
-- each of which parses the query for its own chunks. A list rather than a scan of the chunks for their
-- configurations, which every question would pay for.
drop function if exists hybrid_search(text, extensions.vector, int, int, int);
create or replace function hybrid_search(
  p_query text, p_embedding extensions.vector(1536) default null, p_match_count int default 5,
  p_candidates int default 30, p_rrf_k int default 60, p_text_search jsonb default '["english"]'
) returns jsonb language sql stable set search_path = public, extensions as $$
  with q as (
    select cfg::regconfig as cfg, fts_query(p_query, cfg::regconfig) as tsq
    from jsonb_array_elements_text(coalesce(p_text_search, '["english"]')) as cfg
  ), full_text as (
    select c.id, row_number() over (order by ts_rank_cd(c.fts, q.tsq) desc, c.id) as rank_ix
    from chunks c
    join q on q.cfg = c.text_search
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
      'semanticRank', fused.semantic_rank, 'textSearch', c.text_search::text
    ) order by fused.score desc, c.id), '[]'::jsonb)
  from (select * from fused order by score desc, id limit p_match_count) fused
  join chunks c on c.id = fused.id
  join documents d on d.id = c.document_id;
$$;

-- The configurations the knowledge base is indexed with, and how many chunks each: the documents'
-- languages, which a question in another language is translated into before it is searched.
create or replace function knowledge_text_search() returns jsonb language sql stable set search_path = public, extensions as $$
  select coalesce(jsonb_agg(jsonb_build_object('textSearch', text_search::text, 'chunks', n) order by n desc), '[]'::jsonb)
  from (select text_search, count(*) as n from chunks group by text_search) s;
$$;

-- As before, with each chunk's `textSearch` (default english). p_chunks: [{position, title, heading,
-- content, contentHash, textSearch?}]
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

  insert into chunks (document_id, position, title, heading, content, content_hash, text_search, embedding)
  select doc_id, (c ->> 'position')::int, c ->> 'title', coalesce(c ->> 'heading', ''), c ->> 'content',
         c ->> 'contentHash', coalesce(c ->> 'textSearch', 'english')::regconfig,
         (select k.embedding from chunks k
          where k.content_hash = c ->> 'contentHash' and k.embedding is not null
          limit 1)
  from jsonb_array_elements(p_chunks) as c;

  delete from chunks where document_id = doc_id and position < 0;

  select count(*), count(embedding) into written, reused from chunks where document_id = doc_id;
  return jsonb_build_object('documentId', doc_id, 'outcome', outcome, 'chunks', written, 'reusedEmbeddings', reused);
end $$;

-- The language to answer message p_id in: p_detected when the message shows one, else the language of
-- the conversation's latest earlier message that had one, else null (the caller's default). Kept on
-- the row either way.
create or replace function inbox_language(p_id bigint, p_detected text)
returns jsonb language plpgsql set search_path = public, extensions as $$
declare
  chosen text := p_detected;
begin
  if chosen is null then
    select i.language into chosen
    from inbox i
    where i.conversation = (select conversation from inbox where id = p_id) and i.id < p_id and i.language is not null
    order by i.id desc
    limit 1;
  end if;
  update inbox set language = chosen where id = p_id and chosen is not null;
  return jsonb_build_object('language', chosen);
end $$;

-- As in the core migration: on Supabase only the service role may call the new functions.
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon')
     and exists (select 1 from pg_roles where rolname = 'authenticated')
     and exists (select 1 from pg_roles where rolname = 'service_role') then
    revoke execute on function fts_query(text, regconfig), hybrid_search(text, extensions.vector, int, int, int, jsonb),
      knowledge_text_search(), knowledge_replace_document(text, text, text, jsonb), inbox_language(bigint, text)
      from public, anon, authenticated;
    grant execute on function fts_query(text, regconfig), hybrid_search(text, extensions.vector, int, int, int, jsonb),
      knowledge_text_search(), knowledge_replace_document(text, text, text, jsonb), inbox_language(bigint, text)
      to service_role;
  end if;
end $$;
