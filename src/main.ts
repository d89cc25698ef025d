import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

import { createOpenAILimiter, type OpenAILimiter } from './ai/openai-limiter.ts';
import type { ChatModel, Embedder, Transcriber, TriageModel } from './ai/models.ts';
import { createAlertDispatcher } from './alerts/alert-dispatcher.ts';
import { reportAlertRefusal } from './alerts/report-alert-refusal.ts';
import { createStaffAlerts } from './alerts/staff-alerts.ts';
import { createPatientData } from './patient-data/patient-data-store.ts';
import { scheduleRetention } from './patient-data/schedule-retention.ts';
import type { ChannelWebhook } from './channels/channel.ts';
import { createLocalSender } from './channels/local-sender.ts';
import { createMetaSender, META_MAX_BODY } from './channels/meta/meta-sender.ts';
import { metaVerificationRoute } from './channels/meta/meta-verification-route.ts';
import { metaWebhook } from './channels/meta/meta-webhook.ts';
import { createTwilioSender, TWILIO_MAX_BODY } from './channels/twilio/twilio-sender.ts';
import { twilioStatusWebhook, twilioWebhook } from './channels/twilio/twilio-webhook.ts';
import { smsSender } from './channels/sms/sms-sender.ts';
import { createMetaMediaFetcher } from './channels/meta/meta-media-fetcher.ts';
import { createTwilioMediaFetcher } from './channels/twilio/twilio-media-fetcher.ts';
import { createVoiceListener } from './voice/hear-voice-note.ts';
import { loadConfigOrExit, type Config } from './config.ts';
import { createReadinessCheck } from './db/create-readiness-check.ts';
import { openDatabase } from './db/open-database.ts';
import type { PgliteDatabase } from './db/pglite/pglite-database.ts';
import { warmUpDatabase } from './db/pglite/warm-up-database.ts';
import { createApp } from './http/create-app.ts';
import { createServer } from './http/create-server.ts';
import { webhookRoute } from './http/webhook-route.ts';
import { createLogger, type Logger } from './logger.ts';
import { openIntake } from './intake/open-intake.ts';
import { createMetrics } from './metrics.ts';
import { phoneNumberMatcher } from './channels/canonical-phone-number.ts';
import { assistantBackReply, failureReply, replyLanguage } from './pipeline/fixed-replies.ts';
import { detectLanguage } from './language/detect-language.ts';
import { shippedLanguages } from './language/load-languages.ts';
import { createResponder } from './pipeline/respond-to-message.ts';
import { kindToStore } from './safety/kind-to-store.ts';
import { loadSafetyPhrases } from './safety/load-safety-phrases.ts';
import { warmUpClassifier } from './safety/warm-up-classifier.ts';
import { createPatientStates } from './store/patient-state.ts';
import { createInbox } from './store/inbox.ts';
import { createKnowledge } from './store/knowledge.ts';
import { createInboxWorker } from './worker/inbox-worker.ts';
import { createInstanceHeartbeat } from './worker/instance-heartbeat.ts';
import { createInstances } from './store/instances.ts';
import { createConsoleEvents } from './staff/console-events.ts';
import { consolePage } from './staff/console-page.ts';
import { createSignInCodeDelivery } from './staff/deliver-sign-in-code.ts';
import { staffApi } from './staff/staff-api.ts';
import { createStaffSignIn } from './staff/staff-sign-in.ts';
import { createStaffStore } from './staff/staff-store.ts';
import { watchHandoffs } from './staff/watch-handoffs.ts';

export type StartOptions = {
  logger?: Logger;
  /** A dumped data directory to start from (fast test fixtures). */
  loadDataDir?: Uint8Array;
  /** Worker tuning for tests: how often to look for due retries, and the base retry delay. */
  worker?: { pollIntervalMs?: number; retryBaseDelayMs?: number; leaseSeconds?: number };
  /** Heartbeat tuning for tests (shared databases only): how often, and how long a silent instance lives. */
  heartbeat?: { intervalMs?: number; ttlSeconds?: number };
};

export type RunningService = Awaited<ReturnType<typeof start>>;

/** The composition root: builds every real part from the config, and nothing else does. */
export async function start(config: Config, options: StartOptions = {}) {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  // Read before anything is opened: a broken phrase file must stop the start, not a patient's answer.
  const phrases = loadSafetyPhrases(config.safetyPhrasesFile);
  // Likewise the language rules (config/languages.json): read now, so that a broken file stops the start.
  shippedLanguages();

  const opening = openDatabase(config, {
    logger,
    ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
  });
  // While the database thread starts: long before ready, so that what it builds is settled (and out of
  // the young generation the first webhooks' garbage collections copy) when the first webhooks come.
  try {
    warmUpClassifier(phrases);
  } catch (error) {
    // Only a warm-up: the rules were read above, and a message classifies without it.
    logger.warn({ err: error }, 'could not warm the emergency rules up');
  }
  const { db, kind: databaseKind, close: closeDatabase } = await opening;
  const inbox = createInbox(db);
  const knowledge = createKnowledge(db);
  const metrics = createMetrics({ inboxStats: () => inbox.stats() });
  const isReady = await createReadinessCheck(db);

  // This process among the instances sharing a database: its worker's lease owner, and its heartbeat.
  const instanceId = `instance-${randomUUID()}`;
  const shared = databaseKind !== 'embedded';

  let embedder: Embedder | undefined;
  let chat: ChatModel | undefined;
  let triage: TriageModel | undefined;
  let transcriber: Transcriber | undefined;
  let limiter: OpenAILimiter | undefined;
  if (config.openai.apiKey) {
    // On a shared database the cap is for the deployment: this instance's share comes with its first heartbeat.
    limiter = createOpenAILimiter(shared ? 0 : config.openai.maxConcurrency, metrics);
    // Loaded only with a key: offline, the OpenAI client (about 10 MB) is never needed.
    const { createOpenAIModels } = await import('./ai/openai-models.ts');
    ({ embedder, chat, triage, transcriber } = createOpenAIModels({ ...config.openai, apiKey: config.openai.apiKey, limiter, metrics }));
  } else {
    logger.warn('OPENAI_API_KEY is not set: offline mode, answers are the best passage from full-text search');
  }
  if (!config.twilio.authToken) {
    logger.warn('TWILIO_AUTH_TOKEN is not set: unsigned Twilio webhooks are accepted from this machine only (npm run chat); everything else gets 403');
  }
  if (!config.meta.appSecret) {
    logger.warn('META_APP_SECRET is not set: unsigned Meta webhooks are accepted from this machine only; everything else gets 401');
  }
  if (config.staffAlertNumbers.length === 0) {
    logger.warn('STAFF_ALERT_NUMBERS and STAFF_NUMBERS are empty: emergencies and requests for a person alert nobody');
  }
  const alertsOnWhatsApp = Boolean(config.meta.accessToken || config.twilio.accountSid);
  if (alertsOnWhatsApp && config.staffAlertNumbers.length > 0 && !config.alertRoutes.smsFrom && !config.alertRoutes.twilioContentSid && !config.alertRoutes.metaTemplate) {
    logger.warn('no STAFF_ALERT_SMS_FROM and no alert template: a WhatsApp alert to a staff phone that has not written to the clinic number in 24 hours will be refused, with no other way to reach them');
  }
  if (config.twilio.accountSid && !config.publicUrl) {
    logger.warn('PUBLIC_URL is not set: Twilio cannot send delivery reports, so a staff alert that WhatsApp refuses (error 63016) goes unnoticed');
  }
  if (config.retentionDays === 0) {
    logger.warn('RETENTION_DAYS=0: patients\' messages and replies are kept forever; set how long the clinic keeps them');
  }
  if (config.clinicPlaceholders.length > 0) {
    logger.warn({ unset: config.clinicPlaceholders }, 'clinic details are placeholders: set them before patients use the service');
  }

  const twilioSender =
    config.twilio.accountSid && config.twilio.authToken
      ? createTwilioSender({
          accountSid: config.twilio.accountSid,
          authToken: config.twilio.authToken,
          apiBaseUrl: config.twilio.apiBaseUrl,
          ...(config.publicUrl ? { statusCallbackUrl: `${config.publicUrl}/webhooks/twilio/status` } : {}),
        })
      : createLocalSender(TWILIO_MAX_BODY, logger);
  if (!config.twilio.accountSid) logger.warn('TWILIO_ACCOUNT_SID is not set: replies are recorded, not sent');
  const metaSender = config.meta.accessToken
    ? createMetaSender({ accessToken: config.meta.accessToken, graphApiUrl: config.meta.graphApiUrl })
    : createLocalSender(META_MAX_BODY, logger);
  // Without Twilio credentials replies are kept in the outbound table; npm run chat reads them back.
  const keepRepliesLocally = !(config.twilio.accountSid && config.twilio.authToken);

  // Every SMS (replies, fixed replies, staff alerts) in GSM-7 punctuation, and its segments counted.
  const senders = { twilio: smsSender(twilioSender, metrics), meta: metaSender };
  // Voice notes are downloaded with each channel's credentials (none: they get the "please type" reply).
  const hearVoice = createVoiceListener({
    fetchers: {
      ...(config.twilio.accountSid && config.twilio.authToken
        ? { twilio: createTwilioMediaFetcher({ accountSid: config.twilio.accountSid, authToken: config.twilio.authToken, apiBaseUrl: config.twilio.apiBaseUrl }) }
        : {}),
      ...(config.meta.accessToken ? { meta: createMetaMediaFetcher({ accessToken: config.meta.accessToken, graphApiUrl: config.meta.graphApiUrl }) } : {}),
    },
    transcriber,
    maxSeconds: config.voiceMaxSeconds,
    inbox,
    metrics,
    logger,
  });
  const alerts = createStaffAlerts(db);
  const alertDispatcher = createAlertDispatcher({
    alerts,
    senders,
    logger,
    metrics,
    ...(options.worker?.pollIntervalMs ? { pollIntervalMs: options.worker.pollIntervalMs } : {}),
    ...(options.worker?.retryBaseDelayMs ? { retryBaseDelayMs: options.worker.retryBaseDelayMs } : {}),
  });
  const worker = createInboxWorker({
    owner: instanceId,
    inbox,
    senders,
    logger,
    metrics,
    concurrency: config.workerConcurrency,
    // In the message's own language: the database, and so the conversation's language, may be what failed.
    failureReply: (message) => failureReply(config.clinic, replyLanguage(detectLanguage(message.body))),
    releaseOnShutdown: databaseKind === 'embedded',
    ...options.worker,
    answer: createResponder({
      ...config,
      phrases,
      senders,
      inbox,
      alerts,
      onAlertsRaised: () => alertDispatcher.wake(),
      patientStates: createPatientStates(db),
      knowledge,
      embedder,
      chat,
      triage,
      triageTimeoutMs: config.openai.triageTimeoutMs,
      hearVoice,
      metrics,
      logger,
    }),
  });

  // The staff console: same process, same database (src/staff).
  const staffStore = createStaffStore(db);
  const consoleEvents = createConsoleEvents({ readMarker: () => staffStore.changeMarker(), logger });
  const staffSignIn = createStaffSignIn({
    store: staffStore,
    staffNumbers: config.staffNumbers,
    sessionHours: config.staffConsole.sessionHours,
    deliverCode: createSignInCodeDelivery({
      store: staffStore,
      inbox,
      senders,
      routes: {
        smsFrom: config.alertRoutes.smsFrom,
        templates: config.staffConsole.loginTemplates,
        local: keepRepliesLocally && !config.meta.accessToken,
      },
      logger,
    }),
    logger,
  });
  const handoffWatch = watchHandoffs({
    store: staffStore,
    alerts,
    staffAlertNumbers: config.staffAlertNumbers,
    alertRoutes: config.alertRoutes,
    publicUrl: config.publicUrl,
    remindMinutes: config.staffConsole.remindMinutes,
    timeoutHours: config.staffConsole.timeoutHours,
    backMessages: { en: assistantBackReply(config.clinic, 'en'), es: assistantBackReply(config.clinic, 'es') },
    onAlertsRaised: () => alertDispatcher.wake(),
    onQueued: () => worker.wake(),
    logger,
    ...(options.worker?.pollIntervalMs ? { intervalMs: options.worker.pollIntervalMs * 4 } : {}),
  });
  if (config.staffNumbers.length === 0) logger.warn('STAFF_NUMBERS is empty: nobody can sign in to the staff console');

  // Webhooks' messages: journaled and answered at once, stored behind the answer (embedded database).
  const intake = openIntake({
    database: databaseKind,
    dataDir: config.dataDir,
    inbox,
    logger,
    metrics,
    onStored: ({ urgent }) => {
      if (urgent) worker.wakeUrgent();
      else worker.wake();
      consoleEvents.poke();
    },
  });

  const staffNumberOf = phoneNumberMatcher(config.staffNumbers);
  /** /readyz says ready only once the start-up work is done (see `ready` below). */
  let started = false;
  const app = createApp({
    extraRoutes: (app) => {
      app.get('/webhooks/meta', metaVerificationRoute(config.meta.verifyToken, logger));
      app.use(consolePage());
      app.use(
        '/staff/api',
        staffApi({
          signIn: staffSignIn,
          store: staffStore,
          inbox,
          events: consoleEvents,
          senders,
          followUpTemplates: config.staffConsole.followUpTemplates,
          clinicName: config.clinic.name,
          secureCookies: config.publicUrl?.startsWith('https:') ?? false,
          sessionHours: config.staffConsole.sessionHours,
          onQueued: () => worker.wake(),
          logger,
        }),
      );
    },
    inbox,
    logger,
    metrics,
    isReady: async () => started && (await isReady()),
    metricsToken: config.metricsToken,
    devOutbox: keepRepliesLocally,
  });
  const webhook = (channelWebhook: ChannelWebhook, bodyLimit = 64 * 1024) =>
    webhookRoute({
      webhook: channelWebhook,
      bodyLimit,
      intake,
      inbox,
      publicUrl: config.publicUrl,
      logger,
      metrics,
      onAlertRefusals: (refusals) => {
        for (const refusal of refusals) reportAlertRefusal(refusal, { logger, metrics });
        alertDispatcher.wake();
      },
      rateLimitFor: (patient) => (staffNumberOf(patient) !== undefined ? 0 : config.patientRateLimitPerMinute),
      classify: (message) => kindToStore(message, phrases, { staff: staffNumberOf(message.patient) !== undefined }),
    });
  const server = createServer(app, [
    { path: '/webhooks/twilio', handler: webhook(twilioWebhook(config.twilio.authToken)) },
    { path: '/webhooks/twilio/status', handler: webhook(twilioStatusWebhook(config.twilio.authToken)) },
    // Meta batches many messages and statuses in one payload (up to 3 MB, its webhook docs say).
    { path: '/webhooks/meta', handler: webhook(metaWebhook(config.meta.appSecret), 3 * 1024 * 1024) },
  ]);
  server.listen(config.port, '0.0.0.0');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  logger.info({ port }, 'listening');

  const heartbeat = shared
    ? createInstanceHeartbeat({ instances: createInstances(db), id: instanceId, kind: 'service', openaiTotal: config.openai.maxConcurrency, limiter, logger, metrics, ...options.heartbeat })
    : undefined;
  if (heartbeat) {
    const first = await heartbeat.start();
    logger.info({ instance: instanceId, instances: first.instances, openaiShare: first.share }, 'instance joined');
  }

  let stopping: Promise<void> | undefined;
  let requestStop = () => {};
  const stopRequested = new Promise<void>((resolve) => (requestStop = resolve));
  let retention: ReturnType<typeof scheduleRetention> | undefined;
  // An empty embedded database is loaded from KNOWLEDGE_DIR after the server is up, so that webhooks
  // are taken meanwhile; the worker starts once there is something to answer from. A shared database
  // (PostgreSQL, Supabase) is loaded by whoever deploys (`npm run ingest`), once, not by every instance.
  const ready = (async () => {
    const stats = await knowledge.stats();
    if (databaseKind !== 'embedded') {
      if (stats.documents === 0) logger.warn(`the knowledge base on ${databaseKind === 'supabase' ? 'Supabase' : 'PostgreSQL'} is empty: load it with npm run ingest -- ${config.knowledgeDir}`);
      return;
    }
    if (stats.documents === 0) {
      // Loaded only for a first start: the chunker's tokenizer and the readers are not needed to answer.
      const { ingestPaths } = await import('./knowledge/ingest-paths.ts');
      const { skipped, embeddingError, ...summary } = await ingestPaths([config.knowledgeDir], { knowledge, embedder });
      for (const file of skipped) logger.warn(file, 'knowledge file skipped');
      if (embeddingError) logger.warn({ embeddingError, missingEmbeddings: summary.missingEmbeddings }, 'some chunks were not embedded: run npm run ingest to finish');
      logger.info(summary, `knowledge base loaded from ${config.knowledgeDir}`);
    } else if (embedder && stats.embedded < stats.chunks) {
      logger.warn({ missing: stats.chunks - stats.embedded }, 'some chunks have no embedding: stop the server and run npm run ingest to add them');
    }
  })()
    .catch((error: unknown) => logger.error({ err: error }, 'could not load the knowledge base'))
    .then(async () => {
      // Messages an earlier process acknowledged but had not stored yet are stored before the worker
      // claims anything and before ready (a database that is unavailable is retried meanwhile).
      await Promise.race([intake.replayed, stopRequested]);
      // One process per embedded DATA_DIR, so whatever is still 'processing' belonged to a process that
      // died: due again now. (On a shared database, other instances may be alive: see the heartbeats.)
      if (databaseKind === 'embedded') {
        const released = await inbox.releaseOrphans(worker.owner).catch((error: unknown) => {
          logger.error({ err: error }, 'could not release messages of an earlier process; their leases will expire');
          return 0;
        });
        if (released > 0) logger.warn({ released }, 'messages left in flight by an earlier process are due again');
      }
      // A SIGTERM during the first load must not start the worker it is about to stop.
      if (!stopping) {
        // Node loads its fetch (undici) on the first call: tens of milliseconds of the main thread that
        // would fall on the worker's first OpenAI or Graph API call, among the first webhooks after a
        // restart (BENCHMARKS.md, table 9). A data: URL loads it without a request. (A request to this
        // server's own /healthz would also compile undici's HTTP parser, but costs 8 MB more of an idle
        // service's memory, past its target: table 7.)
        await fetch('data:,').catch(() => undefined);
        worker.start();
        alertDispatcher.start();
        const firstLook = handoffWatch.start();
        retention = scheduleRetention({ patientData: createPatientData(db), retentionDays: config.retentionDays, logger });
        // Ready once the start-up work is done, not while it competes with the first webhooks. The
        // first purge of a large backlog (retention just turned on) may take minutes: it is waited for
        // 2 s at most, and goes on in batches after ready.
        await Promise.all([firstLook, Promise.race([retention.ran, sleep(2_000, undefined, { ref: false })])]);
        if (databaseKind === 'embedded' && config.dataDir !== 'memory://') {
          await warmUpDatabase(db as PgliteDatabase).catch((error: unknown) => logger.warn({ err: error }, 'could not warm the database up'));
        }
        // From here on webhooks come first: the database thread yields the cores to the main thread.
        if (databaseKind === 'embedded') await (db as PgliteDatabase).lowerPriority().catch(() => undefined);
      }
      started = true;
    });

  const stop = () =>
    (stopping ??= (async () => {
      requestStop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Live console streams would hold the server open.
      consoleEvents.close();
      await ready;
      const result = await worker.stop(config.shutdownTimeoutMs);
      logger.info(result, 'worker stopped');
      await alertDispatcher.stop(config.shutdownTimeoutMs);
      await handoffWatch.stop();
      retention?.stop();
      await retention?.ran;
      await heartbeat?.stop();
      server.closeAllConnections();
      await closed;
      // No webhook can come now: what is journaled goes into the inbox before the database closes, or
      // stays in the journal for the next start.
      const journal = await intake.stop(config.shutdownTimeoutMs);
      if (journal.left > 0) logger.warn(journal, 'journaled messages left for the next start');
      await closeDatabase();
    })());

  return { port, url: `http://127.0.0.1:${port}`, ready, stop, db, intake, inbox, knowledge, worker, alertDispatcher, handoffWatch, staffStore, metrics, logger };
}

async function main() {
  const config = loadConfigOrExit();
  let service: RunningService;
  try {
    service = await start(config);
  } catch (error) {
    console.error(`clinic-assistant could not start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      service.logger.info({ signal }, 'shutting down');
      service.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          service.logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
