import { existsSync } from 'node:fs';

import { z } from 'zod';

/**
 * The whole environment, parsed once at start. No other file reads process.env: everything else gets
 * a Config. A bad variable stops the start with a message that names it.
 */
const optionalString = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

const optionalUrl = optionalString.pipe(z.url({ protocol: /^https?$/ }).optional());

const e164List = z
  .string()
  .default('')
  .transform((value) => value.split(',').map((item) => item.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^\+[1-9]\d{6,14}$/, 'each number must be E.164, like +15551234567')));

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const positiveNumber = (fallback: number) => z.coerce.number().positive().default(fallback);
const contentSid = optionalString.pipe(z.string().regex(/^HX[0-9a-fA-F]{32}$/, 'must be a Twilio Content SID: HX and 32 hex digits').optional());
const metaTemplate = optionalString.pipe(z.string().regex(/^[a-z0-9_]{1,512}:[A-Za-z]{2,3}(_[A-Za-z]{2,4})?$/, 'must be name:language, like clinic_alert:en_US').optional());

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  PUBLIC_URL: optionalUrl,
  DATA_DIR: z.string().trim().min(1).default('.data/pglite'),
  DATABASE_URL: optionalString.pipe(z.string().regex(/^postgres(ql)?:\/\/./, 'must be a postgres:// or postgresql:// connection URL').optional()),
  DATABASE_POOL_SIZE: positiveInt(10),
  SUPABASE_URL: optionalUrl,
  SUPABASE_SERVICE_ROLE_KEY: optionalString,
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalUrl,
  OPENAI_CHAT_MODEL: z.string().trim().min(1).default('gpt-4o-mini'),
  OPENAI_EMBEDDING_MODEL: z.string().trim().min(1).default('text-embedding-3-small'),
  OPENAI_MAX_CONCURRENCY: positiveInt(4),
  OPENAI_TIMEOUT_MS: positiveInt(20_000),
  OPENAI_TRANSCRIBE_MODEL: z.string().trim().min(1).default('gpt-4o-mini-transcribe'),
  VOICE_MAX_SECONDS: positiveInt(120),
  TWILIO_ACCOUNT_SID: optionalString,
  TWILIO_AUTH_TOKEN: optionalString,
  TWILIO_API_BASE_URL: z.url({ protocol: /^https?$/ }).default('https://api.twilio.com'),
  META_ACCESS_TOKEN: optionalString,
  META_APP_SECRET: optionalString,
  META_VERIFY_TOKEN: optionalString,
  META_GRAPH_API_URL: z.url({ protocol: /^https?$/ }).default('https://graph.facebook.com/v23.0'),
  STAFF_NUMBERS: e164List,
  STAFF_ALERT_NUMBERS: optionalString.pipe(e164List.optional()),
  STAFF_ALERT_SMS_FROM: optionalString.pipe(z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number, like +15551234567').optional()),
  TWILIO_ALERT_CONTENT_SID: contentSid,
  META_ALERT_TEMPLATE: metaTemplate,
  STAFF_SESSION_HOURS: positiveNumber(12),
  HANDOFF_REMIND_MINUTES: positiveInt(15),
  HANDOFF_TIMEOUT_HOURS: positiveNumber(24),
  TWILIO_FOLLOWUP_CONTENT_SID: contentSid,
  META_FOLLOWUP_TEMPLATE: metaTemplate,
  TWILIO_LOGIN_CONTENT_SID: contentSid,
  META_LOGIN_TEMPLATE: metaTemplate,
  OPENAI_TRIAGE_TIMEOUT_MS: positiveInt(2_500),
  KNOWLEDGE_DIR: z.string().trim().min(1).default('knowledge'),
  CLINIC_NAME: optionalString,
  CLINIC_PHONE: optionalString,
  CLINIC_EMERGENCY_PHONE: optionalString,
  BOT_MODE: z.enum(['open', 'staff-only']).default('open'),
  WORKER_CONCURRENCY: positiveInt(32),
  PATIENT_RATE_LIMIT_PER_MINUTE: positiveInt(20),
  HISTORY_TTL_DAYS: positiveInt(30),
  // Twilio takes at most 1,600 characters a message: about 10 GSM-7 segments.
  SMS_MAX_SEGMENTS: z.coerce.number().int().min(1, 'must be at least 1').max(10, 'must be at most 10 (Twilio takes 1,600 characters a message)').default(4),
  // An empty value is not 0 (keep forever): it is the default.
  RETENTION_DAYS: optionalString.transform((value) => Number(value ?? '365')).pipe(z.number().int().min(0)),
  SAFETY_PHRASES_FILE: z.string().trim().min(1).default('config/safety-phrases.json'),
  SHUTDOWN_TIMEOUT_MS: positiveInt(10_000),
  METRICS_TOKEN: optionalString.pipe(z.string().min(16, 'must be at least 16 characters (it guards /metrics from outside this machine)').optional()),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = {
  port: number;
  publicUrl: string | undefined;
  dataDir: string;
  /** Any PostgreSQL 15+ with pgvector (DATABASE_URL), with a pool of `poolSize` connections. */
  postgres: { url: string; poolSize: number } | undefined;
  supabase: { url: string; serviceRoleKey: string } | undefined;
  openai: {
    apiKey: string | undefined;
    baseURL: string | undefined;
    chatModel: string;
    embeddingModel: string;
    /** Voice notes. */
    transcribeModel: string;
    maxConcurrency: number;
    timeoutMs: number;
    /** How long the model's second opinion on a message may take before the answer goes on without it. */
    triageTimeoutMs: number;
  };
  twilio: { accountSid: string | undefined; authToken: string | undefined; apiBaseUrl: string };
  meta: {
    accessToken: string | undefined;
    appSecret: string | undefined;
    verifyToken: string | undefined;
    graphApiUrl: string;
  };
  staffNumbers: string[];
  staffAlertNumbers: string[];
  /** The other ways to reach staff when WhatsApp refuses an alert (see src/alerts/plan-alerts.ts). */
  alertRoutes: { smsFrom: string | undefined; twilioContentSid: string | undefined; metaTemplate: string | undefined };
  staffConsole: StaffConsoleConfig;
  knowledgeDir: string;
  clinic: { name: string; phone: string; emergencyPhone: string };
  /** Names of the CLINIC_* variables left unset, so the start can warn about placeholders. */
  clinicPlaceholders: string[];
  botMode: 'open' | 'staff-only';
  workerConcurrency: number;
  /** Messages a minute one patient may send before being throttled (staff numbers are exempt). */
  patientRateLimitPerMinute: number;
  /** Conversation turns older than this are not used as memory. */
  historyTtlDays: number;
  /** Voice notes longer than this are not transcribed (the patient is asked for a shorter one). */
  voiceMaxSeconds: number;
  /** The longest SMS answer, in billed segments (a generated or offline answer is cut at a sentence to fit). */
  smsMaxSegments: number;
  /** The text of messages, replies and reports older than this is purged (0: kept forever). */
  retentionDays: number;
  safetyPhrasesFile: string;
  shutdownTimeoutMs: number;
  /** `/metrics` from outside this machine needs `Authorization: Bearer <metricsToken>`; unset: this machine only. */
  metricsToken: string | undefined;
  logLevel: string;
};

/** The staff console (src/staff): sign-in, and what happens to a conversation waiting for a person. */
export type StaffConsoleConfig = {
  sessionHours: number;
  /** A handoff or emergency with no staff action for this long alerts again (a few rounds at most). */
  remindMinutes: number;
  /** A pause with no staff action for this long ends, and the patient is told the assistant is back. */
  timeoutHours: number;
  /** Approved templates the console offers outside WhatsApp's 24-hour window, inviting the patient to write back. */
  followUpTemplates: { twilio: string | undefined; meta: string | undefined };
  /** Approved authentication templates ({{1}} = the code) for sign-in codes outside the window. */
  loginTemplates: { twilio: string | undefined; meta: string | undefined };
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid environment:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const v = parsed.data;
  const problems: string[] = [];
  if (Boolean(v.SUPABASE_URL) !== Boolean(v.SUPABASE_SERVICE_ROLE_KEY)) {
    problems.push('SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY: set both to use Supabase, or neither for the embedded database');
  }
  if (v.DATABASE_URL && v.SUPABASE_URL) {
    problems.push('DATABASE_URL and SUPABASE_URL: set one (a Supabase project can be reached either way: DATABASE_URL is its Postgres connection string)');
  }
  if (v.TWILIO_AUTH_TOKEN && !v.TWILIO_ACCOUNT_SID) {
    problems.push('TWILIO_ACCOUNT_SID: required when TWILIO_AUTH_TOKEN is set (replies are sent with both)');
  }
  if (v.META_ACCESS_TOKEN && !v.META_APP_SECRET) {
    problems.push('META_APP_SECRET: required when META_ACCESS_TOKEN is set (without it anyone could post messages that the clinic number would answer)');
  }
  for (const name of ['META_ALERT_TEMPLATE', 'META_FOLLOWUP_TEMPLATE', 'META_LOGIN_TEMPLATE'] as const) {
    if (v[name] && !v.META_ACCESS_TOKEN) problems.push(`${name}: needs META_ACCESS_TOKEN (the template is sent through the Cloud API)`);
  }
  for (const name of ['STAFF_ALERT_SMS_FROM', 'TWILIO_ALERT_CONTENT_SID', 'TWILIO_FOLLOWUP_CONTENT_SID', 'TWILIO_LOGIN_CONTENT_SID'] as const) {
    if (v[name] && !(v.TWILIO_ACCOUNT_SID && v.TWILIO_AUTH_TOKEN)) problems.push(`${name}: needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (it is sent through Twilio)`);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    port: v.PORT,
    publicUrl: v.PUBLIC_URL?.replace(/\/+$/, ''),
    dataDir: v.DATA_DIR,
    postgres: v.DATABASE_URL ? { url: v.DATABASE_URL, poolSize: v.DATABASE_POOL_SIZE } : undefined,
    supabase: v.SUPABASE_URL && v.SUPABASE_SERVICE_ROLE_KEY ? { url: v.SUPABASE_URL, serviceRoleKey: v.SUPABASE_SERVICE_ROLE_KEY } : undefined,
    openai: {
      apiKey: v.OPENAI_API_KEY,
      baseURL: v.OPENAI_BASE_URL,
      chatModel: v.OPENAI_CHAT_MODEL,
      embeddingModel: v.OPENAI_EMBEDDING_MODEL,
      transcribeModel: v.OPENAI_TRANSCRIBE_MODEL,
      maxConcurrency: v.OPENAI_MAX_CONCURRENCY,
      timeoutMs: v.OPENAI_TIMEOUT_MS,
      triageTimeoutMs: v.OPENAI_TRIAGE_TIMEOUT_MS,
    },
    twilio: { accountSid: v.TWILIO_ACCOUNT_SID, authToken: v.TWILIO_AUTH_TOKEN, apiBaseUrl: v.TWILIO_API_BASE_URL.replace(/\/+$/, '') },
    meta: {
      accessToken: v.META_ACCESS_TOKEN,
      appSecret: v.META_APP_SECRET,
      verifyToken: v.META_VERIFY_TOKEN,
      graphApiUrl: v.META_GRAPH_API_URL.replace(/\/+$/, ''),
    },
    staffNumbers: v.STAFF_NUMBERS,
    staffAlertNumbers: v.STAFF_ALERT_NUMBERS ?? v.STAFF_NUMBERS,
    alertRoutes: { smsFrom: v.STAFF_ALERT_SMS_FROM, twilioContentSid: v.TWILIO_ALERT_CONTENT_SID, metaTemplate: v.META_ALERT_TEMPLATE },
    staffConsole: {
      sessionHours: v.STAFF_SESSION_HOURS,
      remindMinutes: v.HANDOFF_REMIND_MINUTES,
      timeoutHours: v.HANDOFF_TIMEOUT_HOURS,
      followUpTemplates: { twilio: v.TWILIO_FOLLOWUP_CONTENT_SID, meta: v.META_FOLLOWUP_TEMPLATE },
      loginTemplates: { twilio: v.TWILIO_LOGIN_CONTENT_SID, meta: v.META_LOGIN_TEMPLATE },
    },
    knowledgeDir: v.KNOWLEDGE_DIR,
    clinic: {
      name: v.CLINIC_NAME ?? 'the clinic',
      phone: v.CLINIC_PHONE ?? '[clinic phone number]',
      emergencyPhone: v.CLINIC_EMERGENCY_PHONE ?? '[clinic emergency number]',
    },
    clinicPlaceholders: (['CLINIC_NAME', 'CLINIC_PHONE', 'CLINIC_EMERGENCY_PHONE'] as const).filter((name) => !v[name]),
    botMode: v.BOT_MODE,
    workerConcurrency: v.WORKER_CONCURRENCY,
    patientRateLimitPerMinute: v.PATIENT_RATE_LIMIT_PER_MINUTE,
    historyTtlDays: v.HISTORY_TTL_DAYS,
    smsMaxSegments: v.SMS_MAX_SEGMENTS,
    voiceMaxSeconds: v.VOICE_MAX_SECONDS,
    retentionDays: v.RETENTION_DAYS,
    safetyPhrasesFile: v.SAFETY_PHRASES_FILE,
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS,
    metricsToken: v.METRICS_TOKEN,
    logLevel: v.LOG_LEVEL,
  };
}

/** A .env beside package.json (copied from .env.example), for entry points; real environment variables win. */
export function readDotEnv(): void {
  if (existsSync('.env')) process.loadEnvFile('.env');
}

/** For entry points (npm start, npm run chat): the config, or the problems printed and exit code 1. */
export function loadConfigOrExit(): Config {
  try {
    readDotEnv();
    return loadConfig();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
