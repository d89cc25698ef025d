import type { ChannelName } from '../channels/channel.ts';
import type { Database } from '../db/database.ts';
import type { AlertReason } from '../alerts/staff-alerts.ts';
import type { ReplyOrigin, ReplySource } from '../pipeline/reply.ts';

export type ConversationState = 'emergency' | 'handoff' | 'opted_out' | 'bot';

export type ConversationSummary = {
  id: number;
  /** The patient's full address as the provider gives it ("+1555…", "whatsapp:+1555…", a Meta wa_id). */
  patient: string;
  channel: ChannelName;
  /** The clinic address the patient wrote to: replies go out from it. */
  business: string;
  state: ConversationState;
  lastMessageAt: string;
  lastInboundAt: string | null;
  /** Since when a patient has been waiting for a person (null: nobody is waiting). */
  waitingSince: string | null;
  optedOut: boolean;
  paused: boolean;
};

export type ConversationEvent =
  | { type: 'in'; id: number; at: string; text: string; kind: string; attention: AlertReason | null; state: string }
  | {
      type: 'out'; id: number; at: string; text: string; status: string; error: string | null;
      origin: ReplyOrigin; sources: ReplySource[]; by: string | null;
    }
  | { type: 'action'; id: number; at: string; action: StaffAction; by: string };

export type ConversationDetail = ConversationSummary & { messages: ConversationEvent[] };

export type StaffAction = 'sign_in' | 'sign_out' | 'reply' | 'template' | 'take_over' | 'resume' | 'timeout_resume';

export type Refusal = 'not_found' | 'opted_out' | 'window_closed';

export type ReminderDue = {
  conversationId: number; inboxId: number; channel: ChannelName; business: string; patient: string; body: string;
  reason: AlertReason; round: number;
};

/** The staff console's tables, as typed calls to the SQL functions of 20261201000000_staff_console.sql. */
export function createStaffStore(db: Database) {
  return {
    async loginRequest(input: {
      numberHash: string; clientHash: string; staffNumber: string | null; codeHash: string | null;
      codeTtlSeconds: number; numberLimit: number; clientLimit: number; windowSeconds: number;
    }): Promise<{ allowed: boolean; retryAfterSeconds?: number }> {
      return db.call('staff_login_request', {
        p_number_hash: input.numberHash, p_client_hash: input.clientHash, p_staff_number: input.staffNumber, p_code_hash: input.codeHash,
        p_code_ttl_seconds: input.codeTtlSeconds, p_number_limit: input.numberLimit, p_client_limit: input.clientLimit,
        p_window_seconds: input.windowSeconds,
      });
    },
    async loginVerify(input: {
      staffNumber: string; codeHash: string; tokenHash: string; csrfToken: string; sessionHours: number; maxTries: number; maxDailyFailures: number;
    }): Promise<{ ok: boolean; expiresAt?: string; locked?: boolean }> {
      return db.call('staff_login_verify', {
        p_staff_number: input.staffNumber, p_code_hash: input.codeHash, p_token_hash: input.tokenHash, p_csrf_token: input.csrfToken,
        p_session_hours: input.sessionHours, p_max_tries: input.maxTries, p_max_daily_failures: input.maxDailyFailures,
      });
    },
    async session(tokenHash: string): Promise<{ staffNumber: string; csrfToken: string; expiresAt: string } | null> {
      return db.call('staff_session_get', { p_token_hash: tokenHash });
    },
    async revokeSession(tokenHash: string): Promise<boolean> {
      return (await db.call<{ revoked: boolean }>('staff_session_revoke', { p_token_hash: tokenHash })).revoked;
    },
    async lastContact(addresses: string[]): Promise<{ channel: ChannelName; business: string; patient: string; receivedAt: string } | null> {
      return db.call('staff_last_contact', { p_addresses: addresses });
    },
    async conversations(since: Date, limit = 200): Promise<ConversationSummary[]> {
      return db.call('staff_conversations', { p_since: since.toISOString(), p_limit: limit });
    },
    async conversation(id: number): Promise<ConversationDetail | null> {
      return db.call('staff_conversation', { p_id: id });
    },
    /**
     * Queues a staff reply for the worker to send; refused when the patient opted out or, on WhatsApp,
     * they have not written within `windowHours` (the customer-service window; SMS has none).
     */
    async reply(id: number, staffNumber: string, body: string, windowHours: number): Promise<{ inboxId: number; conversationId: number } | { refused: Refusal }> {
      return db.call('staff_reply', { p_id: id, p_staff_number: staffNumber, p_body: body, p_window_hours: windowHours });
    },
    async act(id: number, staffNumber: string, action: 'take_over' | 'resume' | 'template' | 'timeout_resume'): Promise<{ conversationId: number } | { refused: Refusal }> {
      return db.call('staff_act', { p_id: id, p_staff_number: staffNumber, p_action: action });
    },
    async remindersDue(minutes: number, maxRounds: number): Promise<ReminderDue[]> {
      return db.call('staff_reminders_due', { p_minutes: minutes, p_max_rounds: maxRounds });
    },
    /**
     * Ends pauses with no staff action for `hours`; where the message can arrive the patient is told,
     * in the conversation's language (`bodies` by language code, English when it is not known).
     */
    async endExpiredPauses(hours: number, windowHours: number, bodies: Record<string, string>): Promise<{ ended: number; told: number }> {
      return db.call('staff_end_expired_pauses', { p_hours: hours, p_window_hours: windowHours, p_bodies: bodies });
    },
    async uncoveredQuestions(since: Date, limit = 500): Promise<{ id: number; conversationId: number; at: string; text: string }[]> {
      return db.call('staff_uncovered_questions', { p_since: since.toISOString(), p_limit: limit });
    },
    async changeMarker(): Promise<string> {
      return db.call('staff_change_marker');
    },
    async housekeeping(): Promise<Record<string, number>> {
      return db.call('staff_housekeeping');
    },
  };
}

export type StaffStore = ReturnType<typeof createStaffStore>;
