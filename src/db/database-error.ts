import { AppError } from '../app-error.ts';

/** An error as Postgres reports it, in PostgREST's JSON shape (`details`, not `detail`). */
export type DatabaseErrorFields = {
  code?: string | undefined;
  message: string;
  details?: string | null | undefined;
  hint?: string | null | undefined;
};

export const RUN_THE_MIGRATIONS = 'run the migrations in supabase/migrations';

/**
 * SQLSTATE classes another try may cure: connection exception (08), transaction rollback such as a
 * deadlock (40), insufficient resources (53), operator intervention such as a cancelled query or a
 * restarting server (57). Every other SQL error (a violated constraint, a bad argument) would fail the
 * same way again.
 */
const TRANSIENT_SQLSTATE_CLASSES = new Set(['08', '40', '53', '57']);

/** True for a five-character Postgres SQLSTATE (PostgREST's own codes are `PGRST` and three digits). */
export function isSqlState(code: string | undefined): code is string {
  return code !== undefined && /^[0-9A-Z]{5}$/.test(code);
}

/** The function is not in the schema: the same error from both transports (42883 embedded, PGRST202 on Supabase). */
export function functionMissingError(fn: string, fields: DatabaseErrorFields): AppError {
  return new AppError(`database function public.${fn} is missing: ${RUN_THE_MIGRATIONS}`, {
    code: 'db_function_missing',
    details: { ...fields },
  });
}

/** A SQL error raised by the database: the same error from both transports. */
export function sqlError(fields: DatabaseErrorFields): AppError {
  // Postgres `details` can quote the row ("Failing row contains (…)", a patient's message in it): it
  // stays in `details`, which the log serializer drops, and out of the message, which it keeps.
  const parts = [`database error ${fields.code ?? '(no code)'}: ${fields.message}`];
  if (fields.hint) parts.push(`hint: ${fields.hint}`);
  return new AppError(parts.join('; '), {
    code: 'db_error',
    retryable: isSqlState(fields.code) && TRANSIENT_SQLSTATE_CLASSES.has(fields.code.slice(0, 2)),
    details: { ...fields },
  });
}
