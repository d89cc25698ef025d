import { describe, expect, it } from 'vitest';

import { planAlerts, type AlertRoutes } from '../../src/alerts/plan-alerts.ts';

const ALL: AlertRoutes = { smsFrom: '+15550009999', twilioContentSid: `HX${'a'.repeat(32)}`, metaTemplate: 'clinic_alert:en_US' };
const NONE: AlertRoutes = { smsFrom: undefined, twilioContentSid: undefined, metaTemplate: undefined };
const message = (channel: 'twilio' | 'meta', business: string, patient: string) => ({ id: 7, channel, business, patient, body: 'I feel faint\nand sick' });

describe('planAlerts', () => {
  it('when the patient wrote on WhatsApp through Twilio, then each staff member is alerted there first, with a template and an SMS to fall back on', () => {
    const [alert] = planAlerts(message('twilio', 'whatsapp:+15557654322', 'whatsapp:+15556000001'), 'emergency', ['+15550002221'], ALL);
    expect(alert).toMatchObject({ staffNumber: '+15550002221', channel: 'twilio', sender: 'whatsapp:+15557654322', recipient: 'whatsapp:+15550002221' });
    expect(alert!.body).toBe('URGENT (possible emergency): patient +15556000001 (WhatsApp via Twilio), message 7: "I feel faint and sick". Please call them now.');
    expect(alert!.fallbacks).toEqual([
      { route: 'template', channel: 'twilio', sender: 'whatsapp:+15557654322', recipient: 'whatsapp:+15550002221', template: ALL.twilioContentSid, variables: ['URGENT (possible emergency)', '+15556000001 (WhatsApp via Twilio)', 'I feel faint and sick'] },
      { route: 'sms', channel: 'twilio', sender: '+15550009999', recipient: '+15550002221' },
    ]);
  });

  it('when the patient wrote on the Cloud API, then the alert goes to the staff wa_id, with the Meta template and an SMS through Twilio as fallbacks', () => {
    const [alert] = planAlerts(message('meta', '106540352242922', '15556000001'), 'self_harm', ['+15550002221'], ALL);
    expect(alert).toMatchObject({ channel: 'meta', sender: '106540352242922', recipient: '15550002221' });
    expect(alert!.body).toContain('URGENT (self-harm risk): patient +15556000001 (WhatsApp)');
    expect(alert!.fallbacks.map((way) => [way.route, way.channel, way.template])).toEqual([['template', 'meta', 'clinic_alert:en_US'], ['sms', 'twilio', undefined]]);
  });

  it('when the patient wrote by SMS, then there is no template (SMS has no window), and SMS from the alert number only if it is another number', () => {
    expect(planAlerts(message('twilio', '+15557654321', '+15556000001'), 'handoff', ['+15550002221'], ALL)[0]!.fallbacks).toEqual([
      { route: 'sms', channel: 'twilio', sender: '+15550009999', recipient: '+15550002221' },
    ]);
    expect(planAlerts(message('twilio', '+15550009999', '+15556000001'), 'handoff', ['+15550002221'], ALL)[0]!.fallbacks).toEqual([]);
  });

  it('when no other way is configured, then an alert has no fallback', () => {
    expect(planAlerts(message('meta', '106540352242922', '15556000001'), 'emergency', ['+15550002221', '+15550002222'], NONE).map((a) => a.fallbacks)).toEqual([[], []]);
  });
});
