import type { Embedder } from '../src/ai/models.ts';
import { shippedLanguages } from '../src/language/load-languages.ts';
import { searchConfigurations } from '../src/pipeline/search-configurations.ts';
import type { Knowledge } from '../src/store/knowledge.ts';
import { evaluateRetrieval, type RetrievalQuestion, type RetrievalResult, type Search } from './evaluate-retrieval.ts';
import { openSampleKnowledge } from './open-sample-knowledge.ts';

/**
 * The search the answer pipeline runs for a first message (no history to rewrite from): the question
 * as written, every language's text search configuration, the pipeline's passage count; with the
 * question's embedding when there is one (hybrid), else full-text only, as offline.
 */
export function serviceSearch(knowledge: Knowledge, embeddings: Map<string, number[]> = new Map()): Search {
  const textSearch = searchConfigurations(shippedLanguages());
  return (question) => knowledge.search(question, embeddings.get(question), { textSearch });
}

/**
 * Loads `folder` into a fresh database in memory (embedding it when an embedder is given), checks
 * that every labelled source is one of its documents, and evaluates the set with the service's search.
 */
export async function measureRetrieval(rows: RetrievalQuestion[], folder: string, options: { embedder?: Embedder | undefined; cwd?: string } = {}): Promise<RetrievalResult> {
  const { knowledge, close } = await openSampleKnowledge(folder, options);
  try {
    const sources = new Set((await knowledge.listDocuments()).map((document) => document.source));
    const unknown = [...new Set(rows.map((row) => row.source).filter((source) => !sources.has(source)))];
    if (unknown.length > 0) throw new Error(`labelled with documents that are not in ${folder}: ${unknown.join(', ')} (documents: ${[...sources].join(', ')})`);
    const questions = [...new Set(rows.map((row) => row.question))];
    const vectors = options.embedder ? await options.embedder.embed(questions) : [];
    const embeddings = new Map(vectors.map((vector, index) => [questions[index]!, vector]));
    return await evaluateRetrieval(rows, serviceSearch(knowledge, embeddings));
  } finally {
    await close();
  }
}
