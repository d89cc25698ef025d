import type { Database } from './database.ts';
import { listMigrations } from './migrate.ts';
import { missingMigrations } from './missing-migrations.ts';

/**
 * GET /readyz: the database answers, and has applied every migration this code ships with. Not
 * ready while it starts, after it closes, or when the migrations have not caught up with a deploy.
 */
export async function createReadinessCheck(db: Database, directory?: string): Promise<() => Promise<boolean>> {
  const files = await listMigrations(directory);
  return async () => {
    try {
      return (await missingMigrations(db, files)).length === 0;
    } catch {
      return false;
    }
  };
}
