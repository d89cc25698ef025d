import type { PgliteDatabase } from './pglite-database.ts';

/**
 * Runs the statements every webhook and every answer runs, a few hundred times, in a transaction
 * that is rolled back: the database thread's WebAssembly and JavaScript compile their hot paths now,
 * before /readyz says ready, rather than while the first webhooks wait (a fresh process otherwise
 * answered its first second of webhooks in up to half a second; see BENCHMARKS.md, table 9).
 * Nothing is left behind: the rows, the claims and the sequence are all inside the rollback except
 * the identity values the inserts took, which are only numbers skipped.
 */
export async function warmUpDatabase(db: Pick<PgliteDatabase, 'exec'>, rounds = 300): Promise<void> {
  await db.exec(`
    begin;
    select public.inbox_enqueue(
      p_channel => 'twilio', p_provider_message_id => 'warm-up-' || g, p_conversation => 'twilio:warm-up:' || (g % 30),
      p_patient => 'warm-up-' || (g % 30), p_business => 'warm-up', p_body => 'When do I start my injections?',
      p_kind => 'text', p_rate_limit => 20, p_rate_window_seconds => 60)
    from generate_series(1, ${rounds}) g;
    select public.inbox_claim(p_owner => 'warm-up', p_lease_seconds => 1, p_limit => 30);
    select public.conversation_history(p_conversation => 'twilio:warm-up:' || g, p_limit => 6) from generate_series(1, 30) g;
    select public.inbox_stats() from generate_series(1, 10);
    rollback;
  `);
}
