import type { Request, RequestHandler } from 'express';

import { AppError } from '../app-error.ts';
import { conversationKey } from '../channels/channel.ts';
import type { Inbox } from '../store/inbox.ts';
import { fromThisMachine } from './from-this-machine.ts';

const ADDRESS = /^(whatsapp:)?\+?[0-9A-Za-z]{3,20}$/;

/**
 * GET /dev/outbox?patient=<address>&business=<address>[&after=<id>]: the replies recorded for one
 * Twilio conversation while no Twilio credentials are set (they are kept, not sent). `npm run chat`
 * polls it to show the assistant's answers. Mounted only in that mode, and answered only to this
 * machine: these are the words of a conversation, which may be a real patient's.
 */
export function devOutboxRoute(inbox: Inbox): RequestHandler {
  return async (req, res) => {
    if (!fromThisMachine(req)) {
      throw new AppError('the development outbox answers only on this machine, not through a proxy', { code: 'forbidden', status: 403 });
    }
    const patient = queryString(req, 'patient');
    const business = queryString(req, 'business');
    if (!patient || !ADDRESS.test(patient)) throw badRequest('patient is missing or not a phone address');
    if (!business || !ADDRESS.test(business)) throw badRequest('business is missing or not a phone address');
    const after = queryString(req, 'after');
    if (after !== undefined && !/^\d{1,15}$/.test(after)) throw badRequest('after must be a reply id');
    const result = await inbox.devOutbox(conversationKey({ channel: 'twilio', business, patient }), after === undefined ? undefined : Number(after));
    res.set('cache-control', 'no-store').json(result);
  };
}

function queryString(req: Request, name: string): string | undefined {
  const value = req.query[name];
  return typeof value === 'string' ? value : undefined;
}

function badRequest(message: string): AppError {
  return new AppError(message, { code: 'bad_request', status: 400 });
}
