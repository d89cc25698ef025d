import { pathToFileURL } from 'node:url';

import { pino } from 'pino';

import { loadConfig, readDotEnv } from '../config.ts';
import { listMigrations } from '../db/migrate.ts';
import { openDatabase } from '../db/open-database.ts';
import { migratePostgres } from '../db/postgres/migrate-postgres.ts';
import { describeDatabaseUrl, openPostgresDatabase } from '../db/postgres/postgres-database.ts';
import type { CliIo } from './open-cli-database.ts';

const USAGE = `Usage: npm run migrate

Applies supabase/migrations to the configured database, each file once, in order, each in a
transaction, and records them in schema_migrations. On DATABASE_URL it holds an advisory lock
meanwhile, so two deploys that migrate at once apply each file once. Run it before starting a version
that ships new migrations: the service refuses to start on a database behind its code. The embedded
database (DATA_DIR) is migrated at every start anyway; Supabase through its REST API is migrated
with \`supabase db push\`, or with this command given the project's connection string as DATABASE_URL.`;

/** `npm run migrate`: exit code 0 when the database is up to date, 1 when it could not be migrated, 2 for a usage error. */
export async function runMigrateCli(argv: string[], io: CliIo & { migrationsDir?: string }): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (argv.length > 0) {
    io.stderr.write(`unknown argument: ${argv[0]}\n\n${USAGE}\n`);
    return 2;
  }
  try {
    const config = loadConfig(io.env);
    const total = (await listMigrations(io.migrationsDir)).length;
    if (config.postgres) {
      const db = openPostgresDatabase(config.postgres);
      try {
        const applied = await migratePostgres(db, io.migrationsDir);
        io.stdout.write(report(describeDatabaseUrl(config.postgres.url), applied, total));
      } finally {
        await db.close();
      }
      return 0;
    }
    if (config.supabase) {
      io.stderr.write('SUPABASE_URL reaches the REST API, which cannot run migrations: run `supabase db push`, or set DATABASE_URL to the project\'s connection string (and unset SUPABASE_URL) to migrate with this command.\n');
      return 1;
    }
    // The embedded database migrates itself when opened (refused while the server holds DATA_DIR).
    const logger = pino({ level: 'silent' });
    const opened = await openDatabase(config, { logger, ...(io.migrationsDir ? { migrationsDir: io.migrationsDir } : {}) });
    await opened.close();
    io.stdout.write(`${config.dataDir}: up to date (${total} migrations; the embedded database applies them itself at every start).\n`);
    return 0;
  } catch (error) {
    io.stderr.write(`Not migrated: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

function report(where: string, applied: string[], total: number): string {
  if (applied.length === 0) return `${where}: up to date (${total} migrations), nothing to apply.\n`;
  return `${where}: applied ${applied.length} migration${applied.length === 1 ? '' : 's'}:\n${applied.map((version) => `  ${version}\n`).join('')}up to date (${total} migrations).\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  readDotEnv();
  process.exitCode = await runMigrateCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
}
