import type { Database } from '../db/database.ts';

export type ErasedCounts = { inbox: number; outbound: number; delivery_status: number; patient_state: number; staff_alerts: number };
export type PurgedCounts = { skipped: boolean; inbox?: number; outbound?: number; staff_alerts?: number; delivery_status?: number };
export type ExportedMessage = { direction: 'in' | 'out'; at: string; channel: string; text: string; status: string; error: string | null };

/** Retention, erasure and export, as typed calls to supabase/migrations/20261130010000_patient_data.sql. */
export function createPatientData(db: Database) {
  return {
    /** Removes everything about the patient with these addresses, and records it by hash. */
    async erase(addresses: string[], addressHash: string): Promise<ErasedCounts> {
      return db.call('patient_erase', { p_addresses: addresses, p_address_hash: addressHash });
    },
    /** Removes the text of what is older than `olderThan`; skipped when another purge is running. */
    async purge(olderThan: Date): Promise<PurgedCounts> {
      return db.call('retention_purge', { p_older_than: olderThan.toISOString() });
    },
    async export(addresses: string[]): Promise<{ addresses: string[]; messages: ExportedMessage[] }> {
      return db.call('patient_export', { p_addresses: addresses });
    },
  };
}

export type PatientData = ReturnType<typeof createPatientData>;
