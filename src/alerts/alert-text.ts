import type { ChannelName } from '../channels/channel.ts';
import { isBusinessScopedUserId, phoneNumberOf } from '../channels/phone-number.ts';
import type { AlertReason } from './staff-alerts.ts';

const HEADLINES: Record<AlertReason, string> = {
  emergency: 'URGENT (possible emergency)',
  self_harm: 'URGENT (self-harm risk)',
  handoff: 'A patient asked for a person',
};

/** How staff would name the way the patient wrote: they call back, or answer, on the same line. */
function channelLabel(channel: ChannelName, patient: string): string {
  if (channel === 'meta') return 'WhatsApp';
  return patient.startsWith('whatsapp:') ? 'WhatsApp via Twilio' : 'SMS';
}

export type AlertSubject = { id: number; channel: ChannelName; patient: string; body: string };

/** A first alert has no options; a reminder says how long the patient has waited; both link to the console when PUBLIC_URL is set. */
export type AlertOptions = { consoleUrl?: string | undefined; waitedMinutes?: number };

/**
 * The alert as staff read it. Staff phones belong to the clinic, so it carries the patient's full
 * number (to call back) and the channel; the logs keep masking it. The values fill an approved
 * WhatsApp template in the same order: headline, patient and channel, message. Template values may
 * not hold line breaks, tabs or more than four spaces in a row (WhatsApp refuses them).
 */
export function alertText(reason: AlertReason, subject: AlertSubject, options: AlertOptions = {}): { body: string; variables: string[] } {
  const headline = options.waitedMinutes ? `Reminder, no reply after ${options.waitedMinutes} min: ${HEADLINES[reason]}` : HEADLINES[reason];
  // A WhatsApp user with a username may have given no phone number: staff reply to them in WhatsApp.
  const patient = isBusinessScopedUserId(subject.patient)
    ? `${subject.patient} (WhatsApp username, no phone number)`
    : `${phoneNumberOf(subject.patient)} (${channelLabel(subject.channel, subject.patient)})`;
  const excerpt = subject.body.replace(/\s+/g, ' ').trim().slice(0, 500);
  const action = reason === 'handoff' ? 'Please reply to them or call them.' : 'Please call them now.';
  const link = options.consoleUrl ? ` Open: ${options.consoleUrl}/staff/c/${subject.id}` : '';
  return {
    body: `${headline}: patient ${patient}, message ${subject.id}: "${excerpt}". ${action}${link}`,
    variables: [headline, patient, excerpt],
  };
}
