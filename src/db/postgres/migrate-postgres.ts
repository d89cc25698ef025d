import { applyMigrations, MIGRATIONS_DIR } from '../migrate.ts';
import type { PostgresDatabase } from './postgres-database.ts';

/**
 * `npm run migrate` on DATABASE_URL: the migrations, applied on one connection that holds an advisory
 * lock meanwhile, so that two deploys (or two instances' release steps) that migrate at the same time
 * apply each file once; the second waits, then finds nothing left to do. A session lock, not a
 * transaction one: each file has its own transaction. It goes with the connection if the process dies.
 */
export async function migratePostgres(db: PostgresDatabase, directory = MIGRATIONS_DIR): Promise<string[]> {
  return db.withSession(async (session) => {
    await session.exec("select pg_advisory_lock(hashtext('clinic-assistant migrate'))");
    try {
      return await applyMigrations(session, directory);
    } finally {
      await session.exec("select pg_advisory_unlock(hashtext('clinic-assistant migrate'))").catch(() => undefined);
    }
  });
}
