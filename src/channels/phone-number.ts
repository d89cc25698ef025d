/**
 * The E.164 number behind a channel address: "whatsapp:+15551234567" (Twilio WhatsApp) and
 * "15551234567" (a Meta wa_id, no plus) are both "+15551234567". Used to recognise staff numbers.
 */
export function phoneNumberOf(address: string): string {
  const bare = address.replace(/^[a-z]+:/i, '').replace(/[\s()-]/g, '');
  return bare.startsWith('+') ? bare : `+${bare}`;
}

/** Every address one phone number can have here: SMS, WhatsApp through Twilio, and a Meta wa_id. */
export function addressesOf(phoneNumber: string): string[] {
  return [phoneNumber, `whatsapp:${phoneNumber}`, phoneNumber.replace(/^\+/, '')];
}

/** A phone number written as an address on the channel and sender line that `business` belongs to. */
export function addressOn(channel: 'twilio' | 'meta', business: string, phoneNumber: string): string {
  if (channel === 'meta') return phoneNumber.replace(/^\+/, '');
  return business.startsWith('whatsapp:') ? `whatsapp:${phoneNumber}` : phoneNumber;
}
