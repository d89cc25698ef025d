import { describe, expect, it } from 'vitest';

import { AppError } from '../../src/app-error.ts';
import type { WebhookContent } from '../../src/channels/channel.ts';
import { parseMetaWebhook } from '../../src/channels/meta/parse-meta-webhook.ts';
import { metaFixture } from '../support/meta-webhook-client.ts';

const CLINIC_PHONE_NUMBER_ID = '106540352242922';

function parse(body: Buffer | string): WebhookContent {
  return parseMetaWebhook({ url: 'http://127.0.0.1/webhooks/meta', headers: { 'content-type': 'application/json' }, rawBody: Buffer.from(body) });
}

describe('parseMetaWebhook', () => {
  it('when a text message arrives, then it is one inbound message keyed on its wamid, with its text intact', () => {
    const content = parse(metaFixture('text-message'));
    expect(content.messages).toEqual([
      {
        channel: 'meta',
        providerMessageId: 'wamid.HBgLMTU1NTEyMzAxMDEVAgASGBQzQUY3QjI1QjQ2RDM4QzM1NkQ0RgA=',
        patient: '15551230101',
        business: CLINIC_PHONE_NUMBER_ID,
        body: 'Grüße! When do I start my injections? 💉🙏 ¿Cuándo empiezo?',
        kind: 'text',
      },
    ]);
    expect(content.statuses).toEqual([]);
    expect(content.ignored).toEqual([]);
  });

  it('when a payload has two entries and several changes, then every message of every change is read, each from its own phone number id', () => {
    const content = parse(metaFixture('two-entries'));
    expect(content.messages.map((m) => [m.patient, m.business])).toEqual([
      ['15551230201', '106540352242922'],
      ['15551230202', '106540352242922'],
      ['15551230203', '106540352242923'],
      ['15551230204', '106540352242923'],
    ]);
    // Meta escapes non-ASCII as \uXXXX, emoji as surrogate pairs.
    expect(content.messages[0]!.body).toBe('¿Cuánto cuesta la FIV? How much does IVF cost? 💶');
    expect(content.messages[2]!.body).toBe('What is OHSS? 🤔');
    expect(new Set(content.messages.map((m) => m.providerMessageId)).size).toBe(4);
  });

  it('when statuses arrive, then each is a delivery status, and a failed one keeps "code: title"', () => {
    const content = parse(metaFixture('statuses'));
    expect(content.messages).toEqual([]);
    expect(content.statuses).toEqual([
      { channel: 'meta', providerMessageId: 'wamid.HBgLMTU1NTEyMzA0MDEVAgARGBI1QzU4RjQ1RkNCMDY2RDg0QzYA', status: 'sent' },
      { channel: 'meta', providerMessageId: 'wamid.HBgLMTU1NTEyMzA0MDEVAgARGBI1QzU4RjQ1RkNCMDY2RDg0QzYA', status: 'delivered' },
      { channel: 'meta', providerMessageId: 'wamid.HBgLMTU1NTEyMzA0MDEVAgARGBI1QzU4RjQ1RkNCMDY2RDg0QzYA', status: 'read' },
      {
        channel: 'meta',
        providerMessageId: 'wamid.HBgLMTU1NTEyMzA0MDIVAgARGBJBRjM5QzA4QjZFMjE0RTcyNTQA',
        status: 'failed',
        error: '131047: Re-engagement message',
      },
    ]);
  });

  it('when an image arrives, then it is a media message', () => {
    const [message] = parse(metaFixture('image-message')).messages;
    expect(message).toMatchObject({ kind: 'media', body: '', patient: '15551230501', business: CLINIC_PHONE_NUMBER_ID });
  });

  it('when non-text messages arrive, then button and list replies are their text, a voice note is audio, a caption is words, reactions are dropped and everything else is media', () => {
    const content = parse(metaFixture('non-text-messages'));
    const byPatient = Object.fromEntries(content.messages.map((m) => [m.patient, { kind: m.kind, body: m.body }]));
    expect(content.messages.find((m) => m.kind === 'voice')!.media).toEqual({ contentType: 'audio/ogg; codecs=opus', id: '1003384491803557' });
    expect(byPatient).toEqual({
      '15551230601': { kind: 'voice', body: '' }, // voice note: transcribed by the worker
      '15551230602': { kind: 'captioned', body: 'My lab results' }, // document: the caption is answered, the file is not read
      '15551230603': { kind: 'media', body: '' }, // location
      '15551230604': { kind: 'media', body: '' }, // sticker
      '15551230606': { kind: 'text', body: 'Opening hours' }, // button reply
      '15551230607': { kind: 'text', body: 'Costs and payment' }, // list reply
      '15551230608': { kind: 'text', body: 'What happens at egg retrieval?' }, // template quick-reply button
      '15551230609': { kind: 'media', body: '' }, // shared contact
      '15551230610': { kind: 'media', body: '' }, // "unsupported" (a poll, a view-once photo…)
    });
    // The reaction (…605) needs no answer; the system message (…611) is not the patient's and is named.
    expect(content.ignored).toEqual(['entry[0].changes[0].messages[10]: type "system" is not handled']);
  });

  it('when a message is edited, then the new words are a new message (its own wamid); when one is deleted, then nothing is stored or said', () => {
    const content = parse(metaFixture('edit-and-revoke'));
    expect(content.messages.map((m) => ({ id: m.providerMessageId.slice(-8), kind: m.kind, body: m.body }))).toEqual([
      { id: 'MDA3MQA=', kind: 'text', body: 'When do I start my injections? (edited)' },
      { id: 'MDA3MgA=', kind: 'captioned', body: 'Is this bruise normal?' },
    ]);
    expect(content.ignored).toEqual([]);
  });

  it('when a user with a username writes without a phone number, then their business-scoped user id is the patient; with both, the phone number is, and the id is kept', () => {
    const content = parse(metaFixture('username-messages'));
    expect(content.messages.map(({ patient, userId, body }) => ({ patient, userId, body }))).toEqual([
      { patient: 'US.13491208655302741918', userId: 'US.13491208655302741918', body: 'When do I start my injections?' },
      { patient: '15551230801', userId: 'US.99887766554433221100', body: 'What is IVF?' },
    ]);
    expect(content.ignored).toEqual([]);
    // Neither id: nothing to answer to.
    const anonymous = metaFixture('username-messages').toString().replace('"from_user_id": "US.13491208655302741918",', '').replace('"user_id": "US.13491208655302741918"', '"user_id": "not-a-bsuid"');
    expect(parse(anonymous).ignored).toEqual(['entry[0].changes[0].messages[0]: a message with neither from nor from_user_id']);
  });

  it('when a change is not about messages, then nothing is stored and each change is named, without its content', () => {
    const content = parse(metaFixture('unknown-shape'));
    expect(content.messages).toEqual([]);
    expect(content.statuses).toEqual([]);
    expect(content.ignored).toEqual([
      'entry[0].changes[0]: field "message_template_status_update" is not handled',
      'entry[0].changes[1]: field "account_update" is not handled',
    ]);
    expect(content.ignored!.join(' ')).not.toContain('15550783881');
  });

  it.each([
    ['an empty object', '{}'],
    ['an array', '[]'],
    ['null', 'null'],
    ['a string', '"hello"'],
    ['another product', '{"object":"page","entry":[{"id":"1","messaging":[]}]}'],
  ])('when the JSON is %s, then nothing is stored and the reason is given', (_name, body) => {
    expect(parse(body)).toEqual({ messages: [], statuses: [], ignored: ['not a WhatsApp Business Account update'] });
  });

  it('when one part of a batch has an unknown shape, then the rest is still read', () => {
    const good = JSON.parse(metaFixture('text-message').toString('utf8'));
    const payload = {
      object: 'whatsapp_business_account',
      entry: [
        { id: '1' },
        { id: '2', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', contacts: [] } }, 'not a change'] },
        {
          id: '3',
          changes: [
            {
              field: 'messages',
              value: {
                metadata: { phone_number_id: CLINIC_PHONE_NUMBER_ID },
                messages: [{ from: '15551239999', type: 'text', text: { body: 'no id' } }, { from: '15551239998', id: 'wamid.x', type: 'text', text: { body: '  ' } }, ...good.entry[0].changes[0].value.messages],
                statuses: [{ id: 'wamid.y', status: 'Not A Status' }],
              },
            },
            { field: 'messages', value: { metadata: { phone_number_id: CLINIC_PHONE_NUMBER_ID } } },
            { field: '<script>+15551234567', value: {} },
          ],
        },
      ],
    };
    const content = parse(JSON.stringify(payload));
    expect(content.messages.map((m) => m.patient)).toEqual(['15551230101']);
    expect(content.ignored).toEqual([
      'entry[0]: no changes',
      'entry[1].changes[0]: no metadata.phone_number_id',
      'entry[1].changes[1]: not a change',
      'entry[2].changes[0].messages[0]: not a readable message',
      'entry[2].changes[0].messages[1]: text message without text',
      'entry[2].changes[0].statuses[0]: not a readable status',
      'entry[2].changes[1]: neither messages nor statuses',
      'entry[2].changes[2]: field (unrecognised) is not handled',
    ]);
  });

  it.each([
    ['not JSON', 'hub.mode=subscribe'],
    ['empty', ''],
    ['cut short', '{"object":"whatsapp_business_account","entry":[{'],
  ])('when the body is %s, then it is a 400', (_name, body) => {
    let error: unknown;
    try {
      parse(body);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ status: 400, code: 'malformed_body' });
  });
});
