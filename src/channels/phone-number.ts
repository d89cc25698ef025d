/**
 * The E.164 number behind a channel address: "whatsapp:+15551234567" (Twilio WhatsApp) and
 * "15551234567" (a Meta wa_id, no plus) are both "+15551234567". Used to recognise staff numbers.
 */
export function phoneNumberOf(address: string): string {
  const bare = address.replace(/^[a-z]+:/i, '').replace(/[\s()-]/g, '');
  return bare.startsWith('+') ? bare : `+${bare}`;
}
