import { conversationKey, type ChannelName, type DeliveryStatus, type InboundMedia, type InboundMessage } from '../channels/channel.ts';
import type { Database } from '../db/database.ts';
import { isRetryable } from '../app-error.ts';
import type { Reply } from '../pipeline/reply.ts';
import { groupCalls } from './group-calls.ts';
import { LeaseLostError } from './lease-lost-error.ts';
import type { AlertRefusal } from '../alerts/staff-alerts.ts';

export type ClaimedMessage = {
  id: number;
  channel: ChannelName;
  providerMessageId: string;
  conversation: string;
  patient: string;
  business: string;
  body: string;
  /** 'throttle_notice' for the one message that tells a flooding patient to slow down. */
  kind: InboundMessage['kind'] | 'throttle_notice' | 'outgoing';
  /** How many later messages of the same burst were folded into this one (their text is in `body`). */
  merged: number;
  attempts: number;
  /** Set when an earlier try generated the reply but did not finish sending it. */
  reply: string | null;
  partsSent: number;
};

export type HistoryTurn = { role: 'user' | 'assistant'; content: string };

export type RecordedReply = { id: number; inboxId: number | null; body: string; status: string; createdAt: string };

type ClaimedRow = {
  id: number; channel: ChannelName; provider_message_id: string; conversation: string; patient: string;
  business: string; body: string; kind: ClaimedMessage['kind']; merged: number; attempts: number; reply: string | null; parts_sent: number;
};

type Enqueued = { id: number; duplicate: boolean; state: string };
type EnqueueRow = {
  channel: ChannelName; provider_message_id: string; conversation: string; patient: string; business: string;
  body: string; kind: string; rate_limit: number; rate_window_seconds: number;
};

function toClaimed(row: ClaimedRow): ClaimedMessage {
  return {
    id: row.id, channel: row.channel, providerMessageId: row.provider_message_id, conversation: row.conversation,
    patient: row.patient, business: row.business, body: row.body, kind: row.kind, merged: row.merged, attempts: row.attempts,
    reply: row.reply, partsSent: row.parts_sent,
  };
}

type Updated = { updated: number };

function fenced(id: number, result: Updated): void {
  if (Number(result.updated) === 0) throw new LeaseLostError(id);
}

/** The inbox and outbox, as typed calls to the SQL functions in supabase/migrations. */
export function createInbox(db: Database) {
  // On the embedded database, whose calls run one at a time anyway, webhooks that arrive while one is
  // being stored are stored together (group commit). Supabase runs them in parallel instead.
  const storeOne = (row: EnqueueRow) =>
    db.call<Enqueued>('inbox_enqueue', Object.fromEntries(Object.entries(row).map(([name, value]) => [`p_${name}`, value])));
  const enqueueRow = db.serial
    ? groupCalls<EnqueueRow, Enqueued>({
        one: storeOne,
        many: (rows) => db.call('inbox_enqueue_batch', { p_messages: rows }),
        maxBatch: 64,
        // A batch that failed on its content is retried message by message; one that failed on an
        // outage fails every webhook in it at once, for the provider to redeliver.
        isolate: (error) => !isRetryable(error),
      })
    : storeOne;

  return {
    /**
     * Stores a message once. With a rate limit, the message past the limit in a minute becomes a
     * 'throttle_notice' and later ones are stored as skipped (state 'skipped').
     */
    async enqueue(message: InboundMessage, rateLimitPerMinute = 0): Promise<Enqueued> {
      // A WhatsApp user's business-scoped id keeps them in one conversation, whichever ids they write with.
      if (message.userId) {
        const phone = message.patient === message.userId ? null : message.patient;
        const { patient } = await db.call<{ patient: string }>('patient_alias', { p_channel: message.channel, p_user_id: message.userId, p_phone: phone });
        message = { ...message, patient };
      }
      // First, so that no worker can claim a voice note whose audio it cannot find.
      if (message.media) {
        await db.call('inbound_media_store', { p_channel: message.channel, p_provider_message_id: message.providerMessageId, p_media: message.media });
      }
      return enqueueRow({
        channel: message.channel,
        provider_message_id: message.providerMessageId,
        conversation: conversationKey(message),
        patient: message.patient,
        business: message.business,
        body: message.body,
        kind: message.kind,
        rate_limit: rateLimitPerMinute,
        rate_window_seconds: 60,
      });
    },

    async claim(owner: string, leaseSeconds: number, limit: number): Promise<ClaimedMessage[]> {
      const rows = await db.call<ClaimedRow[]>('inbox_claim', { p_owner: owner, p_lease_seconds: leaseSeconds, p_limit: limit });
      return rows.map(toClaimed);
    },

    /** Emergencies only, whatever the worker's free slots: the worker's urgent lane. */
    async claimEmergencies(owner: string, leaseSeconds: number, limit: number): Promise<ClaimedMessage[]> {
      const rows = await db.call<ClaimedRow[]>('inbox_claim_emergencies', { p_owner: owner, p_lease_seconds: leaseSeconds, p_limit: limit });
      return rows.map(toClaimed);
    },

    /** Renews the leases still held; answers the ids renewed (one missing was claimed by another owner). */
    async extendLeases(ids: number[], owner: string, leaseSeconds: number): Promise<number[]> {
      const result = await db.call<{ ids?: number[] }>('inbox_extend_leases', { p_ids: ids, p_owner: owner, p_lease_seconds: leaseSeconds });
      return (result.ids ?? []).map(Number);
    },

    /** Embedded database only: messages an earlier (dead) process held are due again at once. */
    async releaseOrphans(owner: string): Promise<number> {
      return (await db.call<{ released: number }>('inbox_release_orphans', { p_owner: owner })).released;
    },

    // The writes after a claim are fenced: each is refused once `owner`'s lease is gone (another
    // instance may be answering the message), and then throws a LeaseLostError.

    /** Stores the reply with what it is (origin, sources, whether the documents covered the question). */
    async saveAnswer(id: number, owner: string, reply: Reply): Promise<void> {
      fenced(id, await db.call<Updated>('inbox_save_answer', {
        p_id: id, p_owner: owner, p_reply: reply.text, p_origin: reply.origin, p_sources: reply.sources, p_uncovered: reply.uncovered,
      }));
    },

    /**
     * The language to answer message `id` in: `detected` when the message showed one, else the
     * conversation's latest known language (undefined when it never showed one). Kept on the row.
     */
    async language(id: number, detected: string | undefined): Promise<string | undefined> {
      return (await db.call<{ language: string | null }>('inbox_language', { p_id: id, p_detected: detected ?? null })).language ?? undefined;
    },

    /** Where a voice note's audio is kept (until it is transcribed), or undefined. */
    async media(message: Pick<ClaimedMessage, 'channel' | 'providerMessageId'>): Promise<InboundMedia | undefined> {
      return (await db.call<InboundMedia | null>('inbound_media_get', { p_channel: message.channel, p_provider_message_id: message.providerMessageId })) ?? undefined;
    },

    /** A voice note's transcript becomes its body (history, staff console, export and erasure alike). */
    async saveTranscript(id: number, transcript: string): Promise<void> {
      await db.call('inbox_save_transcript', { p_id: id, p_transcript: transcript });
    },

    /** One part sent. With `owner`, a part of a claimed message, fenced; without, an unclaimed send (an alert). */
    async recordOutbound(part: {
      inboxId: number | null; channel: ChannelName; conversation: string; body: string;
      providerMessageId?: string; status?: string; error?: string; owner?: string;
    }): Promise<void> {
      const result = await db.call<{ owned?: boolean }>('outbound_record', {
        p_inbox_id: part.inboxId, p_channel: part.channel, p_conversation: part.conversation, p_body: part.body,
        p_provider_message_id: part.providerMessageId, p_status: part.status ?? 'sent', p_error: part.error, p_owner: part.owner,
      });
      if (result.owned === false && part.inboxId !== null) throw new LeaseLostError(part.inboxId);
    },

    async finish(id: number, owner: string, state: 'answered' | 'skipped' | 'failed', error?: string): Promise<void> {
      fenced(id, await db.call<Updated>('inbox_finish', { p_id: id, p_owner: owner, p_state: state, p_error: error }));
    },

    async retry(id: number, owner: string, error: string, delayMs: number): Promise<void> {
      fenced(id, await db.call<Updated>('inbox_retry', { p_id: id, p_owner: owner, p_error: error, p_delay_ms: Math.round(delayMs) }));
    },

    /** Messages that could not be answered, newest first, with the provider's error. */
    async failures(limit = 20): Promise<{ id: number; channel: ChannelName; providerMessageId: string; attempts: number; error: string | null }[]> {
      return db.call('inbox_failures', { p_limit: limit });
    },

    async stats(): Promise<Record<string, number>> {
      return db.call('inbox_stats');
    },

    /** The conversation's last turns before message `beforeId` and not older than `since`, oldest first. */
    async history(conversation: string, beforeId: number, options: { since?: string; limit?: number } = {}): Promise<HistoryTurn[]> {
      return db.call('conversation_history', {
        p_conversation: conversation,
        p_limit: options.limit ?? 6,
        p_before_id: beforeId,
        p_since: options.since,
      });
    },

    /** Development only (npm run chat): replies recorded for a conversation after `afterId`, or the newest. */
    async devOutbox(conversation: string, afterId?: number, limit = 20): Promise<{ replies: RecordedReply[]; cursor: number }> {
      return db.call('dev_outbox', { p_conversation: conversation, p_after_id: afterId, p_limit: limit });
    },

    /** Records a delivery report; a staff alert it reports refused gets its fallbacks (returned, to be logged). */
    async recordDeliveryStatus(status: DeliveryStatus): Promise<{ alerts: AlertRefusal[] }> {
      const result = await db.call<{ alerts?: AlertRefusal[] }>('delivery_status_record', {
        p_channel: status.channel, p_provider_message_id: status.providerMessageId, p_status: status.status, p_error: status.error,
      });
      return { alerts: result.alerts ?? [] };
    },
  };
}

export type Inbox = ReturnType<typeof createInbox>;
