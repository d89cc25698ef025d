import type { ClinicDetails } from './clinic-text.ts';

/** Replies that need no search and no model. */
export function mediaReply(clinic: ClinicDetails): string {
  return `I can only read text messages for now; please type your question or call the clinic at ${clinic.phone}.`;
}

export function throttleNotice(clinic: ClinicDetails): string {
  return `You've sent a lot of messages in a short time, so I'll pause for a minute before answering more. If it's urgent, please call ${clinic.phone}.`;
}
