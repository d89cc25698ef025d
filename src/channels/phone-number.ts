/**
 * The E.164 number behind a channel address: "whatsapp:+15551234567" (Twilio WhatsApp) and
 * "15551234567" (a Meta wa_id, no plus) are both "+15551234567". To compare numbers, use
 * canonicalPhoneNumber: a wa_id may spell the same phone differently (Mexico, Argentina, Brazil).
 */
export function phoneNumberOf(address: string): string {
  const bare = address.replace(/^[a-z]+:/i, '').replace(/[\s()-]/g, '');
  return bare.startsWith('+') ? bare : `+${bare}`;
}

/** A phone number written as an address on the channel and sender line that `business` belongs to. */
export function addressOn(channel: 'twilio' | 'meta', business: string, phoneNumber: string): string {
  if (channel === 'meta') return phoneNumber.replace(/^\+/, '');
  return business.startsWith('whatsapp:') ? `whatsapp:${phoneNumber}` : phoneNumber;
}

/**
 * A WhatsApp business-scoped user id (BSUID): a two-letter country code, a period, then up to 128 letters
 * and digits ("US.13491208655302741918"; a parent BSUID has "ENT." after the country code). Meta sends
 * one instead of the phone number for a user who adopted a username.
 */
export function isBusinessScopedUserId(address: string): boolean {
  return /^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$/.test(address);
}
