import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';

import type { PgliteDatabase } from '../src/db/pglite/pglite-database.ts';

/**
 * For contrast only: PGlite on the calling (main) thread, as it would be without pglite-thread.mjs.
 * The same calls as the real transport (arguments as text, objects as JSON), without its error mapping.
 */
export async function openMainThreadDatabase(): Promise<PgliteDatabase> {
  const pg = await PGlite.create({ dataDir: 'memory://', extensions: { vector } });
  const query = async <T>(sql: string, params: unknown[] = []) => (await pg.query<T>(sql, params)).rows;
  return {
    async call<T>(fn: string, args: Record<string, unknown> = {}) {
      const names = Object.keys(args);
      const values = names.map((name) => args[name]).map((value) => (value !== null && typeof value === 'object' ? JSON.stringify(value) : (value ?? null)));
      const rows = await query<{ result: T }>(`select public.${fn}(${names.map((name, index) => `${name} => $${index + 1}`).join(', ')}) as result`, values);
      return rows[0]!.result;
    },
    query,
    exec: async (sql) => void (await pg.exec(sql)),
    dump: async () => new Uint8Array(await (await pg.dumpDataDir('none')).arrayBuffer()),
    // One thread for everything here: there is no database thread to lower.
    lowerPriority: async () => {},
    close: () => pg.close(),
  };
}
