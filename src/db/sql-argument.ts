/**
 * A call() argument as the transports that speak SQL send it: as Postgres text of no declared type, so
 * that the function's declared parameter type decides. A number array becomes a pgvector literal
 * ('[1,2,3]' is valid vector input) and an object or array becomes jsonb, just as PostgREST does with
 * the JSON body of an rpc() call.
 */
export function toSqlArgument(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (typeof value === 'object') return JSON.stringify(value);
  // A lone surrogate is not text Postgres can hold (and PGlite's protocol writer miscounts its UTF-8
  // length, which would cut the end off the statement): it becomes U+FFFD, as TextEncoder would make it.
  if (typeof value === 'string') return value.toWellFormed();
  return value;
}
