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
  /** The text search configuration of the passage's language (english, spanish…). */
  textSearch?: string;
};

/** `textSearch`: the configuration the chunk is indexed with, its document's language (default english). */
export type ChunkInput = { position: number; title: string; heading: string; content: string; contentHash: string; textSearch?: string; embedding?: number[] };

export type StoredDocument = { source: string; title: string; contentHash: string; chunks: number; missingEmbeddings: number };

export type ChunkToEmbed = { id: number; title: string; heading: string; content: string; contentHash: string };

/** Search and ingestion, as typed calls to the SQL functions in supabase/migrations. */
export function createKnowledge(db: Database) {
  return {
    /**
     * Hybrid search; without an embedding, full-text only (offline mode). `textSearch` lists the
     * configurations chunks may be indexed with: each parses the query for its own chunks.
     */
    async search(query: string, embedding: number[] | undefined, options: { matchCount?: number; textSearch?: string[] } = {}): Promise<Passage[]> {
      return db.call('hybrid_search', { p_query: query, p_embedding: embedding, p_match_count: options.matchCount ?? 5, p_text_search: options.textSearch ?? ['english'] });
    },

    /** The configurations the chunks are indexed with (the documents' languages), most chunks first. */
    async textSearchConfigurations(): Promise<{ textSearch: string; chunks: number }[]> {
      return db.call('knowledge_text_search');
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

    async listDocuments(): Promise<StoredDocument[]> {
      return db.call('knowledge_documents');
    },

    /**
     * Writes a document's chunks, without embeddings: chunks whose content hash is already embedded
     * anywhere keep that embedding; the others wait for chunksMissingEmbeddings.
     */
    async replaceDocument(document: { source: string; title: string; contentHash: string; chunks: Omit<ChunkInput, 'embedding'>[] }) {
      return db.call<{ documentId: number; outcome: 'added' | 'changed' | 'unchanged'; chunks: number; reusedEmbeddings: number }>(
        'knowledge_replace_document',
        { p_source: document.source, p_title: document.title, p_content_hash: document.contentHash, p_chunks: document.chunks },
      );
    },

    async prune(sources: string[]): Promise<{ removed: string[] }> {
      return db.call('knowledge_prune', { p_sources: sources });
    },

    /** Chunks that lack an embedding, in id order after `afterId`. */
    async chunksMissingEmbeddings(limit: number, afterId = 0): Promise<ChunkToEmbed[]> {
      return db.call('chunks_missing_embeddings', { p_limit: limit, p_after_id: afterId });
    },

    /** Stores each embedding on every chunk with that content hash that lacks one. */
    async setEmbeddings(items: { contentHash: string; embedding: number[] }[]): Promise<{ updated: number }> {
      // Each vector as a pgvector literal in a JSON string: as a JSON array its 1,536 numbers would be
      // parsed into jsonb numerics and printed back before the cast, about twice the work.
      return db.call('chunks_set_embeddings', {
        p_items: items.map((item) => ({ contentHash: item.contentHash, embedding: `[${item.embedding.join(',')}]` })),
      });
    },

    /** The given content hashes that already have an embedding somewhere. */
    async embeddedHashes(hashes: string[]): Promise<string[]> {
      return db.call('chunks_embedded_hashes', { p_hashes: hashes });
    },
  };
}

export type Knowledge = ReturnType<typeof createKnowledge>;
