import type { ChannelName } from '../channels/channel.ts';
import type { Database } from '../db/database.ts';

export type PatientState = { optedOut: boolean; paused: boolean; debug: boolean; historyResetAt: string | null };

export type PatientStateChanges = Partial<Pick<PatientState, 'optedOut' | 'paused' | 'debug'>> & { resetHistory?: boolean };

/** Opt-out, handoff pause and staff settings of one patient address, kept in the database across restarts. */
export function createPatientStates(db: Database) {
  return {
    async get(channel: ChannelName, patient: string): Promise<PatientState> {
      return db.call('patient_state_get', { p_channel: channel, p_patient: patient });
    },
    async set(channel: ChannelName, patient: string, changes: PatientStateChanges): Promise<PatientState> {
      return db.call('patient_state_set', { p_channel: channel, p_patient: patient, p_changes: changes });
    },
    /** Resumes every address of one phone number; answers how many were paused. */
    async resume(addresses: string[]): Promise<number> {
      return (await db.call<{ resumed: number }>('patient_state_resume', { p_patients: addresses })).resumed;
    },
  };
}

export type PatientStates = ReturnType<typeof createPatientStates>;
