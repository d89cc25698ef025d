import { pino } from 'pino';

import { loadConfig, type Config } from '../config.ts';
import type { Database } from '../db/database.ts';
import { openDatabase, type OpenedDatabase } from '../db/open-database.ts';

export type CliIo = {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** The environment to read the config from (default: process.env, through loadConfig). */
  env?: Record<string, string | undefined>;
};

/**
 * The configured database for a command beside (or instead of) the service: PostgreSQL and Supabase run beside it;
 * the embedded DATA_DIR refuses while the server holds it, with the lock's own message. Problems are
 * written to stderr and answered undefined (exit code 1).
 */
async function openCliDatabase(io: CliIo): Promise<{ config: Config; opened: OpenedDatabase } | undefined> {
  let config: Config;
  try {
    config = loadConfig(io.env);
  } catch (error) {
    io.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return undefined;
  }
  try {
    const logger = pino({ level: 'warn', base: undefined }, { write: (line: string) => io.stderr.write(line) });
    return { config, opened: await openDatabase(config, { logger }) };
  } catch (error) {
    io.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return undefined;
  }
}

/**
 * Runs `work` on the configured database and closes it: exit code 0 when it succeeds, 1 when the
 * database could not be opened or the work failed (written as "Not <done>: <reason>").
 */
export async function withCliDatabase(io: CliIo, notDone: string, work: (db: Database) => Promise<void>): Promise<number> {
  const database = await openCliDatabase(io);
  if (!database) return 1;
  try {
    await work(database.opened.db);
    return 0;
  } catch (error) {
    io.stderr.write(`${notDone}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await database.opened.close();
  }
}
