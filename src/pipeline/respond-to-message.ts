import type { ChatModel, Embedder, TriageModel, TriageVerdict } from '../ai/models.ts';
import { planAlerts, type AlertRoutes } from '../alerts/plan-alerts.ts';
import type { AlertReason, StaffAlerts } from '../alerts/staff-alerts.ts';
import type { ChannelName, Sender } from '../channels/channel.ts';
import { addressesOf } from '../channels/addresses-of.ts';
import { phoneNumberMatcher } from '../channels/canonical-phone-number.ts';
import { smsCharacters } from '../channels/sms/count-sms-segments.ts';
import { fitSmsSegments } from '../channels/sms/fit-sms-segments.ts';
import { isSms } from '../channels/sms/is-sms.ts';
import { toGsm7 } from '../channels/sms/to-gsm7.ts';
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
import { answerReply, fixedReply, type Reply } from './reply.ts';
import {
  attachmentNote, emergencyReply, handoffReply, mediaReply, optInReply, optOutReply, replyLanguage, symptomNudge, throttleNotice, voiceTooLongReply, voiceUnreadableReply,
} from './fixed-replies.ts';
import type { HeardVoiceNote } from '../voice/hear-voice-note.ts';
import { detectLanguage } from '../language/detect-language.ts';

export type ResponderDependencies = {
  clinic: ClinicDetails;
  staffNumbers: string[];
  staffAlertNumbers: string[];
  alertRoutes: AlertRoutes;
  /** PUBLIC_URL: alerts link to the conversation in the staff console. */
  publicUrl: string | undefined;
  botMode: 'open' | 'staff-only';
  historyTtlDays: number;
  /** The longest SMS answer, in billed segments. */
  smsMaxSegments: number;
  /** Turns a voice note into words (absent: voice notes get the "please type" reply). */
  hearVoice?: (message: ClaimedMessage, log: Logger) => Promise<HeardVoiceNote>;
  voiceMaxSeconds: number;
  phrases: SafetyPhrases;
  senders: Record<ChannelName, Sender>;
  inbox: Inbox;
  alerts: StaffAlerts;
  /** Alerts were stored: the alert dispatcher sends them now, beside the patient's reply. */
  onAlertsRaised: () => void;
  patientStates: PatientStates;
  knowledge: Knowledge;
  embedder: Embedder | undefined;
  chat: ChatModel | undefined;
  /** The model's second opinion on messages the rules did not alarm (absent in offline mode). */
  triage: TriageModel | undefined;
  triageTimeoutMs: number;
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
  // One canonical form on every channel: a Mexican staff phone's wa_id is 521…, its STAFF_NUMBERS entry +52….
  const staffNumberOf = phoneNumberMatcher(deps.staffNumbers);

  /**
   * Stores the alerts for this message (once per message, however often it is handled) and wakes the
   * dispatcher, which sends them while the patient's reply goes out. If they cannot be stored (the
   * database is down), they are sent straight away instead: an emergency must reach a person anyway.
   */
  async function raiseAlerts(message: ClaimedMessage, reason: AlertReason, log: Logger): Promise<void> {
    // Stored even with no one to alert: the message then waits for a person in the staff console.
    if (deps.staffAlertNumbers.length === 0) log.error({ reason }, 'no STAFF_ALERT_NUMBERS to alert');
    const planned = planAlerts(message, reason, deps.staffAlertNumbers, deps.alertRoutes, { consoleUrl: deps.publicUrl });
    try {
      await deps.alerts.raise(message.id, reason, planned);
      if (planned.length > 0) deps.onAlertsRaised();
    } catch (error) {
      log.error({ err: error }, 'could not store the staff alerts; sending them directly, untracked');
      for (const alert of planned) {
        deps.senders[alert.channel].send({ from: alert.sender, to: alert.recipient, body: alert.body }).then(
          () => metrics.staffAlerts.inc({ route: 'direct', outcome: 'sent' }),
          (sendError: unknown) => {
            metrics.staffAlerts.inc({ route: 'direct', outcome: 'unreached' });
            log.error({ err: sendError, to: maskAddress(alert.recipient) }, 'staff alert failed every way: a staff member was not reached');
          },
        );
      }
    }
  }

  /**
   * The language to answer in: the message's own, else the conversation's (kept on the inbox row).
   * Never fails: without the database, the message's own or English.
   */
  function languageOf(message: ClaimedMessage, log: Logger): Promise<string | undefined> {
    const detected = detectLanguage(message.body);
    return deps.inbox.language(message.id, detected).catch((error: unknown) => {
      log.warn({ err: error }, "could not read the conversation's language");
      return detected;
    });
  }

  /** The fixed emergency reply. The staff alerts are stored first (one write), then sent by the dispatcher while the reply goes out. */
  async function emergency(message: ClaimedMessage, category: 'medical' | 'self_harm', source: string, log: Logger, language: Promise<string | undefined>): Promise<Reply | null> {
    metrics.emergencies.inc();
    log.warn({ category, source, from: maskAddress(message.patient) }, 'emergency message: fixed reply and staff alert');
    const [state, , code] = await Promise.all([
      // The reply must not depend on a database read: if the state cannot be read, reply anyway.
      patientStates.get(message.channel, message.patient).catch((error: unknown) => {
        log.error({ err: error }, 'could not read the patient state; sending the emergency reply anyway');
        return undefined;
      }),
      raiseAlerts(message, category === 'self_harm' ? 'self_harm' : 'emergency', log),
      language,
    ]);
    // Someone who opted out has asked for no messages; staff have the alert and can call.
    return state?.optedOut ? null : fixedReply(emergencyReply(clinic, category, replyLanguage(code)));
  }

  /**
   * The model's opinion came after the answer was sent and says emergency: the alarm is raised all the
   * same, and the patient gets the emergency reply as a second message.
   */
  async function lateEmergency(message: ClaimedMessage, verdict: Exclude<TriageVerdict, 'none'>, log: Logger, language: Promise<string | undefined>): Promise<void> {
    const category = verdict === 'self_harm' ? 'self_harm' : 'medical';
    const reply = await emergency(message, category, 'model (after the answer)', log, language);
    if (reply === null) return;
    const sender = deps.senders[message.channel];
    const { providerMessageId } = await sender.send({ from: message.business, to: message.patient, body: reply.text });
    metrics.replies.inc({ channel: message.channel, outcome: 'sent' });
    await deps.inbox.recordOutbound({ inboxId: null, channel: message.channel, conversation: message.conversation, body: reply.text, providerMessageId });
  }

  /**
   * The model's second opinion: `inTime` within its budget (undefined when it failed or took too
   * long), `eventually` whenever it comes, so that a verdict that is late is still acted on.
   */
  function secondOpinion(text: string, log: Logger): { inTime: Promise<TriageVerdict | undefined>; eventually: Promise<TriageVerdict | undefined> } | undefined {
    if (!deps.triage) return undefined;
    // Counted once: a triage that times out and then fails (or answers) late is one failed triage.
    let counted = false;
    const count = (verdict: TriageVerdict | 'failed') => {
      if (counted) return;
      counted = true;
      metrics.modelTriage.inc({ verdict });
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => {
        count('failed');
        log.warn({ timeoutMs: deps.triageTimeoutMs }, 'model triage timed out; the answer goes on without it');
        resolve(undefined);
      }, deps.triageTimeoutMs);
    });
    const eventually = deps.triage.assess(text).then(
      (verdict) => {
        clearTimeout(timer);
        count(verdict);
        return verdict;
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (!counted) log.warn({ err: error }, 'model triage failed; the rules alone decided');
        count('failed');
        return undefined;
      },
    );
    return { inTime: Promise.race([eventually, timeout]), eventually };
  }

  return async function respond(claimed: ClaimedMessage, maxLength: number): Promise<Reply | null> {
    const log = logger.child({ inboxId: claimed.id });
    // A voice note is heard first, and then goes on as if typed: a spoken emergency is an emergency.
    const heard = claimed.kind === 'voice' && claimed.body.trim() === '' ? await (deps.hearVoice?.(claimed, log) ?? { problem: 'offline' as const }) : undefined;
    const message = heard && 'transcript' in heard ? { ...claimed, body: heard.transcript } : claimed;
    const voiceProblem = heard && 'problem' in heard ? heard.problem : undefined;
    const found = classifyMessage(message.body, deps.phrases);
    const isStaff = staffNumberOf(message.patient) !== undefined;
    const languageCode = languageOf(message, log);

    if (found.kind === 'emergency' || message.kind === 'emergency') {
      const category = found.kind === 'emergency' ? found.category : 'medical';
      return emergency(message, category, found.kind === 'emergency' ? `rules: ${found.rule}` : 'rules', log, languageCode);
    }

    const [state, code] = await Promise.all([patientStates.get(message.channel, message.patient), languageCode]);
    const language = replyLanguage(code);
    if (found.kind === 'opt_out') {
      await patientStates.set(message.channel, message.patient, { optedOut: true });
      log.info('patient opted out');
      return confirmsKeywordsItself(message) ? null : fixedReply(optOutReply(language));
    }
    // "yes" is one of Twilio's opt-in words, but from someone who never opted out it is just a reply.
    if (found.kind === 'opt_in' && (state.optedOut || found.keyword !== 'yes')) {
      await patientStates.set(message.channel, message.patient, { optedOut: false });
      log.info('patient opted in');
      return confirmsKeywordsItself(message) ? null : fixedReply(optInReply(clinic, language));
    }
    if (state.optedOut) return null;

    if (isStaff) {
      const command = parseStaffCommand(message.body);
      if (command) return fixedReply(await runStaffCommand(message, command));
    }
    if (deps.botMode === 'staff-only' && !isStaff) {
      log.info('not answered: BOT_MODE=staff-only and the sender is not a staff number');
      return null;
    }
    if (state.paused) {
      log.info('not answered: conversation handed to a person');
      return null;
    }
    if (message.kind === 'throttle_notice') return fixedReply(throttleNotice(clinic, language));
    if (found.kind === 'handoff') {
      await patientStates.set(message.channel, message.patient, { paused: true });
      metrics.handoffs.inc();
      log.info('handoff requested: bot paused for this patient');
      await raiseAlerts(message, 'handoff', log);
      return fixedReply(handoffReply(clinic, language));
    }
    if (voiceProblem === 'too_long') return fixedReply(voiceTooLongReply(clinic, deps.voiceMaxSeconds, language));
    if (voiceProblem === 'unreadable') return fixedReply(voiceUnreadableReply(clinic, language));
    // Offline (or without the channel's credentials) a voice note is media like any other: please type.
    if (message.kind === 'media' || voiceProblem) return fixedReply(mediaReply(clinic, language));

    // An answer will follow: on WhatsApp, show the message as read with a typing indicator meanwhile.
    deps.senders[message.channel].acknowledge?.(message).catch((error: unknown) => log.warn({ err: error }, 'could not mark the message read'));
    const since = sinceDate(deps.historyTtlDays, state.historyResetAt);
    // The model's second opinion runs beside the answer, at the front of the OpenAI queue. It can
    // only raise the alarm, never lower it, and the answer never waits for it: if the answer is ready
    // first, it is sent, and an emergency verdict that follows still raises the alarm.
    const opinion = secondOpinion(message.body, log);
    // SMS is billed per segment: the answer is asked for, and cut to, SMS_MAX_SEGMENTS. English fits
    // GSM-7; Spanish accents make a message UCS-2, with less than half the characters a segment.
    const sms = isSms(message.channel, message.patient);
    const smsBudget = smsCharacters(deps.smsMaxSegments, language === 'en' ? 'gsm7' : 'ucs2');
    const answering = answerQuestion(message.body, sms ? Math.min(maxLength, smsBudget) : maxLength, {
      sms,
      ...(code ? { language: code } : {}),
      embedder: deps.embedder,
      chat: deps.chat,
      knowledge: deps.knowledge,
      loadHistory: () => deps.inbox.history(message.conversation, message.id, { since }),
      clinic,
      metrics,
      logger: log,
    });
    const first = await Promise.race([answering.then((answer) => ({ answer })), ...(opinion ? [opinion.inTime.then((verdict) => ({ verdict }))] : [])]);
    if ('verdict' in first && first.verdict && first.verdict !== 'none') {
      answering.catch(() => undefined);
      return emergency(message, first.verdict === 'self_harm' ? 'self_harm' : 'medical', 'model', log, languageCode);
    }
    const answer = await answering;
    // Not yet heard in time (the answer was quicker, or the budget ran out): a verdict that comes later
    // still raises the alarm.
    const decided = 'verdict' in first && first.verdict !== undefined;
    opinion?.eventually.then((verdict) => {
      if (!decided && verdict && verdict !== 'none') {
        lateEmergency(message, verdict, log, languageCode).catch((error: unknown) => log.error({ err: error }, 'could not act on the late emergency verdict'));
      }
    });
    // The symptom nudge is a safety line: the cut never takes it, only the answer before it.
    const nudge = found.kind === 'symptom_question' ? `\n\n${symptomNudge(clinic, language)}` : '';
    const note = message.kind === 'captioned' ? `\n\n${attachmentNote(language)}` : '';
    let text = sms ? fitSmsSegments(toGsm7(answer.text), deps.smsMaxSegments, { suffix: toGsm7(`${nudge}${note}`) }) : `${answer.text}${nudge}${note}`;
    if (isStaff && state.debug) text = `${text}\n\n${debugFooter(answer)}`;
    return answerReply(answer, text);
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
  return isSms(message.channel, message.patient);
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
