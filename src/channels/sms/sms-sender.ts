import type { Metrics } from '../../metrics.ts';
import type { Sender } from '../channel.ts';
import { countSmsSegments } from './count-sms-segments.ts';
import { isSms } from './is-sms.ts';
import { toGsm7 } from './to-gsm7.ts';

/**
 * The Twilio sender, with what SMS needs on every message it sends (replies, fixed replies, staff
 * alerts): typographic punctuation replaced by GSM-7 (one curly quote would more than double the
 * price), and the segments billed counted. WhatsApp through Twilio is sent as it is.
 */
export function smsSender(sender: Sender, metrics: Metrics): Sender {
  return {
    ...sender,
    async send(message) {
      if (!isSms('twilio', message.to)) return sender.send(message);
      const body = toGsm7(message.body);
      const sent = await sender.send({ ...message, body });
      const size = countSmsSegments(body);
      metrics.smsSegments.inc({ encoding: size.encoding }, size.segments);
      return sent;
    },
  };
}
