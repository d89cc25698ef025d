import type { ChannelName } from '../channels/channel.ts';
import { addressOn } from '../channels/phone-number.ts';
import { alertText, type AlertOptions } from './alert-text.ts';
import type { AlertReason, AlertWay, PlannedAlert } from './staff-alerts.ts';

/** The other ways an alert can reach staff, from the environment. */
export type AlertRoutes = {
  /** STAFF_ALERT_SMS_FROM: a Twilio SMS number. */
  smsFrom: string | undefined;
  /** TWILIO_ALERT_CONTENT_SID: an approved Content template for WhatsApp through Twilio. */
  twilioContentSid: string | undefined;
  /** META_ALERT_TEMPLATE: an approved template of the WhatsApp Business account, "name:language". */
  metaTemplate: string | undefined;
};

export type AlertedMessage = { id: number; channel: ChannelName; business: string; patient: string; body: string };

/**
 * One alert per staff number, sent first the way the patient wrote (from the number they wrote to),
 * with the ways to try at once if WhatsApp refuses it (a staff phone outside its 24-hour window): an
 * approved template on the same WhatsApp line, and an SMS. An SMS alert has no window to fall out of;
 * its only fallback is another SMS number, if one is set.
 */
export function planAlerts(
  message: AlertedMessage, reason: AlertReason, staffNumbers: string[], routes: AlertRoutes, options: AlertOptions = {},
): PlannedAlert[] {
  const { body, variables } = alertText(reason, message, options);
  const onWhatsApp = message.channel === 'meta' || message.business.startsWith('whatsapp:');
  return staffNumbers.map((staffNumber) => {
    const recipient = addressOn(message.channel, message.business, staffNumber);
    const fallbacks: AlertWay[] = [];
    const template = message.channel === 'meta' ? routes.metaTemplate : routes.twilioContentSid;
    if (onWhatsApp && template) fallbacks.push({ route: 'template', channel: message.channel, sender: message.business, recipient, template, variables });
    if (routes.smsFrom && (onWhatsApp || routes.smsFrom !== message.business)) {
      fallbacks.push({ route: 'sms', channel: 'twilio', sender: routes.smsFrom, recipient: staffNumber });
    }
    return { staffNumber, channel: message.channel, sender: message.business, recipient, body, fallbacks };
  });
}
