import { createHmac, timingSafeEqual } from 'node:crypto';

import { AppError } from '../../app-error.ts';
import type { VerifiableRequest } from '../channel.ts';

const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/**
 * X-Hub-Signature-256 is "sha256=" + hex HMAC-SHA256(app secret, the raw body). It must be computed
 * over the bytes as they arrived: Meta escapes non-ASCII as \uXXXX, and JSON that is parsed and
 * serialised again no longer matches. Without an app secret (development, or a Twilio-only deployment)
 * only requests made on this machine pass unsigned.
 */
export function verifyMetaSignature(appSecret: string | undefined, request: VerifiableRequest): void {
  if (!appSecret) {
    if (request.fromThisMachine) return;
    throw new AppError('META_APP_SECRET is not set: unsigned Meta webhooks are accepted only from this machine', { code: 'signature_unverifiable', status: 401 });
  }
  const header = request.headers['x-hub-signature-256'];
  if (typeof header !== 'string' || header === '') {
    throw new AppError('missing X-Hub-Signature-256 header', { code: 'signature_missing', status: 401 });
  }
  const received = SIGNATURE.exec(header.trim());
  const expected = createHmac('sha256', appSecret).update(request.rawBody).digest();
  if (!received || !timingSafeEqual(Buffer.from(received[1]!, 'hex'), expected)) {
    throw new AppError('X-Hub-Signature-256 does not match this request', { code: 'signature_invalid', status: 401 });
  }
}
