import { phoneNumberOf } from './phone-number.ts';

/*
 * WhatsApp identifies some people by a number that is not their E.164 number, and Twilio's WhatsApp
 * `From` carries the same spelling. Known cases (see the README, "Staff numbers"):
 * - Mexico: wa_id 521 + 10 digits; E.164 (since 2019) +52 + 10 digits. A national number never
 *   starts with 1, so 52 1 + 10 digits is always the old mobile spelling.
 * - Argentina: a mobile is +54 9 + 10 digits (area code + number, without the national 15); wa_ids
 *   carry the 9, people and CRMs often write it without. Area codes never start with 9 and a
 *   10-digit national number is one line, so both spellings are the same phone.
 * - Brazil: mobiles gained a ninth digit (a 9 after the two-digit area code, 2012-2016); a WhatsApp
 *   account made before then may still have the 8-digit wa_id (55 + area + 8 digits starting 6-9:
 *   landlines start 2-5, so that number can only be the mobile).
 */
const MEXICO_OLD_MOBILE = /^\+521(\d{10})$/;
const MEXICO = /^\+52(\d{10})$/;
const ARGENTINA_WITHOUT_9 = /^\+54([1-8]\d{9})$/;
const ARGENTINA_MOBILE = /^\+549(\d{10})$/;
const BRAZIL_EIGHT_DIGITS = /^\+55([1-9][1-9])([6-9]\d{7})$/;
const BRAZIL_NINE_DIGITS = /^\+55([1-9][1-9])9([6-9]\d{7})$/;

/**
 * The one form in which two addresses of the same phone compare equal, whatever the channel wrote:
 * "whatsapp:+5215512345678" (Twilio), "5215512345678" (a Meta wa_id) and "+525512345678" (E.164) are all
 * "+525512345678". Only for comparing: numbers are stored and sent to as they came.
 */
export function canonicalPhoneNumber(address: string): string {
  const number = phoneNumberOf(address);
  let match: RegExpExecArray | null;
  if ((match = MEXICO_OLD_MOBILE.exec(number))) return `+52${match[1]}`;
  if ((match = ARGENTINA_WITHOUT_9.exec(number))) return `+549${match[1]}`;
  if ((match = BRAZIL_EIGHT_DIGITS.exec(number))) return `+55${match[1]}9${match[2]}`;
  return number;
}

/** Every spelling of one phone number, canonical first: what its stored addresses may be built from. */
export function phoneNumberSpellings(address: string): string[] {
  const canonical = canonicalPhoneNumber(address);
  let match: RegExpExecArray | null;
  if ((match = MEXICO.exec(canonical))) return [canonical, `+521${match[1]}`];
  if ((match = ARGENTINA_MOBILE.exec(canonical))) return [canonical, `+54${match[1]}`];
  if ((match = BRAZIL_NINE_DIGITS.exec(canonical))) return [canonical, `+55${match[1]}${match[2]}`];
  return [canonical];
}

/** Whether an address belongs to one of the numbers of a list (STAFF_NUMBERS), on any channel. */
export function phoneNumberMatcher(numbers: string[]): (address: string) => string | undefined {
  const byCanonical = new Map(numbers.map((number) => [canonicalPhoneNumber(number), number]));
  return (address) => byCanonical.get(canonicalPhoneNumber(address));
}
