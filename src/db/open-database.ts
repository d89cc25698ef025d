import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Database } from './database.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { applyMigrations } from './migrate.ts';
import { openPgliteDatabase } from './pglite/pglite-database.ts';

export type OpenedDatabase = {
  db: Database;
  /** `embedded`: this process alone; `postgres` and `supabase`: shared by every instance pointed at it. */
  kind: 'embedded' | 'postgres' | 'supabase';
  /** Closes the database and releases what it holds (the DATA_DIR lock, the pool). */
  close(): Promise<void>;
};

/**
 * The database the config asks for: a PostgreSQL server when DATABASE_URL is set (checked at once and
 * never migrated here: that is `npm run migrate`), Supabase when SUPABASE_URL is set (likewise:
 * `supabase db push`), else the embedded PGlite in DATA_DIR, locked against a second process and
 * migrated from supabase/migrations. The drivers of the other two are loaded only when used (the
 * Supabase client alone holds about 13 MB once loaded).
 */
export async function openDatabase(
  config: Pick<Config, 'dataDir' | 'supabase' | 'postgres'>,
  options: { logger: Logger; loadDataDir?: Uint8Array; migrationsDir?: string },
): Promise<OpenedDatabase> {
  if (config.postgres) {
    const [{ checkPostgres }, { describeDatabaseUrl, openPostgresDatabase }] = await Promise.all([
      import('./postgres/check-postgres.ts'),
      import('./postgres/postgres-database.ts'),
    ]);
    const where = describeDatabaseUrl(config.postgres.url);
    const db = await checked(openPostgresDatabase(config.postgres), (opened) => checkPostgres(opened, where, options.migrationsDir));
    options.logger.info({ database: where, poolSize: config.postgres.poolSize }, 'using PostgreSQL (migrations are applied with npm run migrate)');
    return { db, kind: 'postgres', close: () => db.close() };
  }
  if (config.supabase) {
    const [{ checkSupabase }, { openSupabaseDatabase }] = await Promise.all([
      import('./supabase/check-supabase.ts'),
      import('./supabase/supabase-database.ts'),
    ]);
    const url = config.supabase.url;
    const db = await checked(openSupabaseDatabase(config.supabase), (opened) => checkSupabase(opened, url));
    options.logger.info({ url }, 'using Supabase (migrations are applied with supabase db push)');
    return { db, kind: 'supabase', close: () => db.close() };
  }
  const unlock = config.dataDir.startsWith('memory://') ? () => {} : lockDataDir(config.dataDir);
  const db = openPgliteDatabase({ dataDir: config.dataDir, ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}) });
  const close = async () => {
    await db.close();
    unlock();
  };
  try {
    const applied = await applyMigrations(db, options.migrationsDir);
    if (applied.length > 0) options.logger.info({ applied }, 'migrations applied');
  } catch (error) {
    await close();
    throw error;
  }
  return { db, kind: 'embedded', close };
}

/** The database once `check` passed; closed when it did not, so that a failed start leaves nothing open. */
async function checked<T extends Database>(db: T, check: (db: T) => Promise<void>): Promise<T> {
  try {
    await check(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}
