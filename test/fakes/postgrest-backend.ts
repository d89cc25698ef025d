import postgres from 'postgres';

import { applyMigrations } from '../../src/db/migrate.ts';
import { openPgliteDatabase } from '../../src/db/pglite/pglite-database.ts';
import { openPostgresDatabase, type SqlSession } from '../../src/db/postgres/postgres-database.ts';
import { SUPABASE_ROLES_IF_MISSING_SQL, SUPABASE_ROLES_SQL } from '../support/supabase-roles.ts';
import { createTestDatabase } from '../support/test-database.ts';

/** The database behind the fake PostgREST. */
export type PostgrestBackend = {
  /** SQL straight on the database, as its owner: the tests' back door. */
  db: SqlSession;
  /** Runs `work` in one transaction as `role` (read-only for a stable function), as PostgREST runs a request. */
  transaction<T>(options: { role: string; readOnly: boolean }, work: (session: SqlSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
};

/**
 * An embedded PGlite, or with `databaseUrl` a database of its own made on that server (dropped on
 * close): the API roles as Supabase has them, then migrated as `npm run migrate` does unless
 * `migrate` is false. PGlite has one connection, so its requests run one at a time; on a real server
 * each request holds a pooled connection, so requests run at once and contend as they do on Supabase.
 */
export async function openPostgrestBackend(options: { migrate: boolean; databaseUrl?: string | undefined; poolSize?: number }): Promise<PostgrestBackend> {
  return options.databaseUrl ? overPostgres(options.databaseUrl, options) : overPglite(options);
}

async function overPglite(options: { migrate: boolean }): Promise<PostgrestBackend> {
  const db = openPgliteDatabase({ dataDir: 'memory://' });
  await db.exec(SUPABASE_ROLES_SQL);
  if (options.migrate) await applyMigrations(db);
  // One connection: transactions must not interleave.
  let queue: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work);
    queue = run.catch(() => undefined);
    return run;
  };
  return {
    db,
    transaction: (transaction, work) => serially(() => inTransaction(db, transaction, work)),
    close: () => db.close(),
  };
}

async function overPostgres(url: string, options: { migrate: boolean; poolSize?: number }): Promise<PostgrestBackend> {
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(SUPABASE_ROLES_IF_MISSING_SQL).simple();
  } finally {
    await admin.end();
  }
  const database = await createTestDatabase('postgrest', { migrate: options.migrate });
  const db = openPostgresDatabase({ url: database.url, poolSize: options.poolSize ?? 8 });
  return {
    db,
    transaction: (transaction, work) => db.withSession((session) => inTransaction(session, transaction, work)),
    async close() {
      await db.close();
      await database.drop();
    },
  };
}

async function inTransaction<T>(session: SqlSession, options: { role: string; readOnly: boolean }, work: (session: SqlSession) => Promise<T>): Promise<T> {
  await session.exec(`begin${options.readOnly ? ' read only' : ''}; set local role ${options.role}`);
  try {
    const result = await work(session);
    await session.exec('commit');
    return result;
  } catch (error) {
    await session.exec('rollback');
    throw error;
  }
}
