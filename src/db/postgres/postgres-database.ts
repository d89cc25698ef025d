import postgres from 'postgres';

import { AppError } from '../../app-error.ts';
import { assertFunctionName, type Database } from '../database.ts';
import { functionMissingError, sqlError } from '../database-error.ts';
import { toSqlArgument } from '../sql-argument.ts';

/**
 * Below Twilio's 15 s webhook limit, as on Supabase: an inbox_enqueue that hangs fails in time for the
 * webhook to answer with an error, and Twilio delivers the message again later.
 */
export const DEFAULT_POSTGRES_TIMEOUT_MS = 8_000;

/** SQL run directly on one connection: migrations, and tests' back doors. */
export type SqlSession = {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** One or more statements, through the simple protocol (a migration file as it is). */
  exec(sql: string): Promise<void>;
};

export type PostgresDatabase = Database &
  SqlSession & {
    /** Holds one connection of the pool for `work`, so that session state (an advisory lock) stays with it. */
    withSession<T>(work: (session: SqlSession) => Promise<T>): Promise<T>;
  };

/** The driver's own codes for a connection that failed or went away, and Node's socket errors. */
const CONNECTION_ERRORS = new Set([
  'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED',
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE',
]);

/**
 * Any PostgreSQL 15+ with pgvector, through the `postgres` driver and a pool of `poolSize`
 * connections: each call is `select public.<fn>(p_a => $1, …)`, answered with the function's jsonb,
 * exactly what the other transports return, and failures become the same AppErrors.
 */
export function openPostgresDatabase(options: { url: string; poolSize: number; timeoutMs?: number }): PostgresDatabase {
  const timeoutMs = options.timeoutMs ?? DEFAULT_POSTGRES_TIMEOUT_MS;
  const where = describeDatabaseUrl(options.url);
  const sql = postgres(options.url, {
    max: options.poolSize,
    connect_timeout: 5,
    // Connections a quiet instance does not use go back to the server (managed Postgres counts them).
    idle_timeout: 60,
    // No named prepared statements: a transaction-mode pooler (PgBouncer, Supabase's pooled port 6543)
    // hands each statement to any server connection, where a statement prepared on another is unknown.
    prepare: false,
    // Notices ("extension vector already exists, skipping") are not the operator's business.
    onnotice: () => {},
    connection: { application_name: 'clinic-assistant' },
    types: {
      // call() hands json and jsonb arguments over as JSON text already (toSqlArgument, shared with the
      // embedded transport): the driver's own serializer would encode that text a second time.
      jsonText: { to: 3802, from: [114, 3802], serialize: (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value)), parse: (text: string) => JSON.parse(text) as unknown },
    },
  });

  const run = async <T>(query: postgres.PendingQuery<postgres.Row[]>, fn: string | undefined): Promise<T[]> => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        // Cancelled on the server too (a new connection sends the cancel), so that it frees its slot.
        void Promise.resolve(query.cancel()).catch(() => undefined);
        reject(new AppError(`PostgreSQL did not answer ${fn ?? 'a query'} within ${timeoutMs} ms`, { code: 'db_timeout', retryable: true }));
      }, timeoutMs);
    });
    try {
      return (await Promise.race([query, timedOut])) as unknown as T[];
    } catch (error) {
      throw toAppError(error, fn, where);
    } finally {
      clearTimeout(timer);
    }
  };

  const sessionOf = (connection: postgres.Sql): SqlSession => ({
    // Sessions run migrations and tests' statements: no timeout (an index build may take minutes).
    query: async <T>(text: string, params: unknown[] = []) => {
      try {
        return (await connection.unsafe(text, params as postgres.ParameterOrJSON<never>[])) as unknown as T[];
      } catch (error) {
        throw toAppError(error, undefined, where);
      }
    },
    exec: async (text: string) => {
      try {
        await connection.unsafe(text).simple();
      } catch (error) {
        throw toAppError(error, undefined, where);
      }
    },
  });

  return {
    ...sessionOf(sql),
    async call<T>(fn: string, args: Record<string, unknown> = {}): Promise<T> {
      assertFunctionName(fn);
      const names = Object.keys(args);
      for (const name of names) assertFunctionName(name);
      const list = names.map((name, index) => `${name} => $${index + 1}`).join(', ');
      const params = names.map((name) => toSqlArgument(args[name])) as postgres.ParameterOrJSON<never>[];
      const rows = await run<{ result: T }>(sql.unsafe(`select public.${fn}(${list}) as result`, params), fn);
      if (!rows[0] || !('result' in rows[0])) throw new AppError(`PostgreSQL: ${fn} answered without a result`, { code: 'db_error' });
      return rows[0].result;
    },
    async withSession<T>(work: (session: SqlSession) => Promise<T>): Promise<T> {
      let reserved: postgres.ReservedSql;
      try {
        reserved = await sql.reserve();
      } catch (error) {
        throw toAppError(error, undefined, where);
      }
      try {
        return await work(sessionOf(reserved));
      } finally {
        reserved.release();
      }
    },
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}

/** The URL without its password, for messages and logs: `postgres://user@host:port/database`. */
export function describeDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.username ? `${decodeURIComponent(parsed.username)}@` : ''}${parsed.host}${parsed.pathname}`;
  } catch {
    return '(an unparsable DATABASE_URL)';
  }
}

/** The same AppErrors as the other transports give for the same situations (see database-error.ts). */
function toAppError(error: unknown, fn: string | undefined, where: string): unknown {
  if (error instanceof AppError) return error;
  if (error instanceof postgres.PostgresError) {
    const fields = { code: error.code, message: error.message, details: error.detail, hint: error.hint };
    // 42883 is also "operator does not exist"; only a call() names a function the schema may lack.
    if (fn && error.code === '42883') return functionMissingError(fn, fields);
    // 28P01 wrong password, 28000 no such role or not allowed by pg_hba.conf.
    if (error.code.startsWith('28')) return new AppError(`PostgreSQL at ${where} refused the login: ${error.message}`, { code: 'db_auth_rejected', details: fields });
    if (error.code === '57014' && fn) return new AppError(`PostgreSQL cancelled ${fn}: ${error.message}`, { code: 'db_timeout', retryable: true, details: fields });
    return sqlError(fields);
  }
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_ERRORS.has(code)) {
    return new AppError(`PostgreSQL at ${where} is unreachable (${code})`, { code: 'db_unreachable', retryable: true, cause: error });
  }
  return new AppError(`PostgreSQL at ${where}: ${error instanceof Error ? error.message : String(error)}`, { code: 'db_error', cause: error });
}
