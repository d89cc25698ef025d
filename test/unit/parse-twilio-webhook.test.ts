import { describe, expect, it } from 'vitest';

import { parseTwilioWebhook } from '../../src/channels/twilio/parse-twilio-webhook.ts';

function parse(params: Record<string, string>) {
  const form = { MessageSid: `SM${'0'.repeat(31)}1`, From: 'whatsapp:+15551230701', To: 'whatsapp:+15557654322', ...params };
  return parseTwilioWebhook({
    url: 'http://127.0.0.1/webhooks/twilio',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    rawBody: Buffer.from(new URLSearchParams(form).toString()),
  }).messages[0]!;
}

describe('parseTwilioWebhook, media', () => {
  it('when NumMedia > 0, then the message is media, with or without a caption', () => {
    expect(parse({ Body: '', NumMedia: '1' }).kind).toBe('media');
    expect(parse({ Body: 'my lab results', NumMedia: '2' })).toMatchObject({ kind: 'media', body: 'my lab results' });
  });

  it('when there is no media, then the message is text', () => {
    expect(parse({ Body: 'What is IVF?', NumMedia: '0' }).kind).toBe('text');
    expect(parse({ Body: 'What is IVF?' }).kind).toBe('text');
  });
});
