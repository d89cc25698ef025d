import { createIngestionEmbedder } from '../src/ai/create-ingestion-embedder.ts';
import type { Embedder } from '../src/ai/models.ts';
import { createOpenAILimiter } from '../src/ai/openai-limiter.ts';
import { loadConfig, readDotEnv } from '../src/config.ts';
import { formatRetrievalReport, meetsRetrievalBar, readRetrievalSet, RETRIEVAL_BAR } from './evaluate-retrieval.ts';
import { measureRetrieval } from './measure-retrieval.ts';

/**
 * npm run eval:retrieval [-- <set.jsonl> [folder]]: whether search finds the document that answers
 * each question of a labelled set (eval/retrieval.jsonl by default) in the documents of a folder
 * (KNOWLEDGE_DIR, default knowledge/), loaded into a fresh database in memory. Full-text search
 * always, as offline; with OPENAI_API_KEY also hybrid search with the configured embedding model
 * (OPENAI_BASE_URL for any compatible endpoint). Exit code 1 when a run is under the bar the test
 * suite holds the sample documents to, 2 when it cannot run.
 */
try {
  readDotEnv();
  const config = loadConfig();
  const [setPath = 'eval/retrieval.jsonl', folder = config.knowledgeDir] = process.argv.slice(2);
  const rows = readRetrievalSet(setPath);
  const apiKey = config.openai.apiKey;
  const runs: { name: string; embedder: Embedder | undefined }[] = [{ name: 'Full-text search (offline)', embedder: undefined }];
  if (apiKey) {
    const embedder = createIngestionEmbedder({ ...config.openai, apiKey, limiter: createOpenAILimiter(config.openai.maxConcurrency) });
    runs.push({ name: `Hybrid search (${config.openai.embeddingModel})`, embedder });
  }
  console.log(`Retrieval of ${setPath} (${rows.length} questions) in ${folder}; bar: hit@3 ≥ ${(RETRIEVAL_BAR.hitAt3 * 100).toFixed(0)} %, MRR ≥ ${RETRIEVAL_BAR.mrr}`);
  if (!apiKey) console.log('OPENAI_API_KEY is not set: full-text search only.');
  let below = false;
  for (const run of runs) {
    const result = await measureRetrieval(rows, folder, { embedder: run.embedder });
    below ||= !meetsRetrievalBar(result.overall);
    console.log(`\n## ${run.name}\n\n${formatRetrievalReport(result)}`);
  }
  process.exitCode = below ? 1 : 0;
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 2;
}
