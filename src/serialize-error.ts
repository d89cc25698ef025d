export type SerializedError = {
  type: string;
  message: string;
  stack?: string;
  code?: string | number;
  retryable?: boolean;
  status?: number;
  providerCode?: string | number;
  /** Meta's request id, which its support asks for. */
  fbtraceId?: string;
  cause?: SerializedError | string;
};

/** The error fields safe to log, wherever they sit (on the error or in AppError.details). */
const KEPT = ['code', 'retryable', 'status', 'providerCode', 'fbtraceId'] as const;

/**
 * pino's `err` serializer. pino's own copies every enumerable field of an error and of its causes:
 * a Twilio RestException's `details`, a Postgres error's `detail` ("Failing row contains (…)", the
 * message text included), an OpenAI error's response body. This one keeps type, message, stack, a
 * few known scalar fields and the cause chain, with phone numbers masked in every string.
 */
export function serializeError(error: unknown, depth = 0): SerializedError | string {
  if (!(error instanceof Error)) return maskPhoneNumbers(typeof error === 'string' ? error : safeString(error));
  const serialized: SerializedError = { type: error.name || error.constructor.name, message: maskPhoneNumbers(error.message) };
  if (error.stack) serialized.stack = maskPhoneNumbers(error.stack);
  const fields = error as unknown as Record<string, unknown>;
  const details = isRecord(fields.details) ? fields.details : {};
  for (const key of KEPT) {
    const value = fields[key] ?? details[key];
    if (typeof value === 'number' || typeof value === 'boolean' || (typeof value === 'string' && value.length <= 40)) {
      (serialized as Record<string, unknown>)[key] = typeof value === 'string' ? maskPhoneNumbers(value) : value;
    }
  }
  if (error.cause !== undefined && depth < 4) serialized.cause = serializeError(error.cause, depth + 1);
  return serialized;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return '[unprintable]';
  }
}

/**
 * Masks what looks like a phone number in free text (a provider's error message may quote the number
 * it could not reach: Twilio 21211 "The 'To' number +15551234567 is not a valid phone number."):
 * "+" then digits (a separator or two between them allowed), or any run of 7 or more digits (a WhatsApp wa_id has no "+").
 */
export function maskPhoneNumbers(text: string): string {
  return text.replace(/\+\d(?:[ ().-]{0,2}\d){6,}|\d{7,}/g, (number) => `…${number.replace(/\D/g, '').slice(-4)}`);
}
