import { pino } from 'pino';

import { loadConfig, type Config } from '../config.ts';
import { openDatabase, type OpenedDatabase } from '../db/open-database.ts';

export type CliIo = {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** The environment to read the config from (default: process.env, through loadConfig). */
  env?: Record<string, string | undefined>;
};

/**
 * The configured database for a command beside (or instead of) the service: Supabase runs beside it;
 * the embedded DATA_DIR refuses while the server holds it, with the lock's own message. Problems are
 * written to stderr and answered undefined (exit code 1).
 */
export async function openCliDatabase(io: CliIo): Promise<{ config: Config; opened: OpenedDatabase } | undefined> {
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
