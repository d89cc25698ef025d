import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { isRetryable } from '../app-error.ts';
import type { ChannelName, Sender } from '../channels/channel.ts';
import { maskAddress, type Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Reply } from '../pipeline/reply.ts';
import { splitMessage } from '../pipeline/split-message.ts';
import { timed } from '../pipeline/timed.ts';
import { createWakeSignal } from './create-wake-signal.ts';
import type { ClaimedMessage, Inbox } from '../store/inbox.ts';
import { LeaseLostError } from '../store/lease-lost-error.ts';

export type InboxWorkerOptions = {
  /** The lease owner: this instance's id in the instances table (a new one when not given). */
  owner?: string;
  inbox: Inbox;
  senders: Record<ChannelName, Sender>;
  /**
   * Produces the reply for a message (the pipeline, or a fixed reply), or null to stay quiet. Not
   * called for a message whose reply is already stored: a retry, or a staff reply ('outgoing').
   */
  answer: (message: ClaimedMessage, maxLength: number) => Promise<Reply | null>;
  logger: Logger;
  metrics: Metrics;
  /** Conversations answered at once. OpenAI calls are capped separately. */
  concurrency: number;
  leaseSeconds?: number;
  pollIntervalMs?: number;
  maxAttempts?: number;
  retryBaseDelayMs?: number;
  /** Sent when a message fails for good before any reply was generated, so the patient is never left with silence. */
  failureReply: (message: ClaimedMessage) => string;
  /**
   * Whether a shutdown that times out hands the unfinished messages back at once. Right for the
   * embedded database (this process is the only one, and it is exiting); on a shared database another
   * instance would answer them while this one may still be sending, so their leases expire instead.
   */
  releaseOnShutdown: boolean;
};

/**
 * Claims messages from the inbox and answers them, many conversations at once and each conversation
 * one message at a time (inbox_claim hands out only a conversation's oldest open message). A failure
 * that may pass (a send that got a 5xx) puts the message back with a backoff; the inbox row keeps the
 * generated reply and how many parts went out, so a retry neither regenerates nor resends them.
 */
export function createInboxWorker(options: InboxWorkerOptions) {
  const { inbox, logger, metrics } = options;
  const owner = options.owner ?? `worker-${randomUUID()}`;
  const leaseSeconds = options.leaseSeconds ?? 120;
  const pollIntervalMs = options.pollIntervalMs ?? 500;
  const maxAttempts = options.maxAttempts ?? 5;
  const retryBaseDelayMs = options.retryBaseDelayMs ?? 1_000;
  const inFlight = new Map<number, Promise<void>>();
  /** Messages in hand whose lease renewal was refused: another owner has them, so send nothing more. */
  const lost = new Set<number>();
  let running = false;
  let loopDone: Promise<void> = Promise.resolve();
  /** An emergency was stored, or the poll came round: look for emergencies even with no slot free. */
  let urgent = true;
  const wake = createWakeSignal(pollIntervalMs, () => {
    urgent = true;
  });
  const signal = () => wake.signal();

  const take = (claimed: ClaimedMessage[]) => {
    for (const message of claimed) {
      // Our own lease ran out (renewal failing) and the claim handed the message back to us: the
      // first handler is still on it.
      if (inFlight.has(message.id)) continue;
      const work = handle(message).finally(() => {
        inFlight.delete(message.id);
        lost.delete(message.id);
        signal();
      });
      inFlight.set(message.id, work);
    }
  };

  async function loop() {
    while (running) {
      wake.clear();
      // The urgent lane: every slot may be held by questions waiting on a slow model, and an emergency
      // must not wait for one of them (its reply needs no model). Only when woken for an emergency or
      // at the poll: at hundreds of webhooks a second a claim per wake-up would cost the database.
      const lookForEmergencies = urgent;
      urgent = false;
      if (lookForEmergencies && inFlight.size >= options.concurrency) {
        try {
          take(await inbox.claimEmergencies(owner, leaseSeconds, 8));
        } catch (error) {
          logger.error({ err: error }, 'could not claim emergencies');
        }
      }
      const room = options.concurrency - inFlight.size;
      if (room > 0) {
        let claimed: ClaimedMessage[] = [];
        try {
          claimed = await inbox.claim(owner, leaseSeconds, room);
        } catch (error) {
          logger.error({ err: error }, 'could not claim inbox messages');
        }
        take(claimed);
        if (claimed.length > 0 && claimed.length === room) continue;
      }
      if (running) await wake.wait();
    }
  }

  async function handle(message: ClaimedMessage): Promise<void> {
    const log = logger.child({ inboxId: message.id, channel: message.channel, to: maskAddress(message.patient) });
    const sender = options.senders[message.channel];
    const started = Date.now();
    let generated: Reply | null | undefined;
    try {
      let reply = message.reply;
      if (reply === null) {
        generated = await options.answer(message, sender.maxLength(message.patient));
        if (generated === null) {
          await inbox.finish(message.id, owner, 'skipped');
          log.info('no reply, by design (opted out, paused, or staff-only mode)');
          return;
        }
        reply = generated.text;
        await inbox.saveAnswer(message.id, owner, generated).catch((error: unknown) => {
          // The emergency reply is fixed text: sent even if it could not be saved (a retry would send
          // the same words again, which is better than a patient in danger waiting for the database).
          // Not when another owner has the message: it sends the same reply.
          if (message.kind !== 'emergency' || error instanceof LeaseLostError) throw error;
          log.error({ err: error }, 'could not save the emergency reply; sending it anyway');
        });
      }
      const parts = splitMessage(reply, sender.maxLength(message.patient));
      for (let index = message.partsSent; index < parts.length; index++) {
        const body = parts[index]!;
        // The renewal found the lease gone: stop before this send, not only at the next write.
        if (lost.has(message.id)) throw new LeaseLostError(message.id);
        const { providerMessageId } = await timed({ metrics, logger: log }, 'send', () =>
          sender.send({ from: message.business, to: message.patient, body }),
        );
        // Refused (LeaseLostError) once the lease is gone: this part went out, the next will not.
        await inbox.recordOutbound({ inboxId: message.id, channel: message.channel, conversation: message.conversation, body, providerMessageId, owner });
        metrics.replies.inc({ channel: message.channel, outcome: 'sent' });
      }
      await inbox.finish(message.id, owner, 'answered');
      log.info({ parts: parts.length, ms: Date.now() - started }, 'reply sent');
    } catch (error) {
      if (error instanceof LeaseLostError) {
        metrics.leasesLost.inc();
        log.warn({ attempt: message.attempts }, 'lease lost: another worker has this message now; stopped without sending more');
        return;
      }
      const reason = error instanceof Error ? error.message : String(error);
      // An emergency reply keeps being tried through a longer outage (15 tries, several minutes), a minute apart at most.
      const attemptsAllowed = message.kind === 'emergency' ? maxAttempts * 3 : maxAttempts;
      if (running && isRetryable(error) && message.attempts < attemptsAllowed) {
        const delay = Math.min(60_000, retryBaseDelayMs * 2 ** (message.attempts - 1)) * (0.5 + Math.random() / 2);
        log.warn({ err: error, attempt: message.attempts, retryInMs: Math.round(delay) }, 'reply failed; will retry');
        await inbox.retry(message.id, owner, reason, delay).catch((e: unknown) => logWriteFailure(log, e, 'could not schedule retry'));
      } else if (!running && isRetryable(error)) {
        await inbox.retry(message.id, owner, reason, 0).catch(() => undefined);
      } else {
        metrics.replies.inc({ channel: message.channel, outcome: 'failed' });
        log.error({ err: error, attempt: message.attempts }, 'reply failed for good');
        const marked = await inbox.finish(message.id, owner, 'failed', reason).then(
          () => true,
          (e: unknown) => logWriteFailure(log, e, 'could not mark message failed'),
        );
        // Not when the message is someone else's now: they will answer it.
        if (marked && generated === undefined && message.reply === null) await sendFailureReply(message, sender, log);
      }
    }
  }

  /** A write after a failure was refused: a lost lease is the new owner's business, anything else an error. Answers false. */
  function logWriteFailure(log: Logger, error: unknown, message: string): false {
    if (error instanceof LeaseLostError) log.warn('lease lost: another worker has this message now');
    else log.error({ err: error }, message);
    return false;
  }

  /** Best effort, once: the pipeline itself failed (say the database), so the patient hears something. */
  async function sendFailureReply(message: ClaimedMessage, sender: Sender, log: Logger) {
    try {
      const body = options.failureReply(message);
      const { providerMessageId } = await sender.send({ from: message.business, to: message.patient, body });
      metrics.replies.inc({ channel: message.channel, outcome: 'sent' });
      await inbox.recordOutbound({ inboxId: message.id, channel: message.channel, conversation: message.conversation, body, providerMessageId });
    } catch (error) {
      log.error({ err: error }, 'could not send the failure reply either');
    }
  }

  // Leases are renewed while a message is in hand, so that only a dead worker's messages expire.
  let renewal: NodeJS.Timeout | undefined;
  const renewLeases = () => {
    if (inFlight.size === 0) return;
    const held = [...inFlight.keys()];
    inbox.extendLeases(held, owner, leaseSeconds).then(
      (renewed) => {
        const kept = new Set(renewed);
        for (const id of held) {
          if (kept.has(id) || !inFlight.has(id) || lost.has(id)) continue;
          lost.add(id);
          logger.warn({ inboxId: id }, 'lease renewal refused: another worker has this message now; sending nothing more for it');
        }
      },
      (error: unknown) => logger.warn({ err: error }, 'could not renew leases'),
    );
  };

  return {
    owner,
    start() {
      if (running) return;
      running = true;
      renewal = setInterval(renewLeases, (leaseSeconds * 1000) / 3);
      renewal.unref();
      loopDone = loop();
      logger.info({ owner, concurrency: options.concurrency }, 'worker started');
    },
    /** A message was stored: look now rather than at the next poll. */
    wake: signal,
    /** An emergency was stored: look now, even if every slot is taken. */
    wakeUrgent() {
      urgent = true;
      signal();
    },
    /**
     * Stops claiming, waits up to timeoutMs for the messages in hand, then hands back the ones still
     * unfinished so that the next start answers them without waiting for their lease to run out.
     */
    async stop(timeoutMs: number) {
      running = false;
      clearInterval(renewal);
      signal();
      await loopDone;
      const unfinished = [...inFlight.keys()];
      const settled = await Promise.race([
        Promise.allSettled(inFlight.values()).then(() => true),
        sleep(timeoutMs).then(() => false),
      ]);
      if (!settled && options.releaseOnShutdown) {
        const left = [...inFlight.keys()];
        logger.warn({ left: left.length }, 'shutdown timeout: leaving unfinished messages in the inbox');
        await Promise.all(left.map((id) => inbox.retry(id, owner, 'shutdown', 0).catch(() => undefined)));
      }
      return { finished: unfinished.length - inFlight.size, left: inFlight.size };
    },
    get busy() {
      return inFlight.size;
    },
  };
}

export type InboxWorker = ReturnType<typeof createInboxWorker>;
