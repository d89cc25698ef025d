import type { Database } from '../db/database.ts';

export type Passage = {
  id: number;
  source: string;
  title: string;
  heading: string;
  content: string;
  score: number;
  fullTextRank: number | null;
  semanticRank: number | null;
};

export type ChunkInput = { position: number; title: string; heading: string; content: string; contentHash: string; embedding?: number[] };

/** Search and ingestion, as typed calls to the SQL functions in supabase/migrations. */
export function createKnowledge(db: Database) {
  return {
    /** Hybrid search; without an embedding, full-text only (offline mode). */
    async search(query: string, embedding: number[] | undefined, matchCount = 5): Promise<Passage[]> {
      return db.call('hybrid_search', { p_query: query, p_embedding: embedding, p_match_count: matchCount });
    },

    async ingestDocument(document: { source: string; title: string; contentHash: string; chunks: ChunkInput[] }) {
      return db.call<{ documentId: number; outcome: 'added' | 'changed' | 'unchanged' }>('ingest_document', {
        p_source: document.source,
        p_title: document.title,
        p_content_hash: document.contentHash,
        p_chunks: document.chunks,
      });
    },

    async stats(): Promise<{ documents: number; chunks: number; embedded: number }> {
      return db.call('knowledge_stats');
    },
  };
}

export type Knowledge = ReturnType<typeof createKnowledge>;
