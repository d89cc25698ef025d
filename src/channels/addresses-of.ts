import { phoneNumberSpellings } from './canonical-phone-number.ts';

/**
 * Every address one phone number can have here, for each way WhatsApp may spell it: SMS,
 * WhatsApp through Twilio, and a Meta wa_id. Used to find a person's stored rows (#resume, erasure,
 * a staff phone's last contact), which keep the address the channel sent.
 */
export function addressesOf(phoneNumber: string): string[] {
  return phoneNumberSpellings(phoneNumber).flatMap((spelling) => [spelling, `whatsapp:${spelling}`, spelling.slice(1)]);
}
