import { describe, expect, it } from 'vitest';

import { parseTwilioStatus, parseTwilioWebhook } from '../../src/channels/twilio/parse-twilio-webhook.ts';

const form = (params: Record<string, string>, contentType = 'application/x-www-form-urlencoded') => ({
  url: 'https://clinic.example/webhooks/twilio',
  headers: { 'content-type': contentType },
  rawBody: Buffer.from(new URLSearchParams(params).toString()),
});
const SID = 'SM0123456789abcdef0123456789abcdef';

describe('parseTwilioWebhook', () => {
  it('reads an SMS', () => {
    const { messages } = parseTwilioWebhook(form({ MessageSid: SID, From: '+15551234567', To: '+15557654321', Body: '¿Qué es la FIV? 🙂', NumMedia: '0' }));
    expect(messages).toEqual([{ channel: 'twilio', providerMessageId: SID, patient: '+15551234567', business: '+15557654321', body: '¿Qué es la FIV? 🙂', kind: 'text' }]);
  });

  it('reads WhatsApp through Twilio, keeping the whatsapp: prefix for the reply', () => {
    const { messages } = parseTwilioWebhook(form({ MessageSid: SID, From: 'whatsapp:+15551234567', To: 'whatsapp:+14155238886', Body: 'hi' }));
    expect(messages[0]).toMatchObject({ patient: 'whatsapp:+15551234567', business: 'whatsapp:+14155238886' });
  });

  it('when NumMedia > 0, then a caption is words to answer, audio is a voice note, and a file alone is media', () => {
    const media = (params: Record<string, string>) => parseTwilioWebhook(form({ MessageSid: SID, From: '+15551234567', To: '+15557654321', ...params })).messages[0]!;
    expect(media({ Body: '', NumMedia: '1', MediaContentType0: 'image/jpeg' }).kind).toBe('media');
    expect(media({ Body: 'my lab results', NumMedia: '2', MediaContentType0: 'image/jpeg' })).toMatchObject({ kind: 'captioned', body: 'my lab results' });
    const url = 'https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/MM0123456789abcdef0123456789abcdef/Media/ME0123456789abcdef0123456789abcdef';
    expect(media({ Body: '', NumMedia: '1', MediaContentType0: 'audio/ogg', MediaUrl0: url })).toMatchObject({ kind: 'voice', media: { contentType: 'audio/ogg', url } });
    expect(media({ Body: 'What is IVF?' }).kind).toBe('text');
    // A location share: no words, no media.
    expect(media({ Body: '', Latitude: '51.5', Longitude: '-0.12' }).kind).toBe('media');
  });

  it.each([
    [{ From: '+15551234567', To: '+15557654321', Body: 'x' }, /MessageSid/],
    [{ MessageSid: 'nope', From: '+15551234567', To: '+15557654321', Body: 'x' }, /MessageSid/],
    [{ MessageSid: SID, To: '+15557654321', Body: 'x' }, /From/],
    [{ MessageSid: SID, From: '+15551234567', Body: 'x' }, /To/],
  ])('rejects %j with a 400 naming the field', (params, reason) => {
    expect(() => parseTwilioWebhook(form(params as Record<string, string>))).toThrow(reason);
  });

  it('rejects JSON with 415', () => {
    expect(() => parseTwilioWebhook(form({ MessageSid: SID }, 'application/json'))).toThrow(expect.objectContaining({ status: 415 }));
  });
});

describe('parseTwilioStatus', () => {
  it('reads a failed delivery with its error code', () => {
    const { statuses } = parseTwilioStatus(form({ MessageSid: SID, MessageStatus: 'undelivered', ErrorCode: '30003' }));
    expect(statuses).toEqual([{ channel: 'twilio', providerMessageId: SID, status: 'undelivered', error: 'Twilio error 30003' }]);
  });

  it('acknowledges a callback it cannot read, with the reason, instead of rejecting it', () => {
    expect(parseTwilioStatus(form({ MessageStatus: 'delivered' }))).toEqual({ messages: [], statuses: [], ignored: ['status callback without a valid MessageSid'] });
    expect(parseTwilioStatus(form({}, 'application/json')).ignored).toHaveLength(1);
  });
});
