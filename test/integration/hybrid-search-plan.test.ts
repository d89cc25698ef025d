import { PGlite } from '@electric-sql/pglite';
import { auto_explain } from '@electric-sql/pglite/contrib/auto_explain';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { applyMigrations } from '../../src/db/migrate.ts';
import { explainedPlans as explainedPlansOf, type PlanNode } from '../support/explained-plans.ts';

/**
 * Proves that hybrid_search's vector side is the nearest-N form the HNSW index serves, on the plan of
 * the function's own query rather than a copy of it (auto_explain, see test/support/explained-plans.ts).
 * PGlite runs here on the test thread (not the service's worker thread) to load auto_explain.
 *
 * With a few dozen rows the planner rightly prefers a sequential scan, and filling enough rows to
 * change its mind takes minutes of HNSW inserts in WebAssembly, so sequential scans are switched off:
 * what is left to prove is the query's shape. Even so, the form in Supabase's documentation
 * (`row_number() over (order by distance)`, then `limit`) reads the whole index under a WindowAgg,
 * where HNSW returns only ef_search candidates; the nearest-N form puts a Limit right on the index scan.
 */
describe('hybrid_search plan on the embedded database', () => {
  let pg: PGlite;
  const query = `[${Array.from({ length: 1536 }, (_, i) => Math.sin(i)).join(',')}]`;

  beforeAll(async () => {
    pg = await PGlite.create({ extensions: { vector, auto_explain } });
    await applyMigrations({ query: async (sql, params) => (await pg.query<never>(sql, params)).rows, exec: async (sql) => void (await pg.exec(sql)) });
    await pg.exec(`
      insert into documents (source, title, content_hash) values ('plan.md', 'Plan', 'h');
      insert into chunks (document_id, position, title, content, content_hash, embedding)
      select 1, g, 'Passage ' || g, 'stimulation injections, passage ' || g, 'h' || g,
             (select array_agg(random() - 0.5) from generate_series(1, 1536) where g > 0)::extensions.vector
      from generate_series(1, 60) g;
      analyze chunks;
      set enable_seqscan = off;
    `);
  });
  afterAll(async () => {
    await pg?.close();
  });
  const explainedPlans = (sql: string, params: unknown[]) => explainedPlansOf(pg, sql, params);

  /** The node types above each scan of the HNSW index, from the top of the plan down. */
  function pathsToHnsw(node: PlanNode, above: string[] = []): string[][] {
    const here = [...above, node['Node Type']];
    const found = node['Index Name'] === 'chunks_embedding_hnsw' ? [above] : [];
    return [...found, ...(node.Plans ?? []).flatMap((child) => pathsToHnsw(child, here))];
  }

  it('when hybrid_search runs with an embedding, then its vector side is a Limit right on an index scan of chunks_embedding_hnsw', async () => {
    const plans = await explainedPlans(`select public.hybrid_search(p_query => 'injections', p_embedding => $1) as result`, [query]);
    const body = plans.find((p) => p.text.includes('nearest as ('));
    expect(body, 'the plan of hybrid_search’s own query').toBeDefined();
    const paths = pathsToHnsw(body!.plan);
    expect(paths).toHaveLength(1);
    expect(paths[0]!.at(-1)).toBe('Limit');
  });

  it('when the ranking is numbered over the distance first, as in Supabase’s documented hybrid_search, then no Limit sits on the index scan', async () => {
    const plans = await explainedPlans(
      `select id, row_number() over (order by embedding operator(extensions.<=>) $1::extensions.vector) as rank_ix
       from chunks order by rank_ix limit 30`,
      [query],
    );
    // The index is scanned, but to feed the window function all of its rows, not the nearest 30.
    expect(plans.flatMap((p) => pathsToHnsw(p.plan)).map((path) => path.at(-1))).toEqual(['WindowAgg']);
  });
});
