import type { Logger } from '../logger.ts';
import type { PatientData } from './patient-data-store.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The running service's retention purge: at start and once a day, the text of everything older than
 * `retentionDays` is removed (0: kept forever, nothing scheduled). Instances sharing a database may
 * all run it; the database lets one purge run at a time and the others skip.
 */
export function scheduleRetention(options: { patientData: PatientData; retentionDays: number; logger: Logger }): { stop(): void; ran: Promise<void> } {
  const { patientData, retentionDays, logger } = options;
  if (retentionDays === 0) return { stop() {}, ran: Promise.resolve() };
  const purge = async () => {
    try {
      const counts = await patientData.purge(new Date(Date.now() - retentionDays * DAY_MS));
      if (counts.skipped) logger.info('retention purge skipped: another instance is running one');
      else logger.info({ retentionDays, ...counts }, 'retention purge done');
    } catch (error) {
      logger.error({ err: error }, 'retention purge failed; it runs again in a day');
    }
  };
  const timer = setInterval(purge, DAY_MS);
  timer.unref();
  return { stop: () => clearInterval(timer), ran: purge() };
}
