import express, { type NextFunction, type Request, type Response } from 'express';

import { AppError } from '../app-error.ts';
import { conversationKey, type ChannelName, type Sender } from '../channels/channel.ts';
import { maskAddress, type Logger } from '../logger.ts';
import type { Inbox } from '../store/inbox.ts';
import type { ConsoleEvents } from './console-events.ts';
import { groupQuestions } from './group-questions.ts';
import { normalisePhone, SIGN_IN_LIMITS, type StaffSession, type StaffSignIn } from './staff-sign-in.ts';
import type { ConversationSummary, Refusal, StaffStore } from './staff-store.ts';

export const SESSION_COOKIE = 'clinic_staff';
const WINDOW_HOURS = 24;
const LIST_DAYS = 30;
const MAX_REPLY_LENGTH = 4_000;

export type StaffApiDependencies = {
  signIn: StaffSignIn;
  store: StaffStore;
  inbox: Inbox;
  events: ConsoleEvents;
  senders: Record<ChannelName, Sender>;
  /** Approved templates offered outside WhatsApp's window ({{1}} = the clinic's name). */
  followUpTemplates: { twilio: string | undefined; meta: string | undefined };
  clinicName: string;
  /** Cookies are Secure when the service is reached over https (PUBLIC_URL). */
  secureCookies: boolean;
  sessionHours: number;
  /** A staff reply or notice was queued: send it now rather than at the next poll. */
  onQueued: () => void;
  logger: Logger;
};

const isWhatsApp = (c: Pick<ConversationSummary, 'channel' | 'patient'>) => c.channel === 'meta' || c.patient.startsWith('whatsapp:');

/** WhatsApp's 24-hour customer-service window, as the console shows it. SMS has none. */
function windowOf(c: ConversationSummary): { applies: boolean; open: boolean; closesAt: string | null } {
  if (!isWhatsApp(c)) return { applies: false, open: true, closesAt: null };
  const closesAt = c.lastInboundAt ? new Date(Date.parse(c.lastInboundAt) + WINDOW_HOURS * 3_600_000) : null;
  return { applies: true, open: closesAt !== null && closesAt.getTime() > Date.now(), closesAt: closesAt?.toISOString() ?? null };
}

function withWaiting<T extends ConversationSummary>(c: T): T & { waitingSeconds: number | null } {
  return { ...c, waitingSeconds: c.waitingSince ? Math.max(0, Math.round((Date.now() - Date.parse(c.waitingSince)) / 1000)) : null };
}

const fail = (status: number, code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(message, { code, status, ...(details ? { details } : {}) });

const REFUSALS: Record<Refusal, [number, string]> = {
  not_found: [404, 'no such conversation'],
  opted_out: [409, 'the patient opted out (STOP): they cannot be messaged until they write START'],
  window_closed: [409, "outside WhatsApp's 24-hour window: a free-form message would be refused; send the follow-up template instead"],
};

function refused(refusal: Refusal): AppError {
  const [status, message] = REFUSALS[refusal];
  return fail(status, refusal, message);
}

function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

function conversationId(req: Request): number {
  const id = Number(req.params.id);
  if (!Number.isSafeInteger(id) || id <= 0) throw fail(400, 'bad_id', 'the conversation id must be a positive whole number');
  return id;
}

/**
 * The staff console's JSON API under /staff/api (documented in the README). Every route but login and
 * verify needs a session cookie (401 without one, before anything is read); every state change needs
 * the session's X-CSRF-Token (403) and a JSON body; nothing about a patient is answered without a session.
 */
export function staffApi(deps: StaffApiDependencies): express.Router {
  const router = express.Router();
  const json = express.json({ limit: '16kb', strict: true });

  // A cross-site form cannot send JSON without a CORS preflight, which is never granted: state changes
  // must come as application/json.
  const requireJson = (req: Request, _res: Response, next: NextFunction) => {
    if (!req.is('application/json')) throw fail(415, 'unsupported_media_type', 'send the body as application/json');
    next();
  };

  const cookie = (token: string, maxAgeSeconds: number) =>
    [
      `${SESSION_COOKIE}=${token}`,
      'Path=/staff',
      'HttpOnly',
      'SameSite=Strict',
      `Max-Age=${maxAgeSeconds}`,
      ...(deps.secureCookies ? ['Secure'] : []),
    ].join('; ');

  async function sessionOf(req: Request): Promise<(StaffSession & { token: string }) | undefined> {
    const token = readCookie(req, SESSION_COOKIE);
    if (!token || !/^[A-Za-z0-9_-]{20,100}$/.test(token)) return undefined;
    const session = await deps.signIn.session(token);
    return session ? { ...session, token } : undefined;
  }

  const signedIn = async (req: Request, res: Response, next: NextFunction) => {
    const session = await sessionOf(req);
    if (!session) throw fail(401, 'unauthorized', 'sign in first: POST /staff/api/login, then /staff/api/verify');
    if (req.method !== 'GET' && req.get('x-csrf-token') !== session.csrfToken) {
      throw fail(403, 'csrf', 'this request needs the X-CSRF-Token of the session (GET /staff/api/session)');
    }
    res.locals.session = session;
    next();
  };
  const staffOf = (res: Response): StaffSession & { token: string } => res.locals.session as StaffSession & { token: string };

  router.use((_req, res, next) => {
    res.set('cache-control', 'no-store');
    next();
  });

  router.post('/login', requireJson, json, async (req, res) => {
    const phone = normalisePhone((req.body as { phone?: unknown } | undefined)?.phone);
    if (!phone) throw fail(400, 'bad_phone', 'phone must be a phone number in international format, like +15551234567');
    const result = await deps.signIn.requestCode(phone, req.ip ?? 'unknown');
    if (!result.allowed) {
      res.set('retry-after', String(result.retryAfterSeconds ?? SIGN_IN_LIMITS.windowSeconds));
      throw fail(429, 'too_many_requests', 'too many sign-in requests: wait a few minutes and try again');
    }
    res.status(202).json({ status: 'sent_if_staff', message: "If this number is one of the clinic's staff phones, a six-digit code is on its way to it." });
  });

  router.post('/verify', requireJson, json, async (req, res) => {
    const body = (req.body ?? {}) as { phone?: unknown; code?: unknown };
    const phone = normalisePhone(body.phone);
    if (!phone) throw fail(400, 'bad_phone', 'phone must be a phone number in international format, like +15551234567');
    const code = typeof body.code === 'string' ? body.code.replace(/\s/g, '') : typeof body.code === 'number' ? String(body.code).padStart(6, '0') : '';
    const session = await deps.signIn.verify(phone, code);
    if (!session) {
      throw fail(401, 'invalid_code', 'that code is not valid: codes work once, expire after 5 minutes and stop working after 5 wrong tries; ask for a new one');
    }
    res.set('set-cookie', cookie(session.token, Math.round(deps.sessionHours * 3600)));
    res.json({ staffNumber: session.staffNumber, csrfToken: session.csrfToken, expiresAt: session.expiresAt });
  });

  router.use(signedIn);

  router.get('/session', (_req, res) => {
    const { staffNumber, csrfToken, expiresAt } = staffOf(res);
    res.json({ staffNumber, csrfToken, expiresAt });
  });

  router.post('/logout', async (_req, res) => {
    await deps.signIn.signOut(staffOf(res).token);
    deps.events.end(staffOf(res).token);
    res.set('set-cookie', cookie('', 0)).status(204).end();
  });

  router.get('/events', (_req, res) => deps.events.attach(res, staffOf(res).token));

  router.get('/conversations', async (_req, res) => {
    const since = new Date(Date.now() - LIST_DAYS * 86_400_000);
    const list = await deps.store.conversations(since);
    res.json(list.map((c) => ({ ...withWaiting(c), window: windowOf(c) })));
  });

  router.get('/conversations/:id', async (req, res) => {
    const detail = await deps.store.conversation(conversationId(req));
    if (!detail) throw refused('not_found');
    const template = isWhatsApp(detail) ? (deps.followUpTemplates[detail.channel] ?? null) : null;
    res.json({ ...withWaiting(detail), window: windowOf(detail), followUpTemplate: template });
  });

  router.post('/conversations/:id/reply', requireJson, json, async (req, res) => {
    const id = conversationId(req);
    const text = (req.body as { body?: unknown } | undefined)?.body;
    if (typeof text !== 'string' || text.trim() === '') throw fail(400, 'empty_reply', 'body must be the text of the reply');
    if (text.length > MAX_REPLY_LENGTH) throw fail(400, 'reply_too_long', `a reply may be at most ${MAX_REPLY_LENGTH} characters`);
    const result = await deps.store.reply(id, staffOf(res).staffNumber, text.trim(), WINDOW_HOURS);
    if ('refused' in result) throw refused(result.refused);
    deps.onQueued();
    deps.events.poke();
    deps.logger.info({ staff: maskAddress(staffOf(res).staffNumber), conversationId: result.conversationId }, 'staff reply queued');
    res.status(202).json({ status: 'queued', inboxId: result.inboxId, conversationId: result.conversationId });
  });

  const act = (action: 'take_over' | 'resume') => async (req: Request, res: Response) => {
    const result = await deps.store.act(conversationId(req), staffOf(res).staffNumber, action);
    if ('refused' in result) throw refused(result.refused);
    deps.events.poke();
    deps.logger.info({ staff: maskAddress(staffOf(res).staffNumber), conversationId: result.conversationId, action }, 'staff action');
    res.json({ status: action === 'take_over' ? 'paused' : 'resumed', conversationId: result.conversationId });
  };
  router.post('/conversations/:id/take-over', act('take_over'));
  router.post('/conversations/:id/resume', act('resume'));

  // Outside WhatsApp's window the only message that arrives is an approved template: the follow-up
  // template invites the patient to write back, which opens the window for staff to reply.
  router.post('/conversations/:id/template', async (req, res) => {
    const id = conversationId(req);
    const conversation = await deps.store.conversation(id);
    if (!conversation) throw refused('not_found');
    if (conversation.optedOut) throw refused('opted_out');
    const template = isWhatsApp(conversation) ? deps.followUpTemplates[conversation.channel] : undefined;
    const sender = deps.senders[conversation.channel];
    if (!template || !sender.sendTemplate) {
      throw fail(409, 'no_template', 'no follow-up template is configured for this line (TWILIO_FOLLOWUP_CONTENT_SID or META_FOLLOWUP_TEMPLATE), or it is not WhatsApp');
    }
    const { providerMessageId } = await sender.sendTemplate({ from: conversation.business, to: conversation.patient, template, variables: [deps.clinicName] });
    await deps.store.act(id, staffOf(res).staffNumber, 'template');
    await deps.inbox.recordOutbound({
      inboxId: null, channel: conversation.channel, conversation: conversationKey(conversation), body: `(template ${template})`, providerMessageId,
    });
    deps.events.poke();
    res.status(202).json({ status: 'sent', template });
  });

  router.get('/uncovered', async (_req, res) => {
    const questions = await deps.store.uncoveredQuestions(new Date(Date.now() - LIST_DAYS * 86_400_000));
    res.json({ days: LIST_DAYS, groups: groupQuestions(questions) });
  });

  router.use((_req, _res) => {
    throw fail(404, 'not_found', 'no such staff API route');
  });
  return router;
}
