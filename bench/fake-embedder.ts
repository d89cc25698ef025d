import { createIngestionEmbedder } from '../src/ai/create-ingestion-embedder.ts';
import type { Embedder } from '../src/ai/models.ts';
import { createOpenAILimiter } from '../src/ai/openai-limiter.ts';
import type { Fakes } from './start-fakes.ts';

/** The embedder `npm run ingest` builds (default cap of 4), pointed at the fake OpenAI. */
export function fakeEmbedder(fakes: Fakes): Embedder {
  return createIngestionEmbedder({
    apiKey: fakes.env.OPENAI_API_KEY!,
    baseURL: fakes.env.OPENAI_BASE_URL!,
    chatModel: 'gpt-4o-mini',
    embeddingModel: 'text-embedding-3-small',
    timeoutMs: 20_000,
    maxConcurrency: 4,
    limiter: createOpenAILimiter(4),
  });
}
