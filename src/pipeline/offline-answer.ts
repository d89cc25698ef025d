import type { Passage } from '../store/knowledge.ts';
import { fillClinicPlaceholders, type ClinicDetails } from './clinic-text.ts';
import { truncate } from './split-message.ts';

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
}): string {
  const { clinic } = input;
  const closing = input.followUp
    ? `\n\nA member of our team can follow up: call ${clinic.phone}.`
    : `\n\nFor anything about your own treatment, call ${clinic.phone}.`;
  const best = input.passages[0];
  if (!best) {
    return truncate(`Sorry, I couldn't find that in ${clinic.name}'s information. Please call ${clinic.phone} and the team will help.`, input.maxLength);
  }
  const heading = best.heading && best.heading !== best.title ? ` (${best.heading})` : '';
  const lead = `From "${best.title}"${heading}:\n`;
  const room = input.maxLength - lead.length - closing.length;
  return `${lead}${truncate(fillClinicPlaceholders(best.content, clinic).trim(), Math.max(room, 20))}${closing}`.slice(0, input.maxLength);
}
