-- Development only: the replies recorded for one conversation, for `npm run chat`. When no Twilio
-- credentials are set the service records replies in `outbound` instead of sending them, and the chat
-- reads them back through GET /dev/outbox (loopback only, and only while replies are kept locally).
--
-- Without p_after_id: the newest p_limit replies (a starting cursor). With it: the replies after it,
-- oldest first. A conversation's replies are recorded one at a time (the worker answers a conversation
-- in order), so their ids only grow and "after this id" never skips one.
create or replace function dev_outbox(p_conversation text, p_after_id bigint default null, p_limit int default 20)
returns jsonb language sql stable set search_path = public, extensions as $$
  select jsonb_build_object(
    'replies', coalesce(jsonb_agg(jsonb_build_object(
        'id', r.id, 'inboxId', r.inbox_id, 'body', r.body, 'status', r.status, 'createdAt', r.created_at
      ) order by r.id), '[]'::jsonb),
    'cursor', coalesce(max(r.id), p_after_id, 0)
  )
  from (
    select id, inbox_id, body, status, created_at
    from outbound
    where conversation = p_conversation and (p_after_id is null or id > p_after_id)
    order by case when p_after_id is null then -id else id end
    limit greatest(p_limit, 0)
  ) r;
$$;

-- Only the service role may call it. (A function created after the core migration's revoke is
-- executable by anon and authenticated under Supabase's default privileges, hence this again.)
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    revoke execute on function dev_outbox(text, bigint, int) from public, anon, authenticated;
    grant execute on function dev_outbox(text, bigint, int) to service_role;
  end if;
end $$;
