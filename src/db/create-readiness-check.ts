import type { Database } from './database.ts';
import { listMigrations } from './migrate.ts';

/**
 * GET /readyz: the database answers, and has applied every migration this code ships with. Not
 * ready while it starts, after it closes, or when `supabase db push` has not caught up with a deploy.
 */
export async function createReadinessCheck(db: Database, directory?: string): Promise<() => Promise<boolean>> {
  const expected = (await listMigrations(directory)).map((file) => file.slice(0, 14));
  return async () => {
    try {
      const applied = new Set(await db.call<string[]>('applied_migrations'));
      return expected.every((version) => applied.has(version));
    } catch {
      return false;
    }
  };
}
