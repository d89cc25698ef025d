import { AppError } from '../../app-error.ts';
import type { Database } from '../database.ts';
import { listMigrations } from '../migrate.ts';
import { missingMigrations } from '../missing-migrations.ts';

/**
 * At start on DATABASE_URL: the database answers and has every migration this code ships with, or
 * the start stops with a message naming what to do. The service never migrates a shared database by
 * itself (several instances start at once, and old ones may still run): `npm run migrate` does.
 */
export async function checkPostgres(db: Database, where: string, directory?: string): Promise<void> {
  let missing: string[];
  try {
    missing = await missingMigrations(db, await listMigrations(directory));
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    if (error.code === 'db_function_missing') {
      throw new AppError(`the database at DATABASE_URL (${where}) has no schema yet: run \`npm run migrate\` with the same DATABASE_URL`, { code: 'db_behind', cause: error });
    }
    throw new AppError(`DATABASE_URL (${where}) did not answer: ${error.message}`, { code: error.code, cause: error });
  }
  if (missing.length > 0) {
    throw new AppError(
      `the database at DATABASE_URL (${where}) is ${missing.length} migration${missing.length === 1 ? '' : 's'} behind this code (${missing.join(', ')}): run \`npm run migrate\` with the same DATABASE_URL`,
      { code: 'db_behind' },
    );
  }
}
