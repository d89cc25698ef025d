import { maskAddress, type Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { AlertRefusal } from './staff-alerts.ts';

/**
 * Logs and counts what became of an alert that could not be delivered its way, wherever that was
 * learnt (a send the provider refused, or a delivery report of failure). An alert that has failed every
 * way for a staff member is an error: someone at the clinic may not know of an emergency.
 */
export function reportAlertRefusal(refusal: AlertRefusal, context: { logger: Logger; metrics: Metrics; staffNumber?: string; error?: string }): void {
  if (!refusal.changed) return;
  const { logger, metrics } = context;
  const fields = { alertId: refusal.id, inboxId: refusal.inboxId, route: refusal.route, ...(context.staffNumber ? { to: maskAddress(context.staffNumber) } : {}), error: context.error };
  metrics.staffAlerts.inc({ route: refusal.route, outcome: 'refused' });
  if (refusal.fallbacksCreated > 0) logger.warn({ ...fields, fallbacks: refusal.fallbacksCreated }, 'staff alert refused; sending it the other configured ways');
  if (refusal.failedEveryWay) {
    metrics.staffAlerts.inc({ route: refusal.route, outcome: 'unreached' });
    logger.error(fields, 'staff alert failed every way: a staff member was not reached (set STAFF_ALERT_SMS_FROM or an alert template)');
  } else if (refusal.fallbacksCreated === 0) {
    logger.warn(fields, 'staff alert failed this way; others are still under way');
  }
}
