import { describe, expect, it } from 'vitest';

import { alertText } from '../../src/alerts/alert-text.ts';

describe('alertText', () => {
  it('names the patient by full number and channel, or, for a WhatsApp username without one, by their business-scoped id', () => {
    expect(alertText('handoff', { id: 7, channel: 'meta', patient: '15551234567', body: 'human' }).body).toContain('patient +15551234567 (WhatsApp)');
    expect(alertText('handoff', { id: 8, channel: 'meta', patient: 'US.13491208655302741918', body: 'human' }).body).toContain('US.13491208655302741918 (WhatsApp username, no phone number)');
  });
});
