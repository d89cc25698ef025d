import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const STAGE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The inbox states, so that each has a sample (0 included) on every scrape. */
const INBOX_STATES = ['pending', 'processing', 'answered', 'failed', 'skipped'];

/**
 * Every series the service exposes on GET /metrics, in a registry of its own (one per server).
 * `inboxStats` is read at scrape time, so the inbox depth is never stale and costs nothing between scrapes.
 */
export function createMetrics(options: { inboxStats?: () => Promise<Record<string, number>> } = {}) {
  let journalWaiting = () => 0;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const metrics = {
    registry,
    webhooks: new Counter({ name: 'clinic_webhooks_total', help: 'Webhook requests by channel and outcome', labelNames: ['channel', 'outcome'], registers }),
    ackSeconds: new Histogram({ name: 'clinic_webhook_ack_seconds', help: 'Time from webhook arrival to its answer', labelNames: ['channel'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers }),
    stageSeconds: new Histogram({ name: 'clinic_pipeline_stage_seconds', help: 'Pipeline stage latency (embed, history, rewrite, search, generate, send)', labelNames: ['stage'], buckets: STAGE_BUCKETS, registers }),
    openaiInFlight: new Gauge({ name: 'clinic_openai_in_flight', help: 'OpenAI calls in flight', registers }),
    openaiShare: new Gauge({ name: 'clinic_openai_share', help: 'OpenAI calls this instance may have in flight: its share of OPENAI_MAX_CONCURRENCY across the instances on one database', registers }),
    openaiQueued: new Gauge({ name: 'clinic_openai_queued', help: 'OpenAI calls waiting for the concurrency cap', registers }),
    openaiErrors: new Counter({ name: 'clinic_openai_errors_total', help: 'Failed OpenAI calls by operation', labelNames: ['operation'], registers }),
    inboxDepth: new Gauge({
      name: 'clinic_inbox_messages',
      help: 'Inbox messages by state',
      labelNames: ['state'],
      registers,
      async collect() {
        // No database, no samples: a scrape must not fail, and a stale count would be a lie.
        const counts = await options.inboxStats?.().catch(() => undefined);
        this.reset();
        if (!counts) return;
        for (const state of new Set([...INBOX_STATES, ...Object.keys(counts)])) this.set({ state }, counts[state] ?? 0);
      },
    }),
    replies: new Counter({ name: 'clinic_replies_total', help: 'Replies by channel and outcome: sent (each part), failed (a message given up on)', labelNames: ['channel', 'outcome'], registers }),
    fallbacks: new Counter({ name: 'clinic_fallback_answers_total', help: 'Answers from full-text search alone, by reason (offline, openai_error)', labelNames: ['reason'], registers }),
    // Incremented by the emergency and handoff paths (wired with those features).
    emergencies: new Counter({ name: 'clinic_emergencies_total', help: 'Messages recognised as emergencies (patient told to call, staff alerted)', registers }),
    handoffs: new Counter({ name: 'clinic_handoffs_total', help: 'Conversations handed to a person (staff alerted)', registers }),
    staffAlerts: new Counter({
      name: 'clinic_staff_alerts_total',
      help: 'Staff alerts by route (direct, template, sms) and outcome: sent, refused (not delivered this way; the fallbacks go out), unreached (every way failed for a staff member)',
      labelNames: ['route', 'outcome'],
      registers,
    }),
    modelTriage: new Counter({
      name: 'clinic_model_triage_total',
      help: "The model's second opinion on messages the rules did not alarm: emergency, self_harm, none, failed (error or timeout)",
      labelNames: ['verdict'],
      registers,
    }),
    smsSegments: new Counter({
      name: 'clinic_sms_segments_total',
      help: 'SMS segments sent (what the operator bills), by encoding: gsm7 (153 characters a segment) or ucs2 (67)',
      labelNames: ['encoding'],
      registers,
    }),
    voiceNotes: new Counter({
      name: 'clinic_voice_notes_total',
      help: 'Voice notes by outcome: transcribed, too_long, unreadable, offline (no key or no credentials), failed (an error another try may cure)',
      labelNames: ['outcome'],
      registers,
    }),
    leasesLost: new Counter({ name: 'clinic_leases_lost_total', help: 'Messages a worker stopped answering because its lease was gone (another instance has them)', registers }),
    journalWaiting: new Gauge({
      name: 'clinic_inbox_journal_waiting',
      help: 'Messages acknowledged and in the inbox journal, not yet stored in the inbox (embedded database)',
      registers,
      // Read at scrape time (see watchJournal): nothing to update on the webhook path.
      collect() {
        this.set(journalWaiting());
      },
    }),
    journalRejected: new Counter({
      name: 'clinic_inbox_journal_rejected_total',
      help: 'Acknowledged messages the database refused for their content: moved from the inbox journal to the rejected file, not answered',
      registers,
    }),
    deliveryStatuses: new Counter({ name: 'clinic_delivery_status_total', help: 'Delivery reports by channel and status', labelNames: ['channel', 'status'], registers }),
  };
  /** Where clinic_inbox_journal_waiting is read from: the intake, built after the metrics. */
  const watchJournal = (waiting: () => number) => {
    journalWaiting = waiting;
  };
  // Known label sets start at 0, so that rate() and alerts see a series before its first event.
  for (const channel of ['twilio', 'meta']) for (const outcome of ['sent', 'failed']) metrics.replies.inc({ channel, outcome }, 0);
  for (const reason of ['offline', 'openai_error']) metrics.fallbacks.inc({ reason }, 0);
  for (const encoding of ['gsm7', 'ucs2']) metrics.smsSegments.inc({ encoding }, 0);
  metrics.staffAlerts.inc({ route: 'direct', outcome: 'sent' }, 0);
  metrics.staffAlerts.inc({ route: 'direct', outcome: 'unreached' }, 0);
  return Object.assign(metrics, { watchJournal });
}

export type Metrics = ReturnType<typeof createMetrics>;
