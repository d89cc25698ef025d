import type { ChannelName } from '../channels/channel.ts';
import type { Database } from '../db/database.ts';

export type AlertReason = 'emergency' | 'self_harm' | 'handoff';
export type AlertRoute = 'direct' | 'template' | 'sms';

/** One way of reaching one staff member: which channel, from which address, to which address. */
export type AlertWay = {
  route: AlertRoute;
  channel: ChannelName;
  sender: string;
  recipient: string;
  /** For route 'template': a Twilio Content SID (HX…) or Meta "name:language", and its values in order. */
  template?: string;
  variables?: string[];
};

/** An alert to raise: the direct way, and the ways to try at once if WhatsApp refuses it. */
export type PlannedAlert = { staffNumber: string; channel: ChannelName; sender: string; recipient: string; body: string; fallbacks: AlertWay[] };

export type ClaimedAlert = AlertWay & { id: number; inboxId: number; reason: AlertReason; staffNumber: string; body: string; attempts: number };

/** What happened when an alert could not be delivered its way (from staff_alert_refused). */
export type AlertRefusal =
  | { changed: false }
  | { changed: true; id: number; inboxId: number; route: AlertRoute; state: 'refused' | 'failed'; fallbacksCreated: number; failedEveryWay: boolean };

/** The staff_alerts table, as typed calls to its SQL functions (supabase/migrations/20261130000000_staff_alerts.sql). */
export function createStaffAlerts(db: Database) {
  return {
    /**
     * Idempotent per message, staff member, route and round (0: the alert, 1…: reminders): a retried
     * message raises nothing new. Marks the message as waiting for a person, even with no one to alert.
     */
    async raise(inboxId: number, reason: AlertReason, alerts: PlannedAlert[], round = 0): Promise<number> {
      const rows = alerts.map((alert) => ({
        staff_number: alert.staffNumber,
        channel: alert.channel,
        sender: alert.sender,
        recipient: alert.recipient,
        body: alert.body,
        fallbacks: alert.fallbacks,
      }));
      return (await db.call<{ created: number }>('staff_alerts_raise', { p_inbox_id: inboxId, p_reason: reason, p_alerts: rows, p_round: round })).created;
    },
    async claim(owner: string, leaseSeconds: number, limit: number): Promise<ClaimedAlert[]> {
      return db.call('staff_alerts_claim', { p_owner: owner, p_lease_seconds: leaseSeconds, p_limit: limit });
    },
    /** Recorded as sent; a refusal when its failure report had already arrived. */
    async sent(id: number, owner: string, providerMessageId: string): Promise<AlertRefusal | undefined> {
      const result = await db.call<{ refusal?: AlertRefusal }>('staff_alerts_sent', { p_id: id, p_owner: owner, p_provider_message_id: providerMessageId });
      return result.refusal;
    },
    async retry(id: number, owner: string, error: string, delayMs: number): Promise<void> {
      await db.call('staff_alerts_retry', { p_id: id, p_owner: owner, p_error: error, p_delay_ms: Math.round(delayMs) });
    },
    /** Keeps failing with errors that may pass: the fallbacks go out now, and this way is tried again after delayMs. */
    async escalate(id: number, owner: string, error: string, delayMs: number): Promise<{ changed: boolean; fallbacksCreated?: number }> {
      return db.call('staff_alert_escalate', { p_id: id, p_owner: owner, p_error: error, p_delay_ms: Math.round(delayMs) });
    },
    async refused(id: number, error: string): Promise<AlertRefusal> {
      return db.call('staff_alert_refused', { p_id: id, p_error: error });
    },
  };
}

export type StaffAlerts = ReturnType<typeof createStaffAlerts>;
