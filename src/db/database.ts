/**
 * The database as the service sees it: named SQL functions from supabase/migrations, each called with
 * named arguments and answering JSON. Two transports implement it (embedded PGlite, Supabase rpc());
 * nothing above this type can tell which one it has.
 */
export type Database = {
  call<T = unknown>(fn: string, args?: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
  /**
   * True when calls run one at a time whatever the caller does (the embedded database, one thread):
   * then grouping calls that wait saves work and costs no waiting. Supabase runs calls in parallel.
   */
  readonly serial?: boolean;
};

const FUNCTION_NAME = /^[a-z_][a-z0-9_]*$/;

export function assertFunctionName(fn: string): void {
  if (!FUNCTION_NAME.test(fn)) throw new Error(`not a SQL function name: ${JSON.stringify(fn)}`);
}
