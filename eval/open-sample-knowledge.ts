import type { Embedder } from '../src/ai/models.ts';
import { applyMigrations } from '../src/db/migrate.ts';
import { openPgliteDatabase } from '../src/db/pglite/pglite-database.ts';
import { ingestPaths } from '../src/knowledge/ingest-paths.ts';
import { createKnowledge, type Knowledge } from '../src/store/knowledge.ts';

/**
 * A fresh embedded database in memory holding the documents under `folder`, ingested as `npm run
 * ingest` would (sources relative to `cwd`), embedded when an embedder is given.
 */
export async function openSampleKnowledge(folder: string, options: { embedder?: Embedder | undefined; cwd?: string } = {}): Promise<{ knowledge: Knowledge; close: () => Promise<void> }> {
  const db = openPgliteDatabase({ dataDir: 'memory://' });
  try {
    await applyMigrations(db);
    const knowledge = createKnowledge(db);
    const summary = await ingestPaths([folder], { knowledge, embedder: options.embedder }, options.cwd ? { cwd: options.cwd } : {});
    if (summary.embeddingError) throw new Error(`embedding the documents failed: ${summary.embeddingError}`);
    if (summary.added === 0) throw new Error(`no documents could be read under ${folder}`);
    return { knowledge, close: () => db.close() };
  } catch (error) {
    await db.close();
    throw error;
  }
}
