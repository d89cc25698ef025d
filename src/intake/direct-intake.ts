import type { Logger } from '../logger.ts';
import type { Inbox } from '../store/inbox.ts';
import type { Intake, OnStored } from './intake.ts';
import { logStored } from './log-stored.ts';

/**
 * Each message stored in the inbox before the webhook is answered. Used on a database server
 * (DATABASE_URL, Supabase): several instances may write the inbox, and the writes run on the server's
 * cores, in parallel, not on a thread of this process.
 */
export function createDirectIntake(options: { inbox: Inbox; logger: Logger; onStored: OnStored }): Intake {
  const { inbox, logger } = options;
  return {
    async accept(arrivals) {
      let stored = 0;
      let urgent = false;
      for (const { message, rateLimit } of arrivals) {
        const result = await inbox.enqueue(message, rateLimit);
        if (!result.duplicate) stored++;
        if (!result.duplicate && message.kind === 'emergency') urgent = true;
        logStored(logger, message, result);
      }
      if (stored > 0) options.onStored({ urgent });
    },
    waiting: 0,
    replayed: Promise.resolve(),
    stop: async () => ({ left: 0 }),
  };
}
