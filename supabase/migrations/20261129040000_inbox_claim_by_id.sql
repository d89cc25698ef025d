-- inbox_claim, finding the messages whose turn it is by walking the open ones in id order instead of
-- sorting all of them.
--
-- The core version worked out every conversation's oldest open message (`distinct on (conversation)`
-- over all pending and processing rows: a sort of the whole backlog) before taking the first few, so
-- each claim cost time in proportion to the backlog: on the embedded database, 14 ms with 1,000
-- messages pending, 24 ms with 5,000 and 36 ms with 20,000. The embedded database runs one query at a
-- time, so every webhook queued behind a claim waited as long (npm run bench, see BENCHMARKS.md).
--
-- Now the open messages are read in id order through a partial index, and a message is its
-- conversation's turn when no earlier message of that conversation is still open; emergencies, which
-- do not wait for their turn, and expired leases are read through partial indexes of their own. Everything else is as in
-- the core version: same signature, the same messages claimed, emergencies first, the unbroken run of
-- text merged into its head, poison messages given up.

create index if not exists inbox_open_by_id on inbox (id) where state in ('pending', 'processing');
create index if not exists inbox_open_emergency on inbox (id)
  where kind = 'emergency' and state in ('pending', 'processing');
-- For giving up poison messages without reading the backlog: only leases that have run out.
create index if not exists inbox_processing_lease on inbox (lease_until) where state = 'processing';

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

  with emergencies as (
    -- An emergency does not wait for its conversation's turn: its fixed reply and the staff alert go
    -- out while an earlier answer may still be generating.
    select i.id, true as urgent
    from inbox i
    where i.kind = 'emergency' and i.state in ('pending', 'processing')
      and ((i.state = 'pending' and i.available_at <= now())
        or (i.state = 'processing' and i.lease_until < now()))
    order by i.id
    limit p_limit
    for update of i skip locked
  ), heads as (
    -- An emergency can be its conversation's head too: it stays urgent however it was found.
    select i.id, i.kind = 'emergency' as urgent
    from inbox i
    where i.state in ('pending', 'processing')
      and ((i.state = 'pending' and i.available_at <= now())
        or (i.state = 'processing' and i.lease_until < now()))
      and not exists (
        select 1 from inbox earlier
        where earlier.conversation = i.conversation and earlier.state in ('pending', 'processing')
          and earlier.id < i.id
      )
    order by i.id
    limit p_limit
    for update of i skip locked
  ), claimable as (
    select id from (select * from emergencies union all select * from heads) picked
    group by id
    order by bool_or(urgent) desc, id
    limit p_limit
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

-- No grants block: `create or replace` keeps the function's grants, and indexes have none.
