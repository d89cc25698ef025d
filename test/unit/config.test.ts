import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.ts';

describe('loadConfig', () => {
  it('when nothing is set, then it runs embedded and offline on port 3000', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 3000, dataDir: '.data/pglite', supabase: undefined, botMode: 'open', staffNumbers: [] });
    expect(config.openai).toMatchObject({ apiKey: undefined, maxConcurrency: 4, embeddingModel: 'text-embedding-3-small', transcribeModel: 'gpt-4o-mini-transcribe' });
    expect(config).toMatchObject({ smsMaxSegments: 4, voiceMaxSeconds: 120 });
    expect(config.clinicPlaceholders).toEqual(['CLINIC_NAME', 'CLINIC_PHONE', 'CLINIC_EMERGENCY_PHONE']);
  });

  it('when DATABASE_URL is set, then the pool size defaults to 10, and a bad URL is reported without its password', () => {
    expect(loadConfig({ DATABASE_URL: 'postgresql://clinic:secret@db.example:5432/clinic' }).postgres).toEqual({ url: 'postgresql://clinic:secret@db.example:5432/clinic', poolSize: 10 });
    expect(() => loadConfig({ DATABASE_URL: 'https://clinic:hunter2@db.example/clinic' })).toThrow(/DATABASE_URL: must be a postgres/);
    expect(() => loadConfig({ DATABASE_URL: 'https://clinic:hunter2@db.example/clinic' })).not.toThrow(/hunter2/);
  });

  it('when STAFF_ALERT_NUMBERS is unset, then staff numbers are alerted', () => {
    expect(loadConfig({ STAFF_NUMBERS: '+15551110000, +15552220000' }).staffAlertNumbers).toEqual(['+15551110000', '+15552220000']);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ OPENAI_MAX_CONCURRENCY: '0' }, 'OPENAI_MAX_CONCURRENCY'],
    [{ STAFF_NUMBERS: '555-1234' }, 'STAFF_NUMBERS'],
    [{ BOT_MODE: 'closed' }, 'BOT_MODE'],
    [{ PUBLIC_URL: 'ftp://x' }, 'PUBLIC_URL'],
    [{ SUPABASE_URL: 'https://x.supabase.co' }, 'SUPABASE_SERVICE_ROLE_KEY'],
    [{ TWILIO_AUTH_TOKEN: 'abc' }, 'TWILIO_ACCOUNT_SID'],
    [{ SMS_MAX_SEGMENTS: '0' }, 'SMS_MAX_SEGMENTS'],
    [{ SMS_MAX_SEGMENTS: '11' }, 'SMS_MAX_SEGMENTS'],
    [{ VOICE_MAX_SECONDS: '0' }, 'VOICE_MAX_SECONDS'],
    [{ VOICE_MAX_SECONDS: 'two minutes' }, 'VOICE_MAX_SECONDS'],
    [{ METRICS_TOKEN: 'short' }, 'METRICS_TOKEN'],
    [{ DATABASE_URL: 'mysql://db.example/clinic' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'postgres://db.example/clinic', DATABASE_POOL_SIZE: '0' }, 'DATABASE_POOL_SIZE'],
    [{ DATABASE_URL: 'postgres://db.example/clinic', SUPABASE_URL: 'https://x.supabase.co', SUPABASE_SERVICE_ROLE_KEY: 'k' }, 'DATABASE_URL and SUPABASE_URL'],
  ])('when %j, then the error names %s', (env, name) => {
    expect(() => loadConfig(env)).toThrow(name);
  });
});
