import { AppError } from '../../app-error.ts';

/** Twilio posts application/x-www-form-urlencoded. A repeated key keeps its last value, as Twilio sends none. */
export function parseForm(rawBody: Buffer): Map<string, string> {
  const text = rawBody.toString('utf8');
  if (text.includes('\uFFFD')) {
    throw new AppError('body is not valid UTF-8', { code: 'malformed_body', status: 400 });
  }
  try {
    return new Map(new URLSearchParams(text));
  } catch (cause) {
    throw new AppError('body is not a valid form', { code: 'malformed_body', status: 400, cause });
  }
}
