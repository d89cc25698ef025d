import type { ChatModel, Embedder } from '../ai/models.ts';
import type { ChannelName, Sender } from '../channels/channel.ts';
import { addressesOf, addressOn, phoneNumberOf } from '../channels/phone-number.ts';
import { conversationKey } from '../channels/channel.ts';
import { maskAddress, type Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { classifyMessage } from '../safety/classify-message.ts';
import type { SafetyPhrases } from '../safety/load-safety-phrases.ts';
import { parseStaffCommand, STAFF_HELP } from '../staff/parse-staff-command.ts';
import type { ClaimedMessage, Inbox } from '../store/inbox.ts';
import type { Knowledge } from '../store/knowledge.ts';
import type { PatientStates } from '../store/patient-state.ts';
import { answerQuestion, type Answer } from './answer-question.ts';
import type { ClinicDetails } from './clinic-text.ts';
import { emergencyReply, handoffReply, mediaReply, optInReply, optOutReply, symptomNudge, throttleNotice } from './fixed-replies.ts';

export type ResponderDependencies = {
  clinic: ClinicDetails;
  staffNumbers: string[];
  staffAlertNumbers: string[];
  botMode: 'open' | 'staff-only';
  historyTtlDays: number;
  phrases: SafetyPhrases;
  senders: Record<ChannelName, Sender>;
  inbox: Inbox;
  patientStates: PatientStates;
  knowledge: Knowledge;
  embedder: Embedder | undefined;
  chat: ChatModel | undefined;
  metrics: Metrics;
  logger: Logger;
};

/**
 * Decides what to say to one inbound message, or that nothing should be said (null). Safety first:
 * an emergency gets its fixed reply and a staff alert before anything else is considered, whatever
 * the bot mode or a handoff pause. Then, in order: opt-out and opt-in keywords, staff commands, the
 * pilot mode, a conversation handed to a person, a request for a person, media, and finally the
 * question itself through the pipeline.
 */
export function createResponder(deps: ResponderDependencies) {
  const { clinic, logger, metrics, patientStates } = deps;
  const staff = new Set(deps.staffNumbers);

  async function alertStaff(message: ClaimedMessage, reason: string): Promise<void> {
    const sender = deps.senders[message.channel];
    const text = `${reason} from ${maskAddress(message.patient)} (${message.channel}, message ${message.id}): "${message.body.slice(0, 600)}"`;
    const results = await Promise.allSettled(
      deps.staffAlertNumbers.map(async (number) => {
        const to = addressOn(message.channel, message.business, number);
        const { providerMessageId } = await sender.send({ from: message.business, to, body: text });
        // Recorded in the staff member's own conversation, where `npm run chat --staff` shows it too.
        await deps.inbox.recordOutbound({
          inboxId: null,
          channel: message.channel,
          conversation: conversationKey({ channel: message.channel, business: message.business, patient: to }),
          body: text,
          providerMessageId,
        });
      }),
    );
    const failed = results.filter((result) => result.status === 'rejected');
    if (deps.staffAlertNumbers.length === 0) logger.error({ inboxId: message.id, reason }, 'no STAFF_ALERT_NUMBERS to alert');
    for (const failure of failed) {
      metrics.replies.inc({ channel: message.channel, outcome: 'alert_failed' });
      logger.error({ inboxId: message.id, err: (failure as PromiseRejectedResult).reason }, 'staff alert failed');
    }
  }

  return async function respond(message: ClaimedMessage, maxLength: number): Promise<string | null> {
    const log = logger.child({ inboxId: message.id });
    const found = classifyMessage(message.body, deps.phrases);
    const isStaff = staff.has(phoneNumberOf(message.patient));

    if (found.kind === 'emergency' || message.kind === 'emergency') {
      const category = found.kind === 'emergency' ? found.category : 'medical';
      metrics.emergencies.inc();
      log.warn({ category, from: maskAddress(message.patient) }, 'emergency message: fixed reply and staff alert');
      await alertStaff(message, category === 'self_harm' ? 'URGENT (self-harm risk)' : 'URGENT (possible emergency)');
      // The reply must not depend on a database read: if the state cannot be read, reply anyway.
      const state = await patientStates.get(message.channel, message.patient).catch((error: unknown) => {
        log.error({ err: error }, 'could not read the patient state; sending the emergency reply anyway');
        return undefined;
      });
      // Someone who opted out has asked for no messages; staff have the alert and can call.
      return state?.optedOut ? null : emergencyReply(clinic, category);
    }

    const state = await patientStates.get(message.channel, message.patient);
    if (found.kind === 'opt_out') {
      await patientStates.set(message.channel, message.patient, { optedOut: true });
      log.info('patient opted out');
      return confirmsKeywordsItself(message) ? null : optOutReply();
    }
    // "yes" is one of Twilio's opt-in words, but from someone who never opted out it is just a reply.
    if (found.kind === 'opt_in' && (state.optedOut || found.keyword !== 'yes')) {
      await patientStates.set(message.channel, message.patient, { optedOut: false });
      log.info('patient opted in');
      return confirmsKeywordsItself(message) ? null : optInReply(clinic);
    }
    if (state.optedOut) return null;

    if (isStaff) {
      const command = parseStaffCommand(message.body);
      if (command) return runStaffCommand(message, command);
    }
    if (deps.botMode === 'staff-only' && !isStaff) {
      log.info('not answered: BOT_MODE=staff-only and the sender is not a staff number');
      return null;
    }
    if (state.paused) {
      log.info('not answered: conversation handed to a person');
      return null;
    }
    if (message.kind === 'throttle_notice') return throttleNotice(clinic);
    if (found.kind === 'handoff') {
      await patientStates.set(message.channel, message.patient, { paused: true });
      metrics.handoffs.inc();
      log.info('handoff requested: bot paused for this patient');
      await alertStaff(message, 'A patient asked for a person');
      return handoffReply(clinic);
    }
    if (message.kind === 'media') return mediaReply(clinic);

    // An answer will follow: on WhatsApp, show the message as read with a typing indicator meanwhile.
    deps.senders[message.channel].acknowledge?.(message).catch((error: unknown) => log.warn({ err: error }, 'could not mark the message read'));
    const since = sinceDate(deps.historyTtlDays, state.historyResetAt);
    const answer = await answerQuestion(message.body, maxLength, {
      embedder: deps.embedder,
      chat: deps.chat,
      knowledge: deps.knowledge,
      loadHistory: () => deps.inbox.history(message.conversation, message.id, { since }),
      clinic,
      metrics,
      logger: log,
    });
    let text = answer.text;
    if (found.kind === 'symptom_question') text = `${text}\n\n${symptomNudge(clinic)}`;
    if (isStaff && state.debug) text = `${text}\n\n${debugFooter(answer)}`;
    return text;
  };

  async function runStaffCommand(message: ClaimedMessage, command: NonNullable<ReturnType<typeof parseStaffCommand>>): Promise<string> {
    switch (command.command) {
      case 'debug':
        await patientStates.set(message.channel, message.patient, { debug: command.on });
        return `Debug footer ${command.on ? 'on' : 'off'}.`;
      case 'reset':
        await patientStates.set(message.channel, message.patient, { resetHistory: true });
        return 'Your conversation history is forgotten; the next question starts fresh.';
      case 'resume': {
        const resumed = await patientStates.resume(addressesOf(command.number));
        return resumed > 0 ? `Resumed the assistant for ${maskAddress(command.number)}.` : `No paused conversation for ${maskAddress(command.number)}.`;
      }
      case 'help':
        return STAFF_HELP;
      case 'unknown':
        return `Unknown command "${command.text.slice(0, 40)}".\n${STAFF_HELP}`;
    }
  }
}

/**
 * Twilio answers STOP and START on SMS itself (Advanced Opt-Out) and blocks sending after STOP, so a
 * reply of ours would be a duplicate or an error. On WhatsApp, the confirmation is ours to send.
 */
function confirmsKeywordsItself(message: ClaimedMessage): boolean {
  return message.channel === 'twilio' && !message.patient.startsWith('whatsapp:');
}

function sinceDate(ttlDays: number, resetAt: string | null): string {
  const ttl = Date.now() - ttlDays * 24 * 60 * 60 * 1000;
  const reset = resetAt ? Date.parse(resetAt) : 0;
  return new Date(Math.max(ttl, reset)).toISOString();
}

/** For staff with #debug on: what the answer rests on and what each stage cost. */
function debugFooter(answer: Answer): string {
  const sources = answer.passages.length
    ? answer.passages.slice(0, 3).map((p, i) => `${i + 1}. ${p.title}${p.heading ? ` › ${p.heading}` : ''} (${p.score.toFixed(3)})`).join('\n')
    : '(none)';
  const stages = (['embed', 'history', 'rewrite', 'search', 'generate'] as const)
    .filter((stage) => answer.timings[stage] !== undefined)
    .map((stage) => `${stage} ${answer.timings[stage]}ms`)
    .join(', ');
  const query = `\nquery: ${answer.query.slice(0, 200)}`;
  return `— debug —\nsources:\n${sources}${query}\nstages: ${stages}${answer.fallback ? `\nfallback: ${answer.fallback}` : ''}`;
}
