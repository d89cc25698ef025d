import type { ChatModel, Embedder } from '../ai/models.ts';
import { shippedLanguages, type Languages } from '../language/load-languages.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { guardAnswer, type GuardProblem } from '../safety/guard-answer.ts';
import type { HistoryTurn } from '../store/inbox.ts';
import type { Knowledge, Passage } from '../store/knowledge.ts';
import { replyLanguage } from './fixed-replies.ts';
import { buildPrompt, systemPrompt, type ReplyStyle } from './build-prompt.ts';
import type { ClinicDetails } from './clinic-text.ts';
import { offlineAnswer } from './offline-answer.ts';
import { searchConfigurations } from './search-configurations.ts';
import { acceptRewrite, buildRewritePrompt, looksLikeFollowUp, offlineFollowUpQuery } from './rewrite-query.ts';
import { timed, type StageName } from './timed.ts';

export type PipelineDependencies = {
  /** Absent in offline mode. */
  embedder: Embedder | undefined;
  chat: ChatModel | undefined;
  knowledge: Knowledge;
  loadHistory: () => Promise<HistoryTurn[]>;
  clinic: ClinicDetails;
  /** SMS: `maxLength` is the SMS_MAX_SEGMENTS budget, and the model is asked to keep within it. */
  sms?: boolean;
  /** The patient's language (a code of config/languages.json), when known. */
  language?: string;
  /** The language rules; the shipped ones by default. */
  languages?: Languages;
  metrics: Metrics;
  logger: Logger;
};

export type Answer = {
  text: string;
  passages: Passage[];
  /** What was searched for: the question, or its standalone rewrite. */
  query: string;
  /** Why the answer came from search alone, if it did. */
  fallback: 'offline' | 'openai_error' | 'guard' | undefined;
  guard?: GuardProblem;
  timings: Partial<Record<StageName, number>>;
};

/**
 * question → (history ‖ embedding of the question) → standalone rewrite when there is history and
 * the message looks like a follow-up → hybrid search → one chat completion. The history and the embedding do not depend on each other, so
 * they run together; the embedding is kept when the rewrite leaves the question as it was (most
 * first messages), and redone for the rewritten query otherwise. A failed embedding or rewrite
 * degrades to the question and full-text search; a failed completion to the offline answer: the
 * patient always gets something.
 */
export async function answerQuestion(question: string, maxLength: number, deps: PipelineDependencies): Promise<Answer> {
  const { metrics, logger, embedder, chat } = deps;
  const timings: Answer['timings'] = {};
  const observe = { metrics, logger, timings };
  const embed = (text: string) =>
    timed(observe, 'embed', () => embedder!.embed([text])).then(
      (vectors) => vectors[0],
      (error: unknown) => {
        logger.warn({ err: error }, 'embedding failed; searching full-text only');
        return undefined;
      },
    );

  const languages = deps.languages ?? shippedLanguages();
  const patientLanguage = deps.language ? languages.byCode.get(deps.language) : undefined;
  const questionEmbedding = embedder ? embed(question) : Promise.resolve(undefined);
  const [history, translateTo] = await Promise.all([
    timed(observe, 'history', deps.loadHistory),
    chat && patientLanguage ? documentsLanguage(patientLanguage.textSearch, deps.knowledge, languages, logger) : undefined,
  ]);

  let query = question;
  const followUp = history.length > 0 && looksLikeFollowUp(question);
  if ((followUp || translateTo) && chat) {
    query = await timed(observe, 'rewrite', () => chat.complete(buildRewritePrompt(question, history, translateTo), { maxTokens: 80 })).then(
      (rewritten) => acceptRewrite(question, rewritten),
      (error: unknown) => {
        logger.warn({ err: error }, 'query rewrite failed; searching with the message as written');
        return question;
      },
    );
  } else if (followUp) {
    query = offlineFollowUpQuery(question, history);
  }
  const embedding = query === question || !embedder ? await questionEmbedding : await embed(query);
  const passages = await timed(observe, 'search', () => deps.knowledge.search(query, embedding, { textSearch: searchConfigurations(languages) }));
  const language = replyLanguage(deps.language);

  if (!chat) {
    metrics.fallbacks.inc({ reason: 'offline' });
    return { text: offlineAnswer({ passages, clinic: deps.clinic, maxLength, language, sms: deps.sms }), passages, query, fallback: 'offline', timings };
  }
  try {
    const style: ReplyStyle = {
      ...(deps.sms ? { maxCharacters: Math.floor(maxLength * 0.9), sms: true } : { maxCharacters: 500, sms: false }),
      ...(patientLanguage ? { language: patientLanguage.name } : {}),
    };
    const text = await timed(observe, 'generate', () => chat.complete(buildPrompt({ question, history, passages, clinic: deps.clinic, style })));
    const guard = guardAnswer(text, { instructions: systemPrompt(deps.clinic, style), passages });
    if (guard) {
      logger.warn({ guard }, 'generated answer withheld by the safety guard; replying with the best passage');
      metrics.fallbacks.inc({ reason: 'guard' });
      return { text: offlineAnswer({ passages, clinic: deps.clinic, maxLength, language, sms: deps.sms }), passages, query, fallback: 'guard', guard, timings };
    }
    return { text, passages, query, fallback: undefined, timings };
  } catch (error) {
    logger.error({ err: error }, 'answer generation failed; replying with the best passage');
    metrics.fallbacks.inc({ reason: 'openai_error' });
    return { text: offlineAnswer({ passages, clinic: deps.clinic, maxLength, followUp: true, language, sms: deps.sms }), passages, query, fallback: 'openai_error', timings };
  }
}

/**
 * The name of the documents' main language when the patient's is not among them (a Spanish question
 * to English leaflets), so that the rewrite step translates the query; undefined when they match or
 * the knowledge base cannot say (the question is then searched as written).
 */
async function documentsLanguage(patientTextSearch: string, knowledge: Knowledge, languages: Languages, logger: Logger): Promise<string | undefined> {
  const configurations = await knowledge.textSearchConfigurations().catch((error: unknown) => {
    logger.warn({ err: error }, "could not read the documents' languages; searching the question as written");
    return [];
  });
  const main = configurations[0];
  if (!main || configurations.some((configuration) => configuration.textSearch === patientTextSearch)) return undefined;
  return [...languages.byCode.values()].find((language) => language.textSearch === main.textSearch)?.name ?? main.textSearch;
}
