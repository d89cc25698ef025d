import { applyMigrations } from '../src/db/migrate.ts';
import { openPgliteDatabase } from '../src/db/pglite/pglite-database.ts';
import { ingestPaths } from '../src/knowledge/ingest-paths.ts';
import { createKnowledge } from '../src/store/knowledge.ts';
import { fakeEmbedder } from './fake-embedder.ts';
import type { Fakes } from './start-fakes.ts';

/**
 * The sample documents in knowledge/, chunked and embedded (by the fake OpenAI) into an embedded
 * database, dumped: each benchmark service starts from this in about a second instead of ingesting.
 */
export async function knowledgeFixture(fakes: Fakes): Promise<Uint8Array> {
  const db = openPgliteDatabase({ dataDir: 'memory://' });
  try {
    await applyMigrations(db);
    const summary = await ingestPaths(['knowledge'], { knowledge: createKnowledge(db), embedder: fakeEmbedder(fakes) });
    if (summary.missingEmbeddings > 0 || summary.chunksWritten === 0) throw new Error(`could not build the knowledge fixture: ${JSON.stringify(summary)}`);
    return await db.dump();
  } finally {
    await db.close();
  }
}
