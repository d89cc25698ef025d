import postgres from 'postgres';

import { migratePostgres } from '../../src/db/postgres/migrate-postgres.ts';
import { openPostgresDatabase } from '../../src/db/postgres/postgres-database.ts';

/** A real PostgreSQL server for the tests that need one (`eval "$(../shared/tools/test-postgres start)"`). */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;

/** Why such a test is skipped, in one line. */
export const NO_TEST_DATABASE = 'skipped: TEST_DATABASE_URL is unset (../shared/tools/test-postgres start, or any PostgreSQL 15+ with pgvector)';

let counter = 0;

export type TestDatabase = { url: string; name: string; drop(): Promise<void> };

/**
 * A database of its own on the TEST_DATABASE_URL server, so that test files running at once never
 * share tables; migrated as `npm run migrate` does unless `migrate` is false. drop() removes it.
 */
export async function createTestDatabase(label: string, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  if (!TEST_DATABASE_URL) throw new Error(NO_TEST_DATABASE);
  const name = `clinic_${label}_${process.pid}_${++counter}`;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const parsed = new URL(TEST_DATABASE_URL);
  parsed.pathname = `/${name}`;
  const url = parsed.href;
  if (options.migrate !== false) {
    const db = openPostgresDatabase({ url, poolSize: 1 });
    try {
      await migratePostgres(db);
    } finally {
      await db.close();
    }
  }
  return {
    url,
    name,
    async drop() {
      const dropper = postgres(TEST_DATABASE_URL!, { max: 1, onnotice: () => {} });
      try {
        await dropper.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await dropper.end();
      }
    },
  };
}
