import type { OpenAILimiter } from '../ai/openai-limiter.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Heartbeat, Instances } from '../store/instances.ts';

export type InstanceHeartbeatOptions = {
  instances: Instances;
  /** The worker's lease owner (or the ingest run's id): a dead instance's leases are found by it. */
  id: string;
  kind: 'service' | 'ingest';
  /** OPENAI_MAX_CONCURRENCY: the deployment's cap, shared out among the live instances. */
  openaiTotal: number;
  /** Set to this instance's share at each beat; none without OPENAI_API_KEY. */
  limiter?: OpenAILimiter | undefined;
  logger: Logger;
  metrics?: Metrics;
  intervalMs?: number;
  /** Silent this long, an instance is dead: its messages are released and its share is free. */
  ttlSeconds?: number;
};

/**
 * Announces this instance in the database about every second (instance_heartbeat), takes its share of
 * the OpenAI cap from the answer, and, as a side effect of every beat, has the messages of instances
 * that fell silent released within seconds instead of after their lease. If beats keep failing for as
 * long as another instance would take to declare this one dead, its share drops to 0: the others may
 * already have taken it.
 */
export function createInstanceHeartbeat(options: InstanceHeartbeatOptions) {
  const intervalMs = options.intervalMs ?? 1_000;
  const ttlSeconds = options.ttlSeconds ?? 5;
  const { logger, limiter } = options;
  let lastBeat = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let beating: Promise<void> = Promise.resolve();

  const apply = (result: Heartbeat) => {
    lastBeat = Date.now();
    if (limiter && limiter.concurrency !== result.share) {
      logger.info({ share: result.share, total: options.openaiTotal, instances: result.instances }, 'OpenAI share of this instance');
      if (result.share === 0) logger.warn({ total: options.openaiTotal, instances: result.instances }, 'no OpenAI share for this instance right now: OPENAI_MAX_CONCURRENCY is fully held by the others; calls wait');
    }
    limiter?.setConcurrency(result.share);
    options.metrics?.openaiShare.set(result.share);
    if (result.released > 0 || result.dead.length > 0) {
      logger.warn({ dead: result.dead, released: result.released }, 'instances stopped heartbeating: their messages are due again');
    }
  };

  const beat = async () => {
    try {
      const held = limiter ? Math.max(limiter.concurrency, limiter.inFlight) : 0;
      apply(await options.instances.heartbeat({ id: options.id, kind: options.kind, ttlSeconds, openaiTotal: options.openaiTotal, openaiHeld: held }));
    } catch (error) {
      logger.warn({ err: error }, 'heartbeat failed');
      if (limiter && limiter.concurrency > 0 && Date.now() - lastBeat > ttlSeconds * 1000 - intervalMs) {
        logger.error('no heartbeat for too long: this instance takes no OpenAI share until the database answers again');
        limiter.setConcurrency(0);
        options.metrics?.openaiShare.set(0);
      }
    }
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      beating = beat().finally(schedule);
    }, intervalMs);
    timer.unref();
  };

  return {
    /** The first beat, before anything calls OpenAI: it fails the start if the database refuses it. */
    async start(): Promise<Heartbeat> {
      const first = await options.instances.heartbeat({ id: options.id, kind: options.kind, ttlSeconds, openaiTotal: options.openaiTotal, openaiHeld: 0 });
      apply(first);
      schedule();
      return first;
    },
    /** Stops beating and leaves: the share is free at once, and what this instance still held is due again. */
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await beating;
      const { released } = await options.instances.leave(options.id).catch((error: unknown) => {
        logger.warn({ err: error }, 'could not leave the instances table; this instance will be declared dead shortly');
        return { released: 0 };
      });
      if (released > 0) logger.warn({ released }, 'messages still held at shutdown are due again for the other instances');
    },
  };
}

export type InstanceHeartbeat = ReturnType<typeof createInstanceHeartbeat>;
