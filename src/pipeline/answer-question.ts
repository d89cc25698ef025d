import type { ChatModel, Embedder } from '../ai/models.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { HistoryTurn } from '../store/inbox.ts';
import type { Knowledge, Passage } from '../store/knowledge.ts';
import { buildPrompt } from './build-prompt.ts';
import type { ClinicDetails } from './clinic-text.ts';
import { offlineAnswer } from './offline-answer.ts';
import { timed } from './timed.ts';

export type PipelineDependencies = {
  /** Absent in offline mode. */
  embedder: Embedder | undefined;
  chat: ChatModel | undefined;
  knowledge: Knowledge;
  loadHistory: () => Promise<HistoryTurn[]>;
  clinic: ClinicDetails;
  metrics: Metrics;
  logger: Logger;
};

export type Answer = {
  text: string;
  passages: Passage[];
  /** Why the answer came from search alone, if it did. */
  fallback: 'offline' | 'openai_error' | undefined;
};

/**
 * question → (embedding ‖ history) → hybrid search → one chat completion. The embedding and the
 * history do not depend on each other, so they are fetched together. A failed embedding degrades to
 * full-text search; a failed completion to the offline answer: the patient always gets something.
 */
export async function answerQuestion(question: string, maxLength: number, deps: PipelineDependencies): Promise<Answer> {
  const { metrics, logger } = deps;
  const [embedding, history] = await Promise.all([
    deps.embedder
      ? timed(deps, 'embed', () => deps.embedder!.embed([question])).then(
          (vectors) => vectors[0],
          (error: unknown) => {
            logger.warn({ err: error }, 'embedding failed; searching full-text only');
            return undefined;
          },
        )
      : undefined,
    timed(deps, 'history', deps.loadHistory),
  ]);
  const passages = await timed(deps, 'search', () => deps.knowledge.search(question, embedding));

  if (!deps.chat) {
    metrics.fallbacks.inc({ reason: 'offline' });
    return { text: offlineAnswer({ passages, clinic: deps.clinic, maxLength }), passages, fallback: 'offline' };
  }
  try {
    const text = await timed(deps, 'generate', () => deps.chat!.complete(buildPrompt({ question, history, passages, clinic: deps.clinic })));
    return { text, passages, fallback: undefined };
  } catch (error) {
    logger.error({ err: error }, 'answer generation failed; replying with the best passage');
    metrics.fallbacks.inc({ reason: 'openai_error' });
    return { text: offlineAnswer({ passages, clinic: deps.clinic, maxLength, followUp: true }), passages, fallback: 'openai_error' };
  }
}
