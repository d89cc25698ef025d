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
    /**
     * Removes the text of what is older than `olderThan`, in batches (each its own short transaction)
     * until nothing is left; skipped when another purge is running.
     */
    async purge(olderThan: Date, batch = 2_000): Promise<PurgedCounts> {
      const total = { skipped: false, inbox: 0, outbound: 0, staff_alerts: 0, delivery_status: 0 };
      for (;;) {
        const counts = await db.call<PurgedCounts>('retention_purge', { p_older_than: olderThan.toISOString(), p_limit: batch });
        if (counts.skipped) return total.inbox + total.outbound + total.staff_alerts + total.delivery_status > 0 ? total : { skipped: true };
        const done = { inbox: counts.inbox ?? 0, outbound: counts.outbound ?? 0, staff_alerts: counts.staff_alerts ?? 0, delivery_status: counts.delivery_status ?? 0 };
        for (const table of ['inbox', 'outbound', 'staff_alerts', 'delivery_status'] as const) total[table] += done[table];
        if (Object.values(done).every((n) => n < batch)) return total;
      }
    },
    async export(addresses: string[]): Promise<{ addresses: string[]; messages: ExportedMessage[] }> {
      return db.call('patient_export', { p_addresses: addresses });
    },
  };
}

export type PatientData = ReturnType<typeof createPatientData>;
