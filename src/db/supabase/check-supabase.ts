import { AppError } from '../../app-error.ts';
import type { Database } from '../database.ts';
import { RUN_THE_MIGRATIONS } from '../database-error.ts';

/**
 * Calls service_health once at start, so that a wrong key, a wrong URL or a schema that was never
 * pushed stops the start with a message naming what to fix, instead of failing on the first patient.
 * The service never migrates Supabase itself: that is `supabase db push`, run by whoever deploys.
 */
export async function checkSupabase(db: Database, url: string): Promise<void> {
  try {
    await db.call('service_health');
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    throw new AppError(startMessage(error, url), { code: error.code, cause: error, details: error.details });
  }
}

function startMessage(error: AppError, url: string): string {
  switch (error.code) {
    case 'db_auth_rejected':
      return `SUPABASE_SERVICE_ROLE_KEY was rejected by SUPABASE_URL (${url}): use the project's service_role key, not the anon key. ${error.message}`;
    case 'db_unreachable':
    case 'db_timeout':
      return `SUPABASE_URL (${url}) is unreachable: ${error.message}`;
    case 'db_unavailable':
      return `SUPABASE_URL (${url}) is not available right now: ${error.message}`;
    case 'db_function_missing':
      return `the database at SUPABASE_URL (${url}) has no function service_health: ${RUN_THE_MIGRATIONS} with \`supabase db push\` (the service does not migrate Supabase itself), and check that SUPABASE_SERVICE_ROLE_KEY is the service_role key`;
    default:
      return `SUPABASE_URL (${url}) did not answer like a Supabase project: ${error.message}`;
  }
}
