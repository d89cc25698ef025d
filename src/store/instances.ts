import type { Database } from '../db/database.ts';

export type Heartbeat = {
  /** OpenAI calls this instance may have in flight now. */
  share: number;
  /** Live instances, this one included. */
  instances: number;
  /** Messages of dead instances that were made due again by this heartbeat. */
  released: number;
  dead: string[];
};

/** The instances sharing a database, as typed calls to the SQL functions in supabase/migrations. */
export function createInstances(db: Database) {
  return {
    async heartbeat(beat: { id: string; kind: 'service' | 'ingest'; ttlSeconds: number; openaiTotal: number; openaiHeld: number }): Promise<Heartbeat> {
      return db.call('instance_heartbeat', {
        p_id: beat.id, p_kind: beat.kind, p_ttl_seconds: beat.ttlSeconds, p_openai_total: beat.openaiTotal, p_openai_held: beat.openaiHeld,
      });
    },
    async leave(id: string): Promise<{ released: number }> {
      return db.call('instance_leave', { p_id: id });
    },
  };
}

export type Instances = ReturnType<typeof createInstances>;
