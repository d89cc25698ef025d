import { applyMigrations } from '../../src/db/migrate.ts';
import { openPgliteDatabase } from '../../src/db/pglite/pglite-database.ts';
import { ingestPaths } from '../../src/knowledge/ingest-paths.ts';
import { createKnowledge } from '../../src/store/knowledge.ts';
import { fakeEmbedding } from '../fakes/fake-openai.ts';

export type FixtureKind = 'offline' | 'embedded';

/**
 * A migrated embedded database holding knowledge/, as a first start leaves it, dumped so that test
 * services can start from it in about a second instead of migrating and ingesting every time.
 * 'embedded' carries the embeddings the fake OpenAI would return (fakeEmbedding is what it computes),
 * so a service pointed at the fake finds exactly what it would have written itself.
 */
export async function buildKnowledgeFixture(kind: FixtureKind): Promise<Uint8Array> {
  const db = openPgliteDatabase({ dataDir: 'memory://' });
  try {
    await applyMigrations(db);
    const embedder = kind === 'embedded' ? { embed: async (texts: string[]) => texts.map((text) => fakeEmbedding(text)) } : undefined;
    const summary = await ingestPaths(['knowledge'], { knowledge: createKnowledge(db), embedder });
    if (summary.embeddingError) throw new Error(`fixture embedding failed: ${String(summary.embeddingError)}`);
    return await db.dump();
  } finally {
    await db.close();
  }
}
