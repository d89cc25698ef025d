import type { ClinicDetails } from './clinic-text.ts';

/** Replies that need no search and no model. */
export function mediaReply(clinic: ClinicDetails): string {
  return `I can only read text messages for now; please type your question or call the clinic at ${clinic.phone}.`;
}

export function throttleNotice(clinic: ClinicDetails): string {
  return `You've sent a lot of messages in a short time, so I'll pause for a minute before answering more. If it's urgent, please call ${clinic.phone}.`;
}

export function emergencyReply(clinic: ClinicDetails, category: 'medical' | 'self_harm'): string {
  if (category === 'self_harm') {
    return (
      `I'm so sorry you're going through this. You don't have to face it alone. Please call your local emergency number now, ` +
      `or a crisis line, or the clinic's urgent line at ${clinic.emergencyPhone}. I've let our team know you need help.`
    );
  }
  return (
    `This could be urgent. Please call ${clinic.name}'s emergency line now at ${clinic.emergencyPhone}, or your local emergency number ` +
    `if you feel very unwell. Don't wait for a text reply. I've alerted our team.`
  );
}

export function handoffReply(clinic: ClinicDetails): string {
  return `Of course. A member of our team will reply to you here as soon as they can. If it's urgent, please call ${clinic.phone}.`;
}

/** Added to an answer about a symptom that did not sound like an emergency. */
export function symptomNudge(clinic: ClinicDetails): string {
  return `If it is heavy, severe or getting worse, please call ${clinic.emergencyPhone} now rather than waiting for a text.`;
}

export function optOutReply(): string {
  return "You won't get any more messages from us. Reply START at any time to hear from us again.";
}

export function optInReply(clinic: ClinicDetails): string {
  return `Welcome back. You can ask me about treatment at ${clinic.name} at any time.`;
}

/** When a message cannot be answered at all (the pipeline itself failed): never silence. */
export function failureReply(clinic: ClinicDetails): string {
  return `Sorry, I can't answer right now. Please call ${clinic.phone} and the team will help. If it's urgent, call ${clinic.emergencyPhone}.`;
}

/** A conversation handed to a person went quiet for HANDOFF_TIMEOUT_HOURS: the assistant answers again. */
export function assistantBackReply(clinic: ClinicDetails): string {
  return `The assistant is answering your messages again. If you still need a member of our team, reply "person", or call ${clinic.phone}.`;
}
