import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../supabase/migrations/', import.meta.url));

/** SQL on one database session (the embedded database, or one connection held from a pool). */
export type MigrationSession = {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  exec(sql: string): Promise<void>;
};

/** The migration files, in the order they apply (their names start with a 14-digit timestamp). */
export async function listMigrations(directory = MIGRATIONS_DIR): Promise<string[]> {
  return (await readdir(directory)).filter((name) => name.endsWith('.sql')).sort();
}

/**
 * Applies supabase/migrations/*.sql in name order, each once, each in a transaction, and records each
 * in public.schema_migrations (version = the file name without .sql; applied_at). Used on the
 * embedded database at every start and by `npm run migrate` on DATABASE_URL (under an advisory lock,
 * see migrate-postgres.ts). On Supabase, `supabase db push` does the same from the same files.
 */
export async function applyMigrations(db: MigrationSession, directory = MIGRATIONS_DIR): Promise<string[]> {
  await db.exec('create table if not exists public.schema_migrations (version text primary key, applied_at timestamptz not null default now())');
  const applied = new Set((await db.query<{ version: string }>('select version from public.schema_migrations')).map((r) => r.version));
  const files = await listMigrations(directory);
  const ran: string[] = [];
  for (const file of files) {
    const version = file.replace(/\.sql$/, '');
    if (applied.has(version)) continue;
    const sql = await readFile(`${directory}/${file}`, 'utf8');
    try {
      await db.exec(`begin;\n${sql}\n;insert into public.schema_migrations (version) values ('${version.replace(/'/g, "''")}');\ncommit;`);
    } catch (error) {
      // A failed statement leaves the session inside an aborted transaction: end it, so that the
      // session (the embedded database has only one) is usable again.
      await db.exec('rollback').catch(() => undefined);
      throw new Error(`migration ${file} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    ran.push(version);
  }
  return ran;
}
