import type { ChannelWebhook } from '../channel.ts';
import { parseTwilioStatus, parseTwilioWebhook } from './parse-twilio-webhook.ts';
import { verifyTwilioSignature } from './verify-twilio-signature.ts';

/**
 * Twilio waits 15 s for an answer, and sends any text or JSON body to the patient as a message:
 * the acknowledgement is empty TwiML.
 */
const EMPTY_TWIML = { contentType: 'text/xml', body: '<Response></Response>' };

export function twilioWebhook(authToken: string | undefined): ChannelWebhook {
  return {
    channel: 'twilio',
    verify: (request) => verifyTwilioSignature(authToken, request),
    parse: parseTwilioWebhook,
    acknowledgement: EMPTY_TWIML,
  };
}

export function twilioStatusWebhook(authToken: string | undefined): ChannelWebhook {
  return {
    channel: 'twilio',
    verify: (request) => verifyTwilioSignature(authToken, request),
    parse: parseTwilioStatus,
    acknowledgement: EMPTY_TWIML,
  };
}
