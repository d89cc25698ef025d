import { conversationKey, type ChannelName, type Sender } from '../channels/channel.ts';
import { LOCAL_CLINIC_NUMBER } from '../channels/local-numbers.ts';
import { addressesOf } from '../channels/addresses-of.ts';
import { maskAddress, type Logger } from '../logger.ts';
import type { Inbox } from '../store/inbox.ts';
import type { StaffStore } from './staff-store.ts';

const WINDOW_MS = 24 * 60 * 60 * 1000;

export type SignInCodeRoutes = {
  /** STAFF_ALERT_SMS_FROM: a Twilio SMS number, for phones WhatsApp would refuse. */
  smsFrom: string | undefined;
  /** Approved authentication templates ({{1}} = the code): TWILIO_LOGIN_CONTENT_SID, META_LOGIN_TEMPLATE. */
  templates: { twilio: string | undefined; meta: string | undefined };
  /** No channel credentials at all: messages are recorded for `npm run chat`, not sent. */
  local: boolean;
};

type Way =
  | { kind: 'text'; channel: ChannelName; from: string; to: string }
  | { kind: 'template'; channel: ChannelName; from: string; to: string; template: string };

/**
 * Sends a sign-in code to a staff phone through the clinic's own channel: back the way that phone
 * last wrote to the clinic when it can (SMS always; WhatsApp within its 24-hour window), else an
 * approved authentication template on that WhatsApp line, else an SMS from STAFF_ALERT_SMS_FROM. In
 * local mode it is recorded on the conversation `npm run chat -- --staff` shows. Elsewhere the message
 * is recorded without the code (its delivery report still tracked): the staff phone's conversation
 * is in the console, where another signed-in staff member could otherwise read it.
 */
export function createSignInCodeDelivery(deps: { store: StaffStore; inbox: Inbox; senders: Record<ChannelName, Sender>; routes: SignInCodeRoutes; logger: Logger }) {
  const { routes } = deps;

  async function chooseWay(staffNumber: string): Promise<Way | undefined> {
    const contact = await deps.store.lastContact(addressesOf(staffNumber));
    if (contact) {
      const whatsApp = contact.channel === 'meta' || contact.patient.startsWith('whatsapp:');
      const inWindow = Date.now() - Date.parse(contact.receivedAt) < WINDOW_MS;
      if (!whatsApp || inWindow) return { kind: 'text', channel: contact.channel, from: contact.business, to: contact.patient };
      const template = routes.templates[contact.channel];
      if (template) return { kind: 'template', channel: contact.channel, from: contact.business, to: contact.patient, template };
    }
    if (routes.smsFrom) return { kind: 'text', channel: 'twilio', from: routes.smsFrom, to: staffNumber };
    if (routes.local) return { kind: 'text', channel: 'twilio', from: contact?.business ?? LOCAL_CLINIC_NUMBER, to: contact?.patient ?? staffNumber };
    return undefined;
  }

  return async function deliverSignInCode(staffNumber: string, code: string): Promise<void> {
    const log = deps.logger.child({ staff: maskAddress(staffNumber) });
    const way = await chooseWay(staffNumber);
    if (!way) {
      log.error('no way to send a sign-in code to this staff phone: it has not written to the clinic within 24 hours on WhatsApp, and there is no STAFF_ALERT_SMS_FROM or login template');
      return;
    }
    const body = `${code} is your clinic staff sign-in code. It expires in 5 minutes. If you did not ask for it, tell the clinic's administrator.`;
    const sender = deps.senders[way.channel];
    const { providerMessageId } =
      way.kind === 'template' && sender.sendTemplate
        ? await sender.sendTemplate({ from: way.from, to: way.to, template: way.template, variables: [code] })
        : await sender.send({ from: way.from, to: way.to, body });
    await deps.inbox.recordOutbound({
      inboxId: null, channel: way.channel, conversation: conversationKey({ channel: way.channel, business: way.from, patient: way.to }),
      body: routes.local ? body : `(staff sign-in code sent${way.kind === 'template' ? ` with template ${way.template}` : ''})`, providerMessageId,
    });
    log.info({ route: way.kind, channel: way.channel }, 'sign-in code sent');
  };
}

export type DeliverSignInCode = ReturnType<typeof createSignInCodeDelivery>;
