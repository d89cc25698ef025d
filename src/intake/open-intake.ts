import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Inbox } from '../store/inbox.ts';
import { createDirectIntake } from './direct-intake.ts';
import type { Intake, OnStored } from './intake.ts';
import { journalPathsFor, openJournalFile } from './journal-file.ts';
import { createJournalIntake } from './journal-intake.ts';

/**
 * Where webhooks put messages before their 200. On the embedded database, a journal: a file beside a
 * data directory on disk (locked to this process with it, see data-dir-lock.ts), a queue in memory
 * for `memory://`. On a database server (DATABASE_URL, Supabase) the inbox itself: there several
 * instances share it, its writes run on the server's cores, and no thread of this process waits.
 */
export function openIntake(options: {
  database: 'embedded' | 'postgres' | 'supabase';
  dataDir: string;
  inbox: Inbox;
  logger: Logger;
  metrics: Metrics;
  onStored: OnStored;
}): Intake {
  const { database, dataDir, ...parts } = options;
  if (database !== 'embedded') return createDirectIntake(parts);
  if (dataDir.startsWith('memory://')) return createJournalIntake(parts);
  return createJournalIntake({ ...parts, file: openJournalFile(journalPathsFor(dataDir)) });
}
