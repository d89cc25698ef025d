import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';

export type StageName = 'embed' | 'history' | 'rewrite' | 'search' | 'generate' | 'send';

/**
 * Runs one pipeline stage, observes its latency in clinic_pipeline_stage_seconds and logs one line
 * with the stage name and its milliseconds (the logger is a child carrying the inboxId). No text, no
 * number: the line says how long, never what.
 */
export async function timed<T>(
  observe: { metrics: Metrics; logger: Logger; timings?: Partial<Record<StageName, number>> },
  stage: StageName,
  work: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  const end = observe.metrics.stageSeconds.startTimer({ stage });
  let failed = false;
  try {
    return await work();
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    end();
    const ms = Math.round(performance.now() - started);
    if (observe.timings) observe.timings[stage] = ms;
    observe.logger.info({ stage, ms, ...(failed ? { failed } : {}) }, 'pipeline stage');
  }
}
