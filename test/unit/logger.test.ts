import { Writable } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { createLogger, maskAddress } from '../../src/logger.ts';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ level, destination }) };
}

describe('createLogger', () => {
  it('when LOG_LEVEL is info, then debug lines (where message text goes) are not written; at debug they are', () => {
    const info = capture('info');
    info.logger.debug({ body: 'private words' }, 'inbound message text');
    info.logger.info({ inboxId: 1 }, 'inbound message stored');
    expect(info.lines.map((line) => line.msg)).toEqual(['inbound message stored']);

    const debug = capture('debug');
    debug.logger.debug({ body: 'private words' }, 'inbound message text');
    expect(debug.lines[0]).toMatchObject({ level: 20, body: 'private words' });
  });

  it('when a secret sits in a logged object, then it is censored', () => {
    const { lines, logger } = capture('info');
    logger.info({ twilio: { authToken: 'tok', accountSid: 'AC1' }, openai: { apiKey: 'sk-1' } }, 'config');
    expect(lines[0]).toMatchObject({ twilio: { authToken: '[secret]', accountSid: 'AC1' }, openai: { apiKey: '[secret]' } });
  });
});

describe('maskAddress', () => {
  it('keeps the channel prefix and the last 4 digits', () => {
    expect(maskAddress('whatsapp:+15551234567')).toBe('whatsapp:…4567');
    expect(maskAddress('+15551234567')).toBe('…4567');
    expect(maskAddress('15551234567')).toBe('…4567');
  });
});
