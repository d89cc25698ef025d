import { Worker } from 'node:worker_threads';

import { AppError } from '../../app-error.ts';
import { assertFunctionName, type Database } from '../database.ts';
import { functionMissingError, sqlError } from '../database-error.ts';
import { toSqlArgument } from '../sql-argument.ts';

type ThreadError = { message: string; code?: string; detail?: string; hint?: string };

type ThreadReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: ThreadError };

export type PgliteDatabase = Database & {
  /** Runs SQL on the embedded database directly: migrations, tests and EXPLAIN. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  exec(sql: string): Promise<void>;
  /** The whole data directory as a tar, for fast test fixtures (`loadDataDir`). */
  dump(): Promise<Uint8Array>;
  /** Runs the database thread below the main thread's priority from now on (see pglite-thread.mjs). */
  lowerPriority(): Promise<void>;
};

/**
 * The embedded database, run on a worker thread (pglite-thread.mjs) so that no query ever blocks the
 * event loop that answers webhooks. Queries are handed over in order and answered in order.
 */
export function openPgliteDatabase(options: { dataDir: string; loadDataDir?: Uint8Array }): PgliteDatabase {
  const worker = new Worker(new URL('./pglite-thread.mjs', import.meta.url), { workerData: options });
  // `fn` is set for call(): an undefined-function error then names the function that is missing.
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; fn?: string }>();
  let nextId = 1;
  let closed: Error | undefined;

  const failAll = (error: Error) => {
    closed = error;
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };
  worker.on('message', (reply: ThreadReply) => {
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    if (reply.ok) waiter.resolve(reply.result);
    else waiter.reject(toAppError(reply.error, waiter.fn));
  });
  worker.on('error', (error) =>
    failAll(new AppError(`embedded database failed: ${error.message}`, { code: 'db_unavailable', cause: error })),
  );
  worker.on('exit', () => failAll(new AppError('embedded database is closed', { code: 'db_closed' })));

  const send = (op: string, sql?: string, params?: unknown[], fn?: string): Promise<unknown> => {
    if (closed) return Promise.reject(closed);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject, ...(fn ? { fn } : {}) });
      worker.postMessage({ id, op, sql, params });
    });
  };

  return {
    serial: true,
    async call<T>(fn: string, args: Record<string, unknown> = {}): Promise<T> {
      assertFunctionName(fn);
      const names = Object.keys(args);
      for (const name of names) assertFunctionName(name);
      const params = names.map((name) => toSqlArgument(args[name]));
      // A call goes as one simple-protocol query with its arguments as literals: PGlite runs a query
      // with parameters as six protocol steps (parse, describe, bind, describe, execute, sync), each a
      // trip into WebAssembly: an inbox_enqueue took 1.09 ms that way against 0.79 ms now, round trip
      // (bench/diagnose-enqueue.ts; the thread serves every webhook). Text with NUL cannot be a literal: such a
      // call keeps its parameters, and Postgres rejects the NUL as it would anyway.
      const literal = !params.some((param) => typeof param === 'string' && param.includes('\u0000'));
      const list = names.map((name, index) => `${name} => ${literal ? toLiteral(params[index]) : `$${index + 1}`}`).join(', ');
      const sql = `select public.${fn}(${list}) as result`;
      const rows = (await (literal ? send('simple', sql, undefined, fn) : send('query', sql, params, fn))) as { result: T }[];
      if (!rows[0] || !('result' in rows[0])) throw new AppError(`embedded database: ${fn} answered without a result`, { code: 'db_error' });
      return rows[0].result;
    },
    async query<T>(sql: string, params: unknown[] = []) {
      return (await send('query', sql, params)) as T[];
    },
    async exec(sql: string) {
      await send('exec', sql);
    },
    async dump() {
      return (await send('dump')) as Uint8Array;
    },
    async lowerPriority() {
      await send('lower-priority');
    },
    async close() {
      if (closed) return;
      await send('close').catch(() => undefined);
      await worker.terminate();
    },
  };
}

/**
 * A value as a Postgres literal of unknown type, so that the function's declared parameter type
 * decides, exactly as for an untyped parameter. The thread turns standard_conforming_strings on, so
 * a doubled quote is the only escape a literal needs (backslashes are ordinary characters).
 */
function toLiteral(param: unknown): string {
  if (param === null) return 'null';
  return `'${String(param).replaceAll("'", "''")}'`;
}

/** The same AppErrors as the Supabase transport gives for the same situations (see database-error.ts). */
function toAppError(error: ThreadError, fn: string | undefined): AppError {
  const fields = { code: error.code, message: error.message, details: error.detail, hint: error.hint };
  // 42883 is also "operator does not exist"; only a call() names a function the schema may lack.
  if (fn && error.code === '42883') return functionMissingError(fn, fields);
  return sqlError(fields);
}
