import { execFile, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { waitFor } from '../fakes/wait-for.ts';

const run = promisify(execFile);
const MIGRATIONS = fileURLToPath(new URL('../../supabase/migrations/', import.meta.url));
const url = process.env.TEST_DATABASE_URL;
const psqlInstalled = spawnSync('psql', ['--version']).status === 0;

/**
 * On a real PostgreSQL server, where several instances hold several connections at once (PGlite and
 * the PostgREST fake run one call at a time, so they cannot show this): while one instance's purge
 * runs, another's is skipped rather than run twice. Needs TEST_DATABASE_URL (`eval "$(../shared/tools/test-postgres start)"`,
 * or any PostgreSQL 15+ with pgvector) and psql.
 */
describe.skipIf(!url || !psqlInstalled)('retention purge on a real PostgreSQL server (skipped without TEST_DATABASE_URL and psql)', () => {
  const database = `clinic_retention_${process.pid}`;
  let databaseUrl: string;
  const psql = (sql: string) => run('psql', [databaseUrl, '-v', 'ON_ERROR_STOP=1', '-Atqc', sql]).then(({ stdout }) => stdout.trim());

  beforeAll(async () => {
    await run('psql', [url!, '-v', 'ON_ERROR_STOP=1', '-qc', `drop database if exists ${database}`]);
    await run('psql', [url!, '-v', 'ON_ERROR_STOP=1', '-qc', `create database ${database}`]);
    const parsed = new URL(url!);
    parsed.pathname = `/${database}`;
    databaseUrl = parsed.href;
    // The migrations as `supabase db push` applies them: each file once, in order, in a transaction.
    for (const file of readdirSync(MIGRATIONS).filter((name) => name.endsWith('.sql')).sort()) {
      await run('psql', [databaseUrl, '-v', 'ON_ERROR_STOP=1', '-q', '-1', '-f', `${MIGRATIONS}${file}`]);
    }
  }, 60_000);
  afterAll(async () => {
    if (url) await run('psql', [url, '-qc', `drop database if exists ${database} with (force)`]).catch(() => undefined);
  });

  it('when one instance is purging, then a second purge at the same time is skipped, and runs once the first is done', async () => {
    await psql(`insert into inbox (channel, provider_message_id, conversation, patient, business, body, state, received_at)
                values ('twilio', 'SM-1', 'twilio:+15550000000:+15556900001', '+15556900001', '+15550000000', 'an old question', 'answered', now() - interval '2 days')`);
    // Instance A: a purge in progress holds the purge lock for its transaction.
    const first: ChildProcessWithoutNullStreams = spawn('psql', [databaseUrl, '-Atq', '-v', 'ON_ERROR_STOP=1']);
    let output = '';
    first.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      first.stdin.write(`begin;\nselect pg_advisory_xact_lock(hashtext('clinic-assistant retention_purge'));\nselect 'locked';\n`);
      await waitFor(() => output.includes('locked'), { what: 'the first purge holding its lock' });
      // Instance B, meanwhile:
      expect(JSON.parse(await psql(`select retention_purge(now() - interval '1 day')`))).toEqual({ skipped: true });
      expect(await psql(`select body from inbox where provider_message_id = 'SM-1'`)).toBe('an old question');
      first.stdin.write('commit;\n');
      first.stdin.end();
      await new Promise((resolve) => first.on('exit', resolve));
    } finally {
      first.kill();
    }
    expect(JSON.parse(await psql(`select retention_purge(now() - interval '1 day')`))).toMatchObject({ skipped: false, inbox: 1 });
    expect(await psql(`select body || '|' || patient from inbox`)).toBe('|purged');
  });
});
