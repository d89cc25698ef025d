import type { Database } from './database.ts';

/**
 * The migration files (from listMigrations) this database has not applied, compared by their 14-digit
 * timestamp: the embedded migrator and `npm run migrate` record file names, the Supabase CLI the
 * timestamps alone; SQL function applied_migrations answers both the same way.
 */
export async function missingMigrations(db: Database, files: string[]): Promise<string[]> {
  const applied = new Set(await db.call<string[]>('applied_migrations'));
  return files.filter((file) => !applied.has(file.slice(0, 14)));
}
