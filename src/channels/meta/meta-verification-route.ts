import { createHash, timingSafeEqual } from 'node:crypto';

import type { RequestHandler } from 'express';

import type { Logger } from '../../logger.ts';

/**
 * GET /webhooks/meta: when the webhook is set up in the Meta app, Meta calls it with
 * hub.mode=subscribe, the verify token entered there and a challenge, and expects the challenge back
 * as the whole body. Anything else is a 403; without META_VERIFY_TOKEN every request is.
 */
export function metaVerificationRoute(verifyToken: string | undefined, logger: Logger): RequestHandler {
  return (req, res) => {
    const mode = req.query['hub.mode'];
    const token = req.query['hub.verify_token'];
    const challenge = req.query['hub.challenge'];
    if (verifyToken && mode === 'subscribe' && typeof token === 'string' && sameSecret(token, verifyToken) && typeof challenge === 'string' && challenge !== '') {
      logger.info('Meta webhook subscription verified');
      // text/plain, so the echoed challenge can never be read as HTML.
      res.status(200).type('text/plain').send(challenge);
      return;
    }
    logger.warn({ mode: typeof mode === 'string' ? mode.slice(0, 20) : undefined, tokenSent: typeof token === 'string' }, 'Meta webhook verification refused');
    res.status(403).json({ error: { code: 'verification_failed', message: 'hub.mode or hub.verify_token is wrong' } });
  };
}

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
