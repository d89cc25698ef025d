import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Database } from './database.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { migrateEmbedded } from './migrate.ts';
import { openPgliteDatabase } from './pglite/pglite-database.ts';
import { checkSupabase } from './supabase/check-supabase.ts';
import { openSupabaseDatabase } from './supabase/supabase-database.ts';

export type OpenedDatabase = {
  db: Database;
  kind: 'embedded' | 'supabase';
  /** Closes the database and releases what it holds (the DATA_DIR lock). */
  close(): Promise<void>;
};

/**
 * The database the config asks for: Supabase when SUPABASE_URL is set (checked at once, never
 * migrated: that is `supabase db push`), else the embedded PGlite in DATA_DIR, locked against a
 * second process and migrated from supabase/migrations.
 */
export async function openDatabase(
  config: Pick<Config, 'dataDir' | 'supabase'>,
  options: { logger: Logger; loadDataDir?: Uint8Array },
): Promise<OpenedDatabase> {
  if (config.supabase) {
    const db = openSupabaseDatabase(config.supabase);
    try {
      await checkSupabase(db, config.supabase.url);
    } catch (error) {
      await db.close();
      throw error;
    }
    options.logger.info({ url: config.supabase.url }, 'using Supabase (migrations are applied with supabase db push)');
    return { db, kind: 'supabase', close: () => db.close() };
  }
  const unlock = config.dataDir.startsWith('memory://') ? () => {} : lockDataDir(config.dataDir);
  const db = openPgliteDatabase({ dataDir: config.dataDir, ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}) });
  const close = async () => {
    await db.close();
    unlock();
  };
  try {
    const applied = await migrateEmbedded(db);
    if (applied.length > 0) options.logger.info({ applied }, 'migrations applied');
  } catch (error) {
    await close();
    throw error;
  }
  return { db, kind: 'embedded', close };
}
