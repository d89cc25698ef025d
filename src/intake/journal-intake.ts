import { AppError, isRetryable } from '../app-error.ts';
import type { InboundMessage } from '../channels/channel.ts';
import { maskAddress, type Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Inbox } from '../store/inbox.ts';
import type { Arrival, Intake, OnStored } from './intake.ts';
import type { JournalFile } from './journal-file.ts';
import { encodeRecords } from './journal-records.ts';
import { logStored } from './log-stored.ts';

/** As many as the inbox's group commit stores in one call (src/store/inbox.ts). */
const MAX_BATCH = 64;

/**
 * How long the drainer lets messages gather before a call, unless an emergency is among them or a
 * batch is full. Webhooks come one at a time, and without a wait each was stored by a call of its own:
 * at 500 a second that kept the database thread 0.45 of a core busy (a call costs about 0.7 ms before
 * its first row), on the two cores the webhooks' thread shares. The messages are acknowledged already;
 * the reply, seconds away, does not notice 20 ms.
 */
const GATHER_MS = 20;

/** Errors of the database, not of the message: the message waits in the journal and is tried again. */
const OUTAGE_CODES = new Set(['db_closed', 'db_unavailable', 'db_function_missing']);

type JournalRecord = Arrival & { v: 1 };

/**
 * The webhook's messages go into an append-only journal, and the webhook is answered as soon as the
 * append returns; a drainer on this same thread then stores them in the inbox, in journal order,
 * behind the answer. The embedded database's thread also runs searches, claims, ingestion and
 * analyze on the same two cores, so an acknowledgement that waited for it waited for all of that
 * (BENCHMARKS.md, "Why the acknowledgement target was missed").
 *
 * With `file`, the journal is `<DATA_DIR>.journal` and survives the process (see journal-file.ts);
 * records an earlier process left in it are stored first, and `replayed` says when. Without, for
 * `DATA_DIR=memory://`, it is this queue alone: such a database is lost with the process anyway, so
 * a file would add no durability, only writes.
 *
 * Appends and the truncation that empties the journal both run on the main thread, and the drainer
 * truncates only in the same synchronous step that found every appended record stored: no append can
 * fall between the check and the truncation, so none is ever cut away unstored.
 */
export function createJournalIntake(options: {
  file?: JournalFile;
  inbox: Pick<Inbox, 'enqueue'>;
  logger: Logger;
  metrics: Pick<Metrics, 'journalRejected' | 'watchJournal'>;
  onStored: OnStored;
  /** Backoff while the database is unavailable: first and longest wait. */
  retryDelayMs?: { first: number; max: number };
  /** How long messages gather before a call (GATHER_MS). */
  gatherMs?: number;
}): Intake {
  const { file, inbox, logger, metrics } = options;
  const retryDelay = options.retryDelayMs ?? { first: 100, max: 5_000 };
  /** Acknowledged, not yet settled (stored or rejected), in journal order. */
  const queue: Arrival[] = [];
  let appended = 0;
  let settled = 0;
  const waiters: { until: number; resolve: () => void }[] = [];
  let draining = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let nextDelay = retryDelay.first;
  let closed = false;
  /** Stopping: what is left is stored without waiting to gather more. */
  let stopping = false;
  /** `appended` when the journal was last emptied: an idle drainer does not truncate again. */
  let truncatedAt = 0;
  /** Set while the drainer lets messages gather: `now` ends the wait early. */
  let gathering: { now: () => void } | undefined;
  const gather = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => gathering?.now(), options.gatherMs ?? GATHER_MS);
      gathering = {
        now: () => {
          clearTimeout(timer);
          gathering = undefined;
          resolve();
        },
      };
    });
  /**
   * An emergency, or a full batch, is stored at once; so is a message that is stored on its own anyway
   * (see nextBatch), for which nothing would gather.
   */
  const worthNoWait = () => queue.length >= MAX_BATCH || goesAlone(queue[0]!) || queue.some((arrival) => arrival.message.kind === 'emergency');

  const settle = (count: number) => {
    settled += count;
    for (const waiter of waiters.filter((w) => settled >= w.until)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };
  const settledUpTo = (until: number) => (settled >= until ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ until, resolve })));

  const enqueue = (arrivals: Arrival[]) => {
    queue.push(...arrivals);
    appended += arrivals.length;
  };

  /** A message the database refused for what it is: kept aside, so that it neither blocks the ones behind it nor vanishes. */
  const reject = (arrival: Arrival, error: unknown) => {
    const reason = describeRefusal(error);
    file?.reject({ rejectedAt: new Date().toISOString(), error: reason, message: arrival.message, rateLimit: arrival.rateLimit });
    metrics.journalRejected.inc();
    const { message } = arrival;
    logger.error(
      { channel: message.channel, providerMessageId: message.providerMessageId, from: maskAddress(message.patient), kind: message.kind, code: reason.code, sqlState: reason.sqlState, ...(file ? { keptIn: file.rejectedPath } : {}) },
      file ? 'inbound message refused by the database: kept in the rejected file, not answered' : 'inbound message refused by the database: not answered',
    );
  };

  const drain = async () => {
    draining = true;
    while (queue.length > 0 && !closed) {
      if (!worthNoWait() && !stopping) await gather();
      const batch = nextBatch(queue);
      const results = await Promise.allSettled(batch.map(({ message, rateLimit }) => inbox.enqueue(message, rateLimit)));
      let done = 0;
      let stored = 0;
      let urgent = false;
      let outage: unknown;
      for (const [index, result] of results.entries()) {
        const arrival = batch[index]!;
        if (result.status === 'fulfilled') {
          logStored(logger, arrival.message, result.value);
          if (!result.value.duplicate) stored++;
          if (!result.value.duplicate && arrival.message.kind === 'emergency') urgent = true;
        } else if (isOutage(result.reason)) {
          outage = result.reason;
          break;
        } else {
          try {
            reject(arrival, result.reason);
          } catch (error) {
            // The rejected file cannot be written either (the disk is full): keep it in the journal.
            outage = error;
            break;
          }
        }
        done++;
      }
      // Only appends happened meanwhile, at the end: the batch is still at the front.
      queue.splice(0, done);
      settle(done);
      if (stored > 0) options.onStored({ urgent });
      if (outage !== undefined) {
        if (!closed) {
          logger.warn({ err: outage, waiting: queue.length, retryInMs: nextDelay }, 'could not store journaled messages; they stay in the journal and are tried again');
          retryTimer = setTimeout(() => {
            retryTimer = undefined;
            kick();
          }, nextDelay).unref();
          nextDelay = Math.min(nextDelay * 2, retryDelay.max);
        }
        draining = false;
        return;
      }
      nextDelay = retryDelay.first;
    }
    // Everything appended so far is stored, checked in this same synchronous step: see above.
    if (queue.length === 0 && file && !closed && appended > truncatedAt) {
      truncatedAt = appended;
      try {
        file.truncate();
      } catch (error) {
        logger.warn({ err: error }, 'could not empty the inbox journal; its records are stored, and are found stored again at the next start');
      }
    }
    draining = false;
  };

  const kick = () => {
    if (!draining && !retryTimer && !closed) void drain();
  };

  if (file) {
    const { records, tornBytes } = file.leftovers;
    if (tornBytes > 0) logger.warn({ journal: file.path, tornBytes }, 'the inbox journal ends with a torn record (cut short by a crash or a full disk): skipped');
    const readable = records.filter(isJournalRecord);
    const unreadable = records.filter((record) => !isJournalRecord(record));
    for (const record of unreadable) file.reject({ rejectedAt: new Date().toISOString(), error: { code: 'unreadable_record' }, record });
    if (unreadable.length > 0) {
      metrics.journalRejected.inc(unreadable.length);
      logger.error({ journal: file.path, unreadable: unreadable.length }, 'inbox journal records of an unknown shape: moved to the rejected file');
    }
    if (readable.length > 0) logger.warn({ messages: readable.length }, 'storing messages an earlier process acknowledged but had not stored');
    enqueue(readable.map(({ message, rateLimit }) => ({ message, rateLimit })));
  }
  metrics.watchJournal(() => appended - settled);
  const replayed = settledUpTo(appended);
  kick();

  return {
    accept(arrivals) {
      if (arrivals.length === 0) return;
      if (file) {
        try {
          file.append(encodeRecords(arrivals.map((arrival): JournalRecord => ({ v: 1, ...arrival }))));
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
          // Never a 200 for a message that is not written: a 503 makes the provider deliver it again.
          throw new AppError(`could not write the inbox journal (${code}); the provider will deliver the message again`, { code: 'journal_unwritable', status: 503, retryable: true, cause: error });
        }
      }
      enqueue(arrivals);
      if (gathering && worthNoWait()) gathering.now();
      kick();
    },
    get waiting() {
      return appended - settled;
    },
    replayed,
    async stop(timeoutMs) {
      stopping = true;
      gathering?.now();
      if (retryTimer) {
        clearTimeout(retryTimer);
        retryTimer = undefined;
        kick();
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([settledUpTo(appended), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
      closed = true;
      file?.close();
      return { left: appended - settled };
    },
  };
}

/**
 * The next messages to store together: consecutive ones, stored concurrently so that the inbox's
 * group commit takes them in one call, in order. A message with a WhatsApp user id or a voice note's
 * audio makes calls of its own before its inbox row (src/store/inbox.ts): it goes alone, so that no
 * later message can overtake it.
 */
function nextBatch(queue: Arrival[]): Arrival[] {
  if (goesAlone(queue[0]!)) return [queue[0]!];
  const batch: Arrival[] = [];
  for (const arrival of queue) {
    if (batch.length === MAX_BATCH || goesAlone(arrival)) break;
    batch.push(arrival);
  }
  return batch;
}

function goesAlone(arrival: Arrival): boolean {
  return arrival.message.userId !== undefined || arrival.message.media !== undefined;
}

function isOutage(error: unknown): boolean {
  return isRetryable(error) || (error instanceof AppError && OUTAGE_CODES.has(error.code));
}

/** What the rejected file and the log say: codes, and the database's message in the file only. */
function describeRefusal(error: unknown): { code: string; sqlState?: string; message: string } {
  if (error instanceof AppError) {
    const sqlState = typeof error.details?.code === 'string' ? error.details.code : undefined;
    return { code: error.code, ...(sqlState ? { sqlState } : {}), message: error.message };
  }
  return { code: 'error', message: error instanceof Error ? error.message : String(error) };
}

function isJournalRecord(record: unknown): record is JournalRecord {
  const r = record as Partial<JournalRecord> | null;
  const message = r?.message as Partial<InboundMessage> | undefined;
  return (
    r?.v === 1 && typeof r.rateLimit === 'number' && typeof message === 'object' && message !== null &&
    typeof message.channel === 'string' && typeof message.providerMessageId === 'string' && typeof message.patient === 'string' &&
    typeof message.business === 'string' && typeof message.body === 'string' && typeof message.kind === 'string'
  );
}
