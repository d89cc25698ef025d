import type { PGlite } from '@electric-sql/pglite';

export type PlanNode = {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  Plans?: PlanNode[];
};

/**
 * The JSON plans auto_explain reports while `sql` runs, statements inside SQL functions included:
 * auto_explain logs the plan of every statement (log_nested_statements) and, at log_level notice,
 * sends it to this client. `analyze` adds what each node actually did (Actual Rows). The PGlite must
 * have been created with the auto_explain extension.
 */
export async function explainedPlans(
  pg: PGlite,
  sql: string,
  params: unknown[],
  options: { analyze?: boolean } = {},
): Promise<{ text: string; plan: PlanNode }[]> {
  await pg.exec(`
    load 'auto_explain';
    set auto_explain.log_min_duration = 0;
    set auto_explain.log_nested_statements = on;
    set auto_explain.log_format = json;
    set auto_explain.log_level = notice;
    set auto_explain.log_analyze = ${options.analyze ? 'on' : 'off'};
  `);
  const notices: string[] = [];
  try {
    await pg.query(sql, params, { onNotice: (notice) => notices.push(notice.message ?? '') });
  } finally {
    await pg.exec('set auto_explain.log_min_duration = -1');
  }
  return notices.map((notice) => {
    const logged = JSON.parse(notice.slice(notice.indexOf('{'))) as { 'Query Text': string; Plan: PlanNode };
    return { text: logged['Query Text'], plan: logged.Plan };
  });
}

/** Every node of a plan, depth first. */
export function planNodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(planNodes)];
}
