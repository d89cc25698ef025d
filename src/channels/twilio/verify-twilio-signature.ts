import twilio from 'twilio';

import { AppError } from '../../app-error.ts';
import type { VerifiableRequest } from '../channel.ts';
import { parseForm } from './parse-form.ts';

/**
 * X-Twilio-Signature is base64 HMAC-SHA1 of the URL Twilio called plus the sorted POST parameters.
 * Behind ngrok that URL is the public https one, which is why the caller passes PUBLIC_URL + path.
 * Without an auth token (development, or a Meta-only deployment) only requests made on this machine
 * pass unsigned: otherwise anyone could post a message, a staff #command from a forged staff `From`
 * included, and the clinic number would act on it.
 */
export function verifyTwilioSignature(authToken: string | undefined, request: VerifiableRequest): void {
  if (!authToken) {
    if (request.fromThisMachine) return;
    throw new AppError('TWILIO_AUTH_TOKEN is not set: unsigned Twilio webhooks are accepted only from this machine', { code: 'signature_unverifiable', status: 403 });
  }
  const signature = request.headers['x-twilio-signature'];
  if (typeof signature !== 'string' || signature === '') {
    throw new AppError('missing X-Twilio-Signature header', { code: 'signature_missing', status: 403 });
  }
  const params = Object.fromEntries(parseForm(request.rawBody));
  if (!twilio.validateRequest(authToken, signature, request.url, params)) {
    throw new AppError('X-Twilio-Signature does not match this request', { code: 'signature_invalid', status: 403 });
  }
}
