import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const STAGE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Every series the service exposes on GET /metrics, in a registry of its own (one per server). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    webhooks: new Counter({ name: 'clinic_webhooks_total', help: 'Webhook requests by channel and outcome', labelNames: ['channel', 'outcome'], registers }),
    ackSeconds: new Histogram({ name: 'clinic_webhook_ack_seconds', help: 'Time from webhook arrival to its answer', labelNames: ['channel'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers }),
    stageSeconds: new Histogram({ name: 'clinic_pipeline_stage_seconds', help: 'Pipeline stage latency (embed, history, search, generate, send)', labelNames: ['stage'], buckets: STAGE_BUCKETS, registers }),
    openaiInFlight: new Gauge({ name: 'clinic_openai_in_flight', help: 'OpenAI calls in flight', registers }),
    openaiQueued: new Gauge({ name: 'clinic_openai_queued', help: 'OpenAI calls waiting for the concurrency cap', registers }),
    openaiErrors: new Counter({ name: 'clinic_openai_errors_total', help: 'Failed OpenAI calls by operation', labelNames: ['operation'], registers }),
    inboxDepth: new Gauge({ name: 'clinic_inbox_messages', help: 'Inbox messages by state', labelNames: ['state'], registers }),
    replies: new Counter({ name: 'clinic_replies_total', help: 'Reply parts by channel and outcome (sent, failed)', labelNames: ['channel', 'outcome'], registers }),
    fallbacks: new Counter({ name: 'clinic_fallback_answers_total', help: 'Answers from full-text search alone, by reason (offline, openai_error)', labelNames: ['reason'], registers }),
    deliveryStatuses: new Counter({ name: 'clinic_delivery_status_total', help: 'Delivery reports by channel and status', labelNames: ['channel', 'status'], registers }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
