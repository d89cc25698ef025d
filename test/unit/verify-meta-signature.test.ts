import { describe, expect, it } from 'vitest';

import { AppError } from '../../src/app-error.ts';
import type { VerifiableRequest } from '../../src/channels/channel.ts';
import { verifyMetaSignature } from '../../src/channels/meta/verify-meta-signature.ts';
import { metaFixture, signMetaPayload } from '../support/meta-webhook-client.ts';

const APP_SECRET = 'meta-app-secret-for-tests';

function request(rawBody: Buffer, signature?: string, fromThisMachine = false): VerifiableRequest {
  return { url: 'http://127.0.0.1/webhooks/meta', headers: signature === undefined ? {} : { 'x-hub-signature-256': signature }, rawBody, fromThisMachine };
}

function rejection(run: () => void): AppError {
  try {
    run();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected the signature to be rejected');
}

describe('verifyMetaSignature', () => {
  it.each(['text-message', 'two-entries', 'statuses', 'non-text-messages'])(
    'when %s is signed over its exact bytes (non-ASCII, emoji, \\u escapes), then it passes',
    (name) => {
      const body = metaFixture(name);
      expect(() => verifyMetaSignature(APP_SECRET, request(body, signMetaPayload(APP_SECRET, body)))).not.toThrow();
    },
  );

  it('when the payload was parsed and serialised again before signing, then the signature no longer matches', () => {
    for (const name of ['text-message', 'two-entries']) {
      const body = metaFixture(name);
      const reserialised = JSON.stringify(JSON.parse(body.toString('utf8')));
      expect(reserialised).not.toBe(body.toString('utf8'));
      const error = rejection(() => verifyMetaSignature(APP_SECRET, request(body, signMetaPayload(APP_SECRET, reserialised))));
      expect(error).toMatchObject({ status: 401, code: 'signature_invalid' });
    }
  });

  it('when the header is missing, then 401 signature_missing', () => {
    expect(rejection(() => verifyMetaSignature(APP_SECRET, request(metaFixture('text-message'))))).toMatchObject({ status: 401, code: 'signature_missing' });
  });

  it.each([
    ['signed with another secret', (body: Buffer) => signMetaPayload('another-secret', body)],
    ['hex without the sha256= prefix', (body: Buffer) => signMetaPayload(APP_SECRET, body).slice('sha256='.length)],
    ['a sha1= header', (body: Buffer) => signMetaPayload(APP_SECRET, body).replace('sha256=', 'sha1=')],
    ['a truncated digest', (body: Buffer) => signMetaPayload(APP_SECRET, body).slice(0, -2)],
    ['not hex at all', () => `sha256=${'z'.repeat(64)}`],
  ])('when the header is %s, then 401 signature_invalid', (_name, sign) => {
    const body = metaFixture('text-message');
    expect(rejection(() => verifyMetaSignature(APP_SECRET, request(body, sign(body))))).toMatchObject({ status: 401, code: 'signature_invalid' });
  });

  it('when one byte of the body changed, then 401', () => {
    const body = metaFixture('text-message');
    const signature = signMetaPayload(APP_SECRET, body);
    const tampered = Buffer.from(body.toString('utf8').replace('injections', 'injectionz'));
    expect(rejection(() => verifyMetaSignature(APP_SECRET, request(tampered, signature)))).toMatchObject({ status: 401 });
  });

  it('when no app secret is configured, then an unsigned request passes from this machine only', () => {
    expect(() => verifyMetaSignature(undefined, request(metaFixture('text-message'), undefined, true))).not.toThrow();
    expect(rejection(() => verifyMetaSignature(undefined, request(metaFixture('text-message'))))).toMatchObject({ status: 401, code: 'signature_unverifiable' });
  });
});
