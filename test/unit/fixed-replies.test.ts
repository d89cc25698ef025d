import { describe, expect, it } from 'vitest';

import { countSmsSegments } from '../../src/channels/sms/count-sms-segments.ts';
import { toGsm7 } from '../../src/channels/sms/to-gsm7.ts';
import { detectLanguage } from '../../src/language/detect-language.ts';
import * as replies from '../../src/pipeline/fixed-replies.ts';

// Details as long as a real clinic's.
const clinic = { name: 'Northside Reproductive Medicine Centre', phone: '+44 20 7946 0000', emergencyPhone: '+44 20 7946 0999' };

const all = (language: replies.ReplyLanguage) => ({
  media: replies.mediaReply(clinic, language),
  throttle: replies.throttleNotice(clinic, language),
  emergency: replies.emergencyReply(clinic, 'medical', language),
  selfHarm: replies.emergencyReply(clinic, 'self_harm', language),
  handoff: replies.handoffReply(clinic, language),
  nudge: replies.symptomNudge(clinic, language),
  optOut: replies.optOutReply(language),
  optIn: replies.optInReply(clinic, language),
  failure: replies.failureReply(clinic, language),
  attachment: replies.attachmentNote(language),
  voiceTooLong: replies.voiceTooLongReply(clinic, 120, language),
  voiceUnreadable: replies.voiceUnreadableReply(clinic, language),
});

describe('fixed replies', () => {
  it.each(['en', 'es'] as const)('when written in %s, then each is in that language and fits in 4 SMS segments (they are never cut)', (language) => {
    for (const [name, text] of Object.entries(all(language))) {
      expect(detectLanguage(text), `${name}: ${text}`).toBe(language);
      expect(countSmsSegments(toGsm7(text)).segments, `${name}: ${text}`).toBeLessThanOrEqual(4);
    }
  });

  it('when the language has no replies of its own, then they are in English', () => {
    expect(replies.replyLanguage('fr')).toBe('en');
    expect(replies.replyLanguage(undefined)).toBe('en');
    expect(replies.replyLanguage('es')).toBe('es');
  });
});
