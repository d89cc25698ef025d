import { planAlerts, type AlertRoutes } from '../alerts/plan-alerts.ts';
import type { StaffAlerts } from '../alerts/staff-alerts.ts';
import type { Logger } from '../logger.ts';
import type { StaffStore } from './staff-store.ts';

/** Reminders stop after this many rounds (at 1×, 2× and 3× HANDOFF_REMIND_MINUTES): the rest is for the clinic's own escalation. */
export const MAX_REMINDER_ROUNDS = 3;
const WINDOW_HOURS = 24;

export type HandoffWatchDependencies = {
  store: StaffStore;
  alerts: StaffAlerts;
  staffAlertNumbers: string[];
  alertRoutes: AlertRoutes;
  publicUrl: string | undefined;
  remindMinutes: number;
  timeoutHours: number;
  /** What a patient is told when their pause ends, by language code ('en' is used when the language is not known). */
  backMessages: Record<string, string>;
  onAlertsRaised: () => void;
  onQueued: () => void;
  logger: Logger;
  intervalMs?: number;
};

/**
 * Nothing left waiting: every `intervalMs` (30 s), a conversation waiting for a person (an emergency, a
 * handoff) with no staff action for HANDOFF_REMIND_MINUTES alerts staff again, and a pause with no
 * staff action for HANDOFF_TIMEOUT_HOURS ends, the patient told the assistant is back. Both are
 * decided in the database, once, whichever instance asks first.
 */
export function watchHandoffs(deps: HandoffWatchDependencies) {
  const { store, logger } = deps;

  async function remind(): Promise<number> {
    if (deps.staffAlertNumbers.length === 0) return 0;
    const due = await store.remindersDue(deps.remindMinutes, MAX_REMINDER_ROUNDS);
    let raised = 0;
    for (const reminder of due) {
      const planned = planAlerts({ ...reminder, id: reminder.inboxId }, reminder.reason, deps.staffAlertNumbers, deps.alertRoutes, {
        consoleUrl: deps.publicUrl,
        waitedMinutes: reminder.round * deps.remindMinutes,
      });
      raised += await deps.alerts.raise(reminder.inboxId, reminder.reason, planned, reminder.round);
      logger.warn({ conversationId: reminder.conversationId, reason: reminder.reason, round: reminder.round }, 'no staff reply yet: staff reminded');
    }
    if (raised > 0) deps.onAlertsRaised();
    return raised;
  }

  async function endPauses(): Promise<{ ended: number; told: number }> {
    const result = await store.endExpiredPauses(deps.timeoutHours, WINDOW_HOURS, deps.backMessages);
    if (result.ended > 0) logger.info(result, 'handoff pauses timed out: the assistant answers again');
    if (result.told > 0) deps.onQueued();
    return result;
  }

  // Expired sign-in codes, sessions and rate-limit counts are removed now and then (the first tick, then about hourly).
  let ticks = 0;
  async function tick(): Promise<void> {
    await remind().catch((error: unknown) => logger.error({ err: error }, 'could not send handoff reminders'));
    await endPauses().catch((error: unknown) => logger.error({ err: error }, 'could not end timed-out handoff pauses'));
    if (ticks++ % 120 === 0) await store.housekeeping().catch((error: unknown) => logger.warn({ err: error }, 'could not remove expired staff sessions'));
  }

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  return {
    tick,
    /** Starts watching; resolves once the first look is done. */
    start(): Promise<void> {
      timer ??= setInterval(() => {
        running = running.then(tick);
      }, deps.intervalMs ?? 30_000);
      timer.unref();
      running = running.then(tick);
      return running;
    },
    async stop(): Promise<void> {
      clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
