import type { Answer } from './answer-question.ts';

/**
 * What a reply is, for staff reading the conversation: 'generated' by the model from the documents, a
 * 'fallback' (the best passage, quoted without the model), a 'fixed' text (emergency, handoff, opt-out,
 * failure…), or written by 'staff'.
 */
export type ReplyOrigin = 'generated' | 'fallback' | 'fixed' | 'staff';

export type ReplySource = { title: string; heading: string; source: string };

export type Reply = {
  text: string;
  origin: ReplyOrigin;
  sources: ReplySource[];
  /** The documents did not answer the question: listed for the clinic to write about. */
  uncovered: boolean;
};

export function fixedReply(text: string): Reply {
  return { text, origin: 'fixed', sources: [], uncovered: false };
}

/** An answer from the pipeline as a reply; `text` is what is sent (the answer plus any nudge or footer). */
export function answerReply(answer: Answer, text: string): Reply {
  return {
    text,
    origin: answer.fallback === undefined ? 'generated' : 'fallback',
    sources: answer.passages.slice(0, 3).map(({ title, heading, source }) => ({ title, heading, source })),
    uncovered: answer.passages.length === 0 || (answer.fallback === undefined && saysNotCovered(answer.text)),
  };
}

// The model is told to say plainly when the documents do not cover a question (src/pipeline/build-prompt.ts).
const NOT_COVERED = [
  /\b(documents?|information|materials?|leaflets?|guides?)\b[^.!?]{0,60}\b(don't|do not|doesn't|does not|didn't)\b[^.!?]{0,20}\b(cover|mention|include|say|address|contain)/i,
  /\bI (don't|do not|can't|cannot) (have|find)\b[^.!?]{0,20}\b(information|details|anything)\b/i,
  /\bno (tengo|dispongo de|encuentro|encontré)\b[^.!?]{0,20}\binformaci[oó]n\b/i,
  /\b(documentos?|informaci[oó]n|materiales?)\b[^.!?]{0,60}\bno (cubre|cubren|menciona|mencionan|incluye|incluyen|dice|dicen|trata|tratan)\b/i,
];

export function saysNotCovered(text: string): boolean {
  return NOT_COVERED.some((pattern) => pattern.test(text));
}
