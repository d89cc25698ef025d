import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { AppError } from '../../src/app-error.ts';
import type { SqlSession } from '../../src/db/postgres/postgres-database.ts';
import { openPostgrestBackend } from './postgrest-backend.ts';

export type FakePostgrestCall = { fn: string; args: unknown; status?: number };

export type FakePostgrest = {
  /** http://127.0.0.1:PORT — stands in for SUPABASE_URL (https://<project>.supabase.co) */
  url: string;
  /** the key it accepts, as `apikey` and as `Authorization: Bearer` (the service_role key) */
  serviceRoleKey: string;
  /**
   * SQL on the database behind it, as its owner: an embedded PGlite, or a database of its own on the
   * `databaseUrl` server; roles as on Supabase, migrated unless started with migrate: false
   */
  db: SqlSession;
  /** every rpc request, in arrival order; `status` once answered */
  calls: FakePostgrestCall[];
  /**
   * Decide a failure per call, once its body is read: an HTTP status to answer with (503 as PostgREST
   * does while its schema cache loads), 'hang' never to answer, or undefined to run the function.
   */
  failWith: ((call: FakePostgrestCall) => number | 'hang' | undefined) | undefined;
  /** the most requests whose transactions were open at once since the start or reset(): 1 over PGlite */
  maxConcurrent: number;
  /** clears calls, failWith and maxConcurrent */
  reset(): void;
  close(): Promise<void>;
};

export const DEFAULT_SERVICE_ROLE_KEY = 'fake-service-role-key';

type ErrorBody = { code?: string | null; details?: string | null; hint?: string | null; message: string };
type Proc = { names: string[] | null; nargs: number; ndefaults: number; volatility: string; types: string[] };

/**
 * A small PostgREST (behind Supabase's API gateway) on 127.0.0.1: `POST /rest/v1/rpc/<fn>` runs
 * `public.<fn>` on an embedded database migrated from supabase/migrations, the way PostgREST does:
 * the function is looked up by name and argument names (else 404 PGRST202), the JSON body becomes
 * typed arguments through json_to_record, the request runs in a transaction as the key's role
 * (read-only for stable functions), and SQL errors come back as {code, message, details, hint} with
 * PostgREST's HTTP status for the SQLSTATE. With `databaseUrl` (TEST_DATABASE_URL) it runs over a
 * database of its own on that real server, each request on its own pooled connection: the Supabase
 * path then meets real concurrency (row locks, SKIP LOCKED, serialisation) instead of PGlite's one
 * connection, which runs every request after the last.
 */
export async function startFakePostgrest(options: { migrate?: boolean; serviceRoleKey?: string; databaseUrl?: string | undefined } = {}): Promise<FakePostgrest> {
  const serviceRoleKey = options.serviceRoleKey ?? DEFAULT_SERVICE_ROLE_KEY;
  const backend = await openPostgrestBackend({ migrate: options.migrate !== false, databaseUrl: options.databaseUrl });
  const db = backend.db;
  let open = 0;

  const fake: FakePostgrest = {
    url: '',
    serviceRoleKey,
    db,
    calls: [],
    failWith: undefined,
    maxConcurrent: 0,
    reset() {
      fake.calls = [];
      fake.failWith = undefined;
      fake.maxConcurrent = 0;
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await backend.close();
    },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, body: unknown, call?: FakePostgrestCall) => {
      if (call) call.status = status;
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    const raw = await readBody(req);
    const match = /^\/rest\/v1\/rpc\/([^/?]+)$/.exec(new URL(req.url ?? '/', 'http://localhost').pathname);
    if (req.method !== 'POST' || !match) {
      return send(404, { code: 'PGRST125', details: null, hint: null, message: 'Invalid path specified in request URL' });
    }
    // The API gateway checks `apikey` before the request reaches PostgREST.
    const apikey = req.headers.apikey;
    if (!apikey) return send(401, { message: 'No API key found in request', hint: 'No `apikey` request header or url param was found.' });
    if (apikey !== serviceRoleKey) return send(401, { message: 'Invalid API key', hint: 'Double check your Supabase `anon` or `service_role` API key.' });
    // PostgREST verifies the JWT in Authorization and runs as its role; without one, as anon.
    const authorization = req.headers.authorization;
    if (authorization !== undefined && authorization !== `Bearer ${serviceRoleKey}`) {
      return send(401, { code: 'PGRST301', details: null, hint: null, message: 'JWSError JWSInvalidSignature' });
    }
    const role = authorization === undefined ? 'anon' : 'service_role';

    const fn = decodeURIComponent(match[1]!);
    let args: Record<string, unknown> = {};
    try {
      args = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      return send(400, { code: 'PGRST102', details: null, hint: null, message: 'Empty or invalid json' });
    }
    const call: FakePostgrestCall = { fn, args };
    fake.calls.push(call);

    const failure = fake.failWith?.(call);
    if (failure === 'hang') return;
    if (failure !== undefined) {
      const body =
        failure === 503
          ? { code: 'PGRST002', details: null, hint: null, message: 'Could not query the database for the schema cache. Retrying.' }
          : { message: `fake PostgREST failure ${failure}` };
      return send(failure, body, call);
    }

    const keys = Object.keys(args).sort();
    const proc = (await findProcs(db, fn)).find((candidate) => accepts(candidate, keys));
    if (!proc) return send(404, noFunctionError(fn, keys), call);

    const types = new Map((proc.names ?? []).map((name, index) => [name, proc.types[index]!]));
    const sql =
      keys.length === 0
        ? `select public.${quote(fn)}() as result`
        : `select public.${quote(fn)}(${keys.map((k) => `${quote(k)} := _.${quote(k)}`).join(', ')}) as result
           from json_to_record($1::json) as _(${keys.map((k) => `${quote(k)} ${types.get(k)}`).join(', ')})`;
    const readOnly = proc.volatility !== 'v';
    try {
      const result = await backend.transaction({ role, readOnly }, async (session) => {
        fake.maxConcurrent = Math.max(fake.maxConcurrent, ++open);
        try {
          const rows = await session.query<{ result: unknown }>(sql, keys.length === 0 ? [] : [JSON.stringify(args)]);
          return rows[0]?.result ?? null;
        } finally {
          open--;
        }
      });
      send(200, result, call);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      const fields = error.details as ErrorBody;
      const body: ErrorBody = { code: fields.code ?? null, details: fields.details ?? null, hint: fields.hint ?? null, message: fields.message };
      send(statusForSqlState(fields.code ?? '', role), body, call);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) return res.destroy();
      res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ message: `fake PostgREST internal error: ${String(error)}` }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

/** PostgREST's schema cache, read fresh for each call: the public functions of that name. */
async function findProcs(db: SqlSession, fn: string): Promise<Proc[]> {
  return db.query<Proc>(
    `select p.proargnames as names, p.pronargs as nargs, p.pronargdefaults as ndefaults, p.provolatile as volatility,
            array(select format_type(t.oid, null) from unnest(p.proargtypes::oid[]) with ordinality as t(oid, n) order by t.n) as types
     from pg_proc p where p.pronamespace = 'public'::regnamespace and p.proname = $1`,
    [fn],
  );
}

/** A function matches when every key names one of its arguments and every argument without a default is given. */
function accepts(proc: Proc, keys: string[]): boolean {
  const names = proc.names ?? [];
  const required = names.slice(0, proc.nargs - proc.ndefaults);
  return keys.every((key) => names.includes(key)) && required.every((name) => keys.includes(name));
}

function noFunctionError(fn: string, keys: string[]): ErrorBody {
  const signature = keys.length === 0 ? ' without parameters' : `(${keys.join(', ')})`;
  const searched = keys.length === 0 ? ' without parameters' : ` with parameters ${keys.join(', ')}`;
  return {
    code: 'PGRST202',
    details: `Searched for the function public.${fn}${searched} or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.`,
    hint: null,
    message: `Could not find the function public.${fn}${signature} in the schema cache`,
  };
}

/** PostgREST's table from SQLSTATE to HTTP status (docs.postgrest.org, "Errors"); anything else is 400. */
const STATUS_BY_SQLSTATE: Record<string, number> = {
  '23503': 409, '23505': 409, '25006': 405, '53400': 500, P0001: 400, '42883': 404, '42P01': 404, '42P17': 500,
  '08': 503, '09': 500, '0L': 403, '0P': 403, '25': 500, '28': 403, '2D': 500, '38': 500, '39': 500, '3B': 500,
  '40': 500, '53': 503, '54': 500, '55': 500, '57': 500, '58': 500, F0: 500, HV: 500, P0: 500, XX: 500,
};

function statusForSqlState(code: string, role: string): number {
  // Insufficient privilege: 401 for the anonymous role, 403 for a role that authenticated.
  if (code === '42501') return role === 'anon' ? 401 : 403;
  return STATUS_BY_SQLSTATE[code] ?? STATUS_BY_SQLSTATE[code.slice(0, 2)] ?? 400;
}

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
