/**
 * The three roles PostgREST switches to on Supabase, as Supabase creates them (NOLOGIN NOINHERIT;
 * service_role bypasses row-level security). Created in an embedded database before migrating, they
 * make the migration's grants take effect there as they do on Supabase.
 */
export const SUPABASE_ROLES_SQL = `
  create role anon nologin noinherit;
  create role authenticated nologin noinherit;
  create role service_role nologin noinherit bypassrls;
`;
