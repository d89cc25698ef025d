import { addressesOf } from '../channels/addresses-of.ts';

/**
 * Every address one patient can have here, from any of them: "+15551234567" (SMS),
 * "whatsapp:+15551234567" (WhatsApp through Twilio) or "15551234567" (a Meta wa_id). Anything else is
 * refused with the reason: an erasure must not miss a channel, nor match someone else. A number
 * WhatsApp spells its own way (Mexico, Argentina, Brazil: see canonicalPhoneNumber) gives both spellings.
 */
export function patientAddresses(address: string): { phoneNumber: string; addresses: string[] } {
  const match = /^(?:whatsapp:)?\+?([1-9]\d{6,14})$/.exec(address.trim().replace(/[\s()-]/g, ''));
  if (!match) throw new Error(`not a patient address: ${JSON.stringify(address)} (use an E.164 number like +15551234567, whatsapp:+15551234567, or a WhatsApp id like 15551234567)`);
  const phoneNumber = `+${match[1]}`;
  return { phoneNumber, addresses: addressesOf(phoneNumber) };
}
