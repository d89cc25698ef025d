import { describe, expect, it } from 'vitest';

import { AppError } from '../../src/app-error.ts';
import { maskPhoneNumbers, serializeError } from '../../src/serialize-error.ts';

describe('maskPhoneNumbers', () => {
  it('when a text quotes a number, with or without "+" and separators, then only its last 4 digits are left', () => {
    expect(maskPhoneNumbers("The 'To' number +15551234567 is not a valid phone number.")).toBe("The 'To' number …4567 is not a valid phone number.");
    expect(maskPhoneNumbers('call +1 (555) 123-4567 now')).toBe('call …4567 now');
    expect(maskPhoneNumbers('wa_id 15551234567')).toBe('wa_id …4567');
    expect(maskPhoneNumbers('whatsapp:+447700900123')).toBe('whatsapp:…0123');
  });

  it('when a text has error codes, statuses, dates or line numbers, then they are left alone', () => {
    const text = 'code 21211 (HTTP 400) at 2026-11-29T10:00:00Z, twilio-sender.ts:42:17';
    expect(maskPhoneNumbers(text)).toBe(text);
  });
});

describe('serializeError', () => {
  it('when a Twilio send fails, then the logged error keeps status and code, masks the number and drops the provider fields', () => {
    const rest = Object.assign(new Error("The 'To' number +15551234567 is not a valid phone number."), {
      status: 400,
      code: 21211,
      moreInfo: 'https://www.twilio.com/docs/errors/21211',
      details: { to: '+15551234567', body: 'my private question' },
    });
    const error = new AppError(`Twilio send failed (400, code 21211): ${rest.message}`, {
      code: 'send_failed',
      cause: rest,
      details: { status: 400, providerCode: 21211 },
    });
    const serialized = serializeError(error);
    const text = JSON.stringify(serialized);
    expect(text).not.toContain('5551234567');
    expect(text).not.toContain('private question');
    expect(serialized).toMatchObject({
      type: 'AppError',
      message: "Twilio send failed (400, code 21211): The 'To' number …4567 is not a valid phone number.",
      code: 'send_failed',
      retryable: false,
      status: 400,
      providerCode: 21211,
      cause: { type: 'Error', status: 400, code: 21211 },
    });
  });

  it('when a database error carries the failing row, then the row is not logged', () => {
    const error = new AppError('database error: null value in column "kind" violates not-null constraint', {
      code: 'db_error',
      details: { code: '23502', detail: 'Failing row contains (7, twilio, SM1, +15551234567, I think I am pregnant).' },
    });
    const text = JSON.stringify(serializeError(error));
    expect(text).not.toContain('pregnant');
    expect(text).not.toContain('Failing row');
    expect(text).toContain('violates not-null constraint');
  });

  it('when something that is not an Error is thrown, then it is logged as masked text', () => {
    expect(serializeError('no answer from +15551234567')).toBe('no answer from …4567');
  });
});
