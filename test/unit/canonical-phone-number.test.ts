import { describe, expect, it } from 'vitest';

import { addressesOf } from '../../src/channels/addresses-of.ts';
import { canonicalPhoneNumber, phoneNumberMatcher, phoneNumberSpellings } from '../../src/channels/canonical-phone-number.ts';

describe('canonicalPhoneNumber', () => {
  it('when a number has no WhatsApp spelling of its own, then every channel address of it is its E.164 number', () => {
    for (const address of ['+15551234567', 'whatsapp:+15551234567', '15551234567', '+44 7700 900123']) {
      expect(canonicalPhoneNumber(address)).toBe(address.includes('44') ? '+447700900123' : '+15551234567');
    }
  });

  it('when a Mexican wa_id carries the 1 after 52, then it compares equal to the E.164 number without it', () => {
    expect(canonicalPhoneNumber('5215512345678')).toBe('+525512345678');
    expect(canonicalPhoneNumber('whatsapp:+5215512345678')).toBe('+525512345678');
    expect(canonicalPhoneNumber('+525512345678')).toBe('+525512345678');
    // A 12-digit +52 number that happens to have a 1 further on is left alone.
    expect(canonicalPhoneNumber('+525512345671')).toBe('+525512345671');
  });

  it('when an Argentine mobile is written without the 9 after 54, then it compares equal to the wa_id with it', () => {
    expect(canonicalPhoneNumber('5491158749895')).toBe('+5491158749895');
    expect(canonicalPhoneNumber('+541158749895')).toBe('+5491158749895');
    expect(canonicalPhoneNumber('whatsapp:+5491158749895')).toBe('+5491158749895');
  });

  it('when a Brazilian wa_id lacks the ninth digit of a mobile, then it compares equal to the nine-digit number', () => {
    expect(canonicalPhoneNumber('553196883193')).toBe('+5531996883193');
    expect(canonicalPhoneNumber('+5531996883193')).toBe('+5531996883193');
    expect(canonicalPhoneNumber('whatsapp:+552181234567')).toBe('+5521981234567');
    // An eight-digit number starting 2-5 is a landline: no 9 is added.
    expect(canonicalPhoneNumber('+551132345678')).toBe('+551132345678');
  });

  it('when given a business-scoped user id, then it is never taken for a phone number', () => {
    expect(canonicalPhoneNumber('US.13491208655302741918')).not.toMatch(/^\+\d+$/);
  });
});

describe('phoneNumberSpellings and addressesOf', () => {
  it('when a number is Mexican, Argentine or a Brazilian mobile, then both spellings are listed, canonical first', () => {
    expect(phoneNumberSpellings('+5215512345678')).toEqual(['+525512345678', '+5215512345678']);
    expect(phoneNumberSpellings('+541158749895')).toEqual(['+5491158749895', '+541158749895']);
    expect(phoneNumberSpellings('+5531996883193')).toEqual(['+5531996883193', '+553196883193']);
    expect(phoneNumberSpellings('+15551234567')).toEqual(['+15551234567']);
  });

  it('when erasing or resuming a Mexican number, then the addresses cover SMS, Twilio WhatsApp and the wa_id of both spellings', () => {
    expect(addressesOf('+525512345678')).toEqual([
      '+525512345678', 'whatsapp:+525512345678', '525512345678',
      '+5215512345678', 'whatsapp:+5215512345678', '5215512345678',
    ]);
    expect(addressesOf('+15551234567')).toEqual(['+15551234567', 'whatsapp:+15551234567', '15551234567']);
  });

  it('when every address of a number is made canonical, then they are all one number', () => {
    for (const number of ['+525512345678', '+5491158749895', '+541158749895', '+5531996883193', '+553196883193', '+15551234567']) {
      expect(new Set(addressesOf(number).map(canonicalPhoneNumber))).toEqual(new Set([canonicalPhoneNumber(number)]));
    }
  });
});

describe('phoneNumberMatcher', () => {
  it('when an address is another spelling of a listed number, then the listed number is returned as written', () => {
    const staffNumberOf = phoneNumberMatcher(['+525512345678', '+541158749895', '+5531996883193']);
    expect(staffNumberOf('5215512345678')).toBe('+525512345678');
    expect(staffNumberOf('whatsapp:+5491158749895')).toBe('+541158749895');
    expect(staffNumberOf('553196883193')).toBe('+5531996883193');
    expect(staffNumberOf('+525512345679')).toBeUndefined();
    expect(staffNumberOf('US.13491208655302741918')).toBeUndefined();
  });
});
