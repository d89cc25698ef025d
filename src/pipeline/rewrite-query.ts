import type { ChatMessage } from '../ai/models.ts';
import type { HistoryTurn } from '../store/inbox.ts';
import { asData } from './build-prompt.ts';

/**
 * The rewrite request's instructions ("standalone search query" marks it, so that logs and test fakes
 * can tell it from an answer). `translateTo`: the documents' language, when the patient writes in
 * another; the same step then translates the query, so that full-text search finds their words.
 */
export function rewriteInstruction(translateTo?: string): string {
  return (
    "Rewrite the patient's last message as one standalone search query for a fertility clinic's documents, " +
    'using the earlier conversation only to fill in what the message refers to (it, that, this treatment). ' +
    (translateTo
      ? `Write the query in ${translateTo}, the language of the documents, whatever the language of the message. Answer with the query alone.`
      : 'Keep the language of the message. Answer with the query alone. If the message already stands alone, repeat it unchanged.')
  );
}

/**
 * A follow-up ("how much does it cost?" after a question about IVF) searches badly on its own; the
 * model turns it into a standalone query with the conversation as context. Everything the patient
 * wrote is data inside tags, as in the answer prompt.
 */
export function buildRewritePrompt(question: string, history: HistoryTurn[], translateTo?: string): ChatMessage[] {
  const transcript = history.map((turn) => `${turn.role === 'user' ? 'Patient' : 'Assistant'}: ${asData(turn.content)}`).join('\n');
  return [
    { role: 'system', content: rewriteInstruction(translateTo) },
    { role: 'user', content: `<conversation>\n${transcript}\n</conversation>\n\n<patient_message>\n${asData(question)}\n</patient_message>` },
  ];
}

// Words that point back into the conversation ("is it safe?", "what about ICSI?", "¿y eso duele?"),
// and words a line starts with when it continues the last message ("and the cost?"; a merged burst
// has several lines). English and Spanish; in another language only very short messages are taken
// for follow-ups.
const REFERS_BACK =
  /\b(it|its|it's|that|this|these|those|they|them|their|there|same|else|what about|how about|eso|esto|esa|ese|esas|esos|ello|lo mismo)\b/i;
const CONTINUES = /^\W*(and|or|but|so|also|then|too|y|o|pero|entonces|tambi[eé]n)\b/im;

/**
 * Whether a message may need the conversation to be understood, and so is worth a rewrite. The
 * rewrite is a whole chat completion ahead of the search (about a second), on the path of every
 * message that has history; a message that names its own subject ("When do I start my injections?")
 * searches as well without it. A false positive costs that second; a false negative a weaker search,
 * while the answer prompt still carries the conversation.
 */
export function looksLikeFollowUp(question: string): boolean {
  const words = question.trim().split(/\s+/).filter(Boolean).length;
  return words <= 2 || REFERS_BACK.test(question) || CONTINUES.test(question);
}

/** The model's query, unless it is empty or implausibly long (then the question itself). */
export function acceptRewrite(question: string, rewritten: string): string {
  const query = rewritten.trim().replace(/^["']|["']$/g, '');
  if (!query || query.length > Math.max(300, question.length * 4)) return question;
  return query;
}

/**
 * Offline mode has no model to rewrite with: a short follow-up is searched together with the
 * patient's previous question, which usually names the topic.
 */
export function offlineFollowUpQuery(question: string, history: HistoryTurn[]): string {
  const previous = history.filter((turn) => turn.role === 'user').at(-1);
  const words = question.trim().split(/\s+/).length;
  return previous && words <= 8 ? `${previous.content}\n${question}` : question;
}
