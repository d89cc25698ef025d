import { randomUUID } from 'node:crypto';

import { isRetryable } from '../app-error.ts';
import type { ChannelName, Sender } from '../channels/channel.ts';
import { maskAddress, type Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { createWakeSignal } from '../worker/create-wake-signal.ts';
import { reportAlertRefusal } from './report-alert-refusal.ts';
import type { AlertRefusal, ClaimedAlert, StaffAlerts } from './staff-alerts.ts';

export type AlertDispatcherOptions = {
  alerts: StaffAlerts;
  senders: Record<ChannelName, Sender>;
  logger: Logger;
  metrics: Metrics;
  pollIntervalMs?: number;
  retryBaseDelayMs?: number;
  /** After this many failed tries of errors that may pass, the fallbacks go out too (the way keeps being retried). */
  maxAttempts?: number;
  leaseSeconds?: number;
};

/**
 * Sends staff alerts apart from the patients' replies: an alert never waits for a worker slot, and a
 * patient's emergency reply never waits for an alert. Claims due alerts (new, retried, fallbacks of a
 * refused one) and sends each at once. A send the provider refuses for good (a closed WhatsApp window,
 * a bad number) is refused: staff_alert_refused creates its fallbacks and says whether any way is
 * left. One that keeps failing with errors that may pass is retried until it goes through, and its
 * fallbacks go out meanwhile.
 */
export function createAlertDispatcher(options: AlertDispatcherOptions) {
  const { alerts, logger, metrics } = options;
  const owner = `alerts-${randomUUID()}`;
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;
  const retryBaseDelayMs = options.retryBaseDelayMs ?? 1_000;
  const maxAttempts = options.maxAttempts ?? 4;
  const leaseSeconds = options.leaseSeconds ?? 60;
  const inFlight = new Set<Promise<void>>();
  let running = false;
  let loopDone: Promise<void> = Promise.resolve();
  const wake = createWakeSignal(pollIntervalMs);
  const signal = () => wake.signal();

  async function loop() {
    while (running) {
      wake.clear();
      try {
        const claimed = await alerts.claim(owner, leaseSeconds, 16);
        for (const alert of claimed) {
          const work = send(alert).finally(() => inFlight.delete(work));
          inFlight.add(work);
        }
        if (claimed.length === 16) continue;
      } catch (error) {
        logger.error({ err: error }, 'could not claim staff alerts');
      }
      if (running) await wake.wait();
    }
  }

  async function send(alert: ClaimedAlert): Promise<void> {
    const log = logger.child({ alertId: alert.id, inboxId: alert.inboxId, route: alert.route, to: maskAddress(alert.recipient) });
    const sender = options.senders[alert.channel];
    let providerMessageId: string;
    try {
      ({ providerMessageId } =
        alert.route === 'template'
          ? await sendTemplate(sender, alert)
          : await sender.send({ from: alert.sender, to: alert.recipient, body: alert.body }));
    } catch (error) {
      await sendFailed(alert, error, log);
      return;
    }
    metrics.staffAlerts.inc({ route: alert.route, outcome: 'sent' });
    log.info({ reason: alert.reason }, 'staff alert sent');
    // The provider has it: only the bookkeeping is left, and a failure there must not send it again.
    for (let attempt = 1; ; attempt++) {
      try {
        const early = await alerts.sent(alert.id, owner, providerMessageId);
        if (early) report(early, alert);
        return;
      } catch (error) {
        if (attempt >= 3) {
          log.error({ err: error }, 'staff alert sent but not recorded; it may be sent again when its lease runs out');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, retryBaseDelayMs * attempt));
      }
    }
  }

  /**
   * A send that may pass (5xx, 429, no answer) is tried again with backoff, capped at a minute, for
   * as long as it takes: an outage must not end an emergency alert. After a few tries its fallbacks go
   * out too. Only a refusal (a closed window, a bad number) ends a way.
   */
  async function sendFailed(alert: ClaimedAlert, error: unknown, log: Logger) {
    const reason = error instanceof Error ? error.message : String(error);
    if (isRetryable(error)) {
      const delay = running ? Math.min(60_000, retryBaseDelayMs * 2 ** (alert.attempts - 1)) * (0.5 + Math.random() / 2) : 0;
      log.warn({ err: error, attempt: alert.attempts, retryInMs: Math.round(delay) }, 'staff alert failed; will retry');
      const escalated = alert.attempts === maxAttempts ? await alerts.escalate(alert.id, owner, reason, delay).catch(() => undefined) : undefined;
      if (escalated?.changed) {
        if ((escalated.fallbacksCreated ?? 0) > 0) {
          log.warn({ fallbacks: escalated.fallbacksCreated }, 'staff alert keeps failing; sending it the other configured ways meanwhile');
          signal();
        }
        return;
      }
      await alerts.retry(alert.id, owner, reason, delay).catch((e: unknown) => log.error({ err: e }, 'could not schedule the alert retry; its lease will expire'));
      return;
    }
    log.warn({ err: error, attempt: alert.attempts }, 'staff alert refused');
    const refusal = await alerts.refused(alert.id, reason).catch((e: unknown) => {
      log.error({ err: e }, 'could not record the refused alert; its lease will expire and it will be tried again');
      return undefined;
    });
    if (refusal) report(refusal, alert, reason);
  }

  function report(refusal: AlertRefusal, alert: ClaimedAlert, error?: string) {
    reportAlertRefusal(refusal, { logger, metrics, staffNumber: alert.staffNumber, ...(error ? { error } : {}) });
    if (refusal.changed && refusal.fallbacksCreated > 0) signal();
  }

  return {
    owner,
    start() {
      if (running) return;
      running = true;
      loopDone = loop();
    },
    /** Alerts were raised, or a refusal created fallbacks: look now rather than at the next poll. */
    wake: signal,
    async stop(timeoutMs: number) {
      running = false;
      signal();
      await loopDone;
      await Promise.race([Promise.allSettled([...inFlight]), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
    },
  };
}

export type AlertDispatcher = ReturnType<typeof createAlertDispatcher>;

function sendTemplate(sender: Sender, alert: ClaimedAlert) {
  if (!sender.sendTemplate || !alert.template) {
    throw new Error(`no template sending on channel ${alert.channel}`);
  }
  return sender.sendTemplate({ from: alert.sender, to: alert.recipient, template: alert.template, variables: alert.variables ?? [] });
}
