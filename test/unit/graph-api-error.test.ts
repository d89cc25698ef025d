import { describe, expect, it } from 'vitest';

import { graphApiError } from '../../src/channels/meta/graph-api-error.ts';

function body(code: number, message = 'Graph says no', subcode?: number) {
  return { error: { message, type: 'OAuthException', code, ...(subcode ? { error_subcode: subcode } : {}), fbtrace_id: 'AbCdEf123' } };
}

describe('graphApiError', () => {
  it.each([
    [429, 130429, 'the phone number throughput limit'],
    [400, 131056, 'too many messages to one patient'],
    [400, 131048, 'the spam rate limit'],
    [400, 80007, 'the account rate limit'],
    [400, 4, 'the app rate limit'],
    [403, 613, 'calls per hour'],
  ])('when Graph answers %i with code %i (%s), then another try may cure it', (status, code) => {
    expect(graphApiError({ operation: 'send', status, body: body(code) }).retryable).toBe(true);
  });

  it.each([
    [401, 190, 'a bad or expired token'],
    [400, 131047, 'a closed 24-hour window'],
    [500, 190, 'a bad token, even behind a 5xx'],
    [400, 100, 'an invalid parameter'],
    [400, 131026, 'an undeliverable message'],
  ])('when Graph answers %i with code %i (%s), then it is not retried', (status, code) => {
    expect(graphApiError({ operation: 'send', status, body: body(code) }).retryable).toBe(false);
  });

  it('when the answer is a 5xx or 429 without a Graph body, or there is no answer at all, then it is retried', () => {
    expect(graphApiError({ operation: 'send', status: 502, body: undefined }).retryable).toBe(true);
    expect(graphApiError({ operation: 'send', status: 429, body: '<html>' }).retryable).toBe(true);
    expect(graphApiError({ operation: 'send', cause: new Error('ECONNRESET') })).toMatchObject({ retryable: true, message: 'Graph API send got no answer: ECONNRESET' });
  });

  it('when Graph explains itself, then the error carries status, code, subcode and fbtrace_id', () => {
    const error = graphApiError({ operation: 'acknowledge', status: 400, body: body(131047, 'Re-engagement message', 2494010) });
    expect(error).toMatchObject({
      code: 'acknowledge_failed',
      message: 'Graph API acknowledge failed (400, code 131047): Re-engagement message',
      details: { status: 400, providerCode: 131047, subcode: 2494010, fbtraceId: 'AbCdEf123' },
    });
  });
});
