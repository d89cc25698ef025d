import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import type { PgliteDatabase } from './pglite/pglite-database.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../supabase/migrations/', import.meta.url));

/** The migration files, in the order they apply (their names start with a 14-digit timestamp). */
export async function listMigrations(directory = MIGRATIONS_DIR): Promise<string[]> {
  return (await readdir(directory)).filter((name) => name.endsWith('.sql')).sort();
}

/**
 * Applies supabase/migrations/*.sql to the embedded database in name order, each once, each in a
 * transaction. (On Supabase, `supabase db push` does the same from the same files.)
 */
export async function migrateEmbedded(db: Pick<PgliteDatabase, 'query' | 'exec'>, directory = MIGRATIONS_DIR): Promise<string[]> {
  await db.exec('create table if not exists schema_migrations (version text primary key, applied_at timestamptz not null default now())');
  const applied = new Set((await db.query<{ version: string }>('select version from schema_migrations')).map((r) => r.version));
  const files = await listMigrations(directory);
  const ran: string[] = [];
  for (const file of files) {
    const version = file.replace(/\.sql$/, '');
    if (applied.has(version)) continue;
    const sql = await readFile(`${directory}/${file}`, 'utf8');
    await db.exec(`begin;\n${sql}\n;insert into schema_migrations (version) values ('${version.replace(/'/g, "''")}');\ncommit;`);
    ran.push(version);
  }
  return ran;
}
