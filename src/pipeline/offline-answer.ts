import type { Passage } from '../store/knowledge.ts';
import { fillClinicPlaceholders, type ClinicDetails } from './clinic-text.ts';
import type { ReplyLanguage } from './fixed-replies.ts';
import { truncate } from './split-message.ts';
import { toGsm7 } from '../channels/sms/to-gsm7.ts';

/**
 * The answer without a model: the best passage from full-text search, quoted with its title, cut to
 * one message of the channel. Used in offline mode and whenever generation fails, so no patient is
 * ever left with silence.
 */
export function offlineAnswer(input: {
  passages: Passage[];
  clinic: ClinicDetails;
  maxLength: number;
  /** Added when this stands in for a generated answer that failed. */
  followUp?: boolean;
  /** The patient's language, for the words around the quote (the quote is the document's own). */
  language?: ReplyLanguage;
  /** SMS: the quote in GSM-7 punctuation, so that `maxLength` holds for what is sent. */
  sms?: boolean;
}): string {
  const { clinic } = input;
  const words = WORDS[input.language ?? 'en'];
  const closing = `\n\n${input.followUp ? words.followUp(clinic) : words.closing(clinic)}`;
  const best = input.passages[0];
  if (!best) return truncate(words.notFound(clinic), input.maxLength);
  const heading = best.heading && best.heading !== best.title ? ` (${best.heading})` : '';
  const lead = `${words.from} "${best.title}"${heading}:\n`;
  const room = input.maxLength - lead.length - closing.length;
  const quote = fillClinicPlaceholders(best.content, clinic).trim();
  const cut = input.sms ? truncate(toGsm7(quote), Math.max(room, 20), '...') : truncate(quote, Math.max(room, 20));
  return `${lead}${cut}${closing}`.slice(0, input.maxLength);
}

const WORDS: Record<ReplyLanguage, { from: string; closing: (clinic: ClinicDetails) => string; followUp: (clinic: ClinicDetails) => string; notFound: (clinic: ClinicDetails) => string }> = {
  en: {
    from: 'From',
    closing: (clinic) => `For anything about your own treatment, call ${clinic.phone}.`,
    followUp: (clinic) => `A member of our team can follow up: call ${clinic.phone}.`,
    notFound: (clinic) => `Sorry, I couldn't find that in ${clinic.name}'s information. Please call ${clinic.phone} and the team will help.`,
  },
  es: {
    from: 'De',
    closing: (clinic) => `Para cualquier duda sobre su propio tratamiento, llame al ${clinic.phone}.`,
    followUp: (clinic) => `Una persona de nuestro equipo puede ayudarle: llame al ${clinic.phone}.`,
    notFound: (clinic) => `Lo siento, no he encontrado eso en la información de ${clinic.name}. Llame al ${clinic.phone} y el equipo le ayudará.`,
  },
};
