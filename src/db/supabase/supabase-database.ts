import { createClient, type SupabaseClientOptions } from '@supabase/supabase-js';
import WebSocket from 'ws';

import { AppError } from '../../app-error.ts';
import { assertFunctionName, type Database } from '../database.ts';
import { functionMissingError, isSqlState, sqlError, type DatabaseErrorFields } from '../database-error.ts';

/**
 * Below Twilio's 15 s webhook limit: an inbox_enqueue that hangs fails in time for the webhook to
 * answer with an error, and Twilio delivers the message again later.
 */
export const DEFAULT_SUPABASE_TIMEOUT_MS = 8_000;

/**
 * supabase-js 2.109 throws at createClient on Node 20 unless given a WebSocket implementation, even
 * though this service never opens a realtime channel. `ws` is that implementation; its typings and
 * realtime-js's disagree on DOM event types only, hence the cast.
 */
type RealtimeTransport = NonNullable<NonNullable<SupabaseClientOptions<'public'>['realtime']>['transport']>;

/** What rpc() resolves to: supabase-js reports failures here instead of throwing. */
type RpcOutcome = { data: unknown; error: Partial<DatabaseErrorFields> | null; status: number };

/**
 * Supabase as a Database: each call is `POST /rest/v1/rpc/<fn>` with the named arguments as the JSON
 * body, answered by PostgREST with the function's jsonb result, exactly what the embedded transport
 * returns. Failures become the same AppErrors the embedded transport raises, plus the network ones
 * (unreachable, timeout, 5xx), which are retryable: supabase-js never retries a POST rpc() itself.
 */
export function openSupabaseDatabase(options: { url: string; serviceRoleKey: string; timeoutMs?: number }): Database {
  const timeoutMs = options.timeoutMs ?? DEFAULT_SUPABASE_TIMEOUT_MS;
  const client = createClient(options.url, options.serviceRoleKey, {
    // A server with a fixed key: no user session to keep or refresh.
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket as unknown as RealtimeTransport },
  });

  return {
    async call<T>(fn: string, args: Record<string, unknown> = {}): Promise<T> {
      assertFunctionName(fn);
      // A signal per call rather than a fetch wrapper: `signal.aborted` then tells a timeout apart
      // from other network failures without reading the text postgrest-js puts in the error.
      const signal = AbortSignal.timeout(timeoutMs);
      const outcome = (await client.rpc(fn, args).abortSignal(signal)) as RpcOutcome;
      if (outcome.error) throw toAppError(fn, outcome, { timedOut: signal.aborted, timeoutMs, url: options.url });
      return outcome.data as T;
    },
    async close() {
      await client.removeAllChannels();
    },
  };
}

function toAppError(fn: string, outcome: RpcOutcome, context: { timedOut: boolean; timeoutMs: number; url: string }): AppError {
  const { status } = outcome;
  const fields: DatabaseErrorFields = {
    code: outcome.error?.code || undefined,
    // A gateway answers 502/504 with an HTML page, which postgrest-js puts in `message`.
    message: (outcome.error?.message ?? '').slice(0, 500),
    details: outcome.error?.details,
    hint: outcome.error?.hint,
  };
  if (context.timedOut) {
    return new AppError(`Supabase did not answer ${fn} within ${context.timeoutMs} ms`, { code: 'db_timeout', retryable: true, details: { ...fields } });
  }
  // Status 0: no HTTP answer at all (refused, reset, DNS); postgrest-js puts the cause in `details`.
  if (status === 0) {
    return new AppError(`Supabase at ${context.url} is unreachable: ${fields.message}`, { code: 'db_unreachable', retryable: true, details: { ...fields } });
  }
  if (fields.code === 'PGRST202') return functionMissingError(fn, fields);
  // 401 from the API gateway (apikey) or PostgREST (JWT); 403 when the key's role may not do this.
  if (status === 401 || status === 403) {
    return new AppError(`Supabase rejected the key (${status}): ${fields.message}${fields.hint ? ` (${fields.hint})` : ''}`, {
      code: 'db_auth_rejected',
      details: { status, ...fields },
    });
  }
  if (isSqlState(fields.code)) return sqlError(fields);
  // PostgREST's own 5xx (PGRST000-003: no connection to Postgres, schema cache loading) and gateways'.
  if (status >= 500) {
    return new AppError(`Supabase answered ${status} to ${fn}: ${fields.message}`, { code: 'db_unavailable', retryable: true, details: { status, ...fields } });
  }
  return new AppError(`Supabase refused ${fn} (${status}${fields.code ? `, ${fields.code}` : ''}): ${fields.message}`, {
    code: 'db_error',
    details: { status, ...fields },
  });
}
