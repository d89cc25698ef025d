import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runIngestCli } from '../../src/cli/ingest.ts';
import { runMigrateCli } from '../../src/cli/migrate.ts';
import { MIGRATIONS_DIR } from '../../src/db/migrate.ts';
import { openDatabase } from '../../src/db/open-database.ts';
import { migratePostgres } from '../../src/db/postgres/migrate-postgres.ts';
import { openPostgresDatabase } from '../../src/db/postgres/postgres-database.ts';
import { createKnowledge } from '../../src/store/knowledge.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { closedPort } from '../support/closed-port.ts';
import { createTestDatabase, NO_TEST_DATABASE, TEST_DATABASE_URL, type TestDatabase } from '../support/test-database.ts';

const silent = pino({ level: 'silent' });

/** Runs a CLI function as `npm run …` would, collecting what it writes. */
async function run<T>(cli: (argv: string[], io: any) => Promise<T>, argv: string[], env: Record<string, string>, extra: Record<string, unknown> = {}) {
  let stdout = '';
  let stderr = '';
  const result = await cli(argv, { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) }, env, ...extra });
  return { result, stdout, stderr };
}

describe('PostgreSQL transport errors (no server needed)', () => {
  it('when nothing listens at DATABASE_URL, then a call fails retryably, naming the server but not the password', async () => {
    const db = openPostgresDatabase({ url: `postgres://clinic:hunter2@127.0.0.1:${await closedPort()}/clinic`, poolSize: 1 });
    try {
      const call = db.call('inbox_stats');
      await expect(call).rejects.toMatchObject({ code: 'db_unreachable', retryable: true });
      await expect(call).rejects.toThrow(/^PostgreSQL at postgres:\/\/clinic@127\.0\.0\.1:\d+\/clinic is unreachable/);
      await expect(call).rejects.not.toThrow(/hunter2/);
    } finally {
      await db.close();
    }
  });
});

describe.skipIf(!TEST_DATABASE_URL)(`PostgreSQL through DATABASE_URL (${TEST_DATABASE_URL ? 'TEST_DATABASE_URL' : NO_TEST_DATABASE})`, () => {
  const work = mkdtempSync(join(tmpdir(), 'clinic-postgres-'));
  const databases: TestDatabase[] = [];
  const fresh = async (label: string, migrate = false) => {
    const database = await createTestDatabase(label, { migrate });
    databases.push(database);
    return database;
  };
  afterAll(async () => {
    for (const database of databases) await database.drop();
    rmSync(work, { recursive: true, force: true });
  });

  it('when two deploys migrate an empty database at once, then each file is applied once, and the later run has nothing to do', async () => {
    const { url } = await fresh('migrate_race');
    const first = openPostgresDatabase({ url, poolSize: 2 });
    const second = openPostgresDatabase({ url, poolSize: 2 });
    try {
      const [a, b] = await Promise.all([migratePostgres(first), migratePostgres(second)]);
      const files = readdirSync(MIGRATIONS_DIR).filter((name) => name.endsWith('.sql')).map((name) => name.replace(/\.sql$/, '')).sort();
      // One of them applied everything (it held the lock); the other waited, then found nothing left.
      expect([...a, ...b].sort()).toEqual(files);
      expect(Math.min(a.length, b.length)).toBe(0);
      expect((await first.query<{ version: string }>('select version from schema_migrations order by version')).map((row) => row.version)).toEqual(files);
      expect(await migratePostgres(first)).toEqual([]);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it('when the database is behind the code, then the service refuses to start and names npm run migrate; once it is run, the start goes on', async () => {
    const { url } = await fresh('behind');
    const env = { DATABASE_URL: url };
    const config = { dataDir: 'memory://', supabase: undefined, postgres: { url, poolSize: 2 } };
    await expect(openDatabase(config, { logger: silent })).rejects.toThrow(/has no schema yet: run `npm run migrate` with the same DATABASE_URL/);
    expect((await run(runMigrateCli, [], env)).stdout).toMatch(/applied \d+ migrations/);

    // The next version of the code ships one migration more than the database has.
    const migrationsDir = join(work, 'migrations');
    rmSync(migrationsDir, { recursive: true, force: true });
    mkdirSync(migrationsDir);
    for (const file of readdirSync(MIGRATIONS_DIR)) copyFileSync(join(MIGRATIONS_DIR, file), join(migrationsDir, file));
    writeFileSync(join(migrationsDir, '20991231000000_next.sql'), 'create table next_feature (id int primary key);\n');
    await expect(openDatabase(config, { logger: silent, migrationsDir })).rejects.toThrow(
      /is 1 migration behind this code \(20991231000000_next\.sql\): run `npm run migrate` with the same DATABASE_URL/,
    );
    const migrated = await run(runMigrateCli, [], env, { migrationsDir });
    expect(migrated).toMatchObject({ result: 0, stderr: '' });
    expect(migrated.stdout).toMatch(/applied 1 migration:\n  20991231000000_next\n/);
    const opened = await openDatabase(config, { logger: silent, migrationsDir });
    await opened.close();
    expect(opened.kind).toBe('postgres');
  });

  it('when a migration fails, then npm run migrate names the file, records nothing for it, and a fixed file applies on the next run', async () => {
    const { url } = await fresh('broken');
    const migrationsDir = join(work, 'broken-migrations');
    mkdirSync(migrationsDir, { recursive: true });
    writeFileSync(join(migrationsDir, '20990101000000_first.sql'), 'create table first_table (id int);\n');
    writeFileSync(join(migrationsDir, '20990102000000_second.sql'), 'create table second_table (id int);\nselect no_such_column from first_table;\n');
    const failed = await run(runMigrateCli, [], { DATABASE_URL: url }, { migrationsDir });
    expect(failed.result).toBe(1);
    expect(failed.stderr).toMatch(/^Not migrated: migration 20990102000000_second\.sql failed: .*no_such_column/);
    const db = openPostgresDatabase({ url, poolSize: 1 });
    try {
      expect((await db.query<{ version: string }>('select version from schema_migrations')).map((row) => row.version)).toEqual(['20990101000000_first']);
      expect(await db.query(`select to_regclass('second_table') as found`)).toEqual([{ found: null }]);
    } finally {
      await db.close();
    }
    writeFileSync(join(migrationsDir, '20990102000000_second.sql'), 'create table second_table (id int);\n');
    expect((await run(runMigrateCli, [], { DATABASE_URL: url }, { migrationsDir })).stdout).toMatch(/applied 1 migration:\n  20990102000000_second\n/);
  });

  it('when a call takes longer than its timeout, then it fails retryably and the server stops running it', async () => {
    const { url } = await fresh('timeout', true);
    const db = openPostgresDatabase({ url, poolSize: 2, timeoutMs: 300 });
    try {
      await db.withSession(async (session) => {
        // Another session holds the inbox: inbox_stats waits for it.
        await session.exec('begin; lock table inbox in access exclusive mode');
        try {
          await expect(db.call('inbox_stats')).rejects.toMatchObject({ code: 'db_timeout', retryable: true });
          await waitFor(
            // From the pool, not from the session: a transaction sees pg_stat_activity as it was when it first looked.
            async () => (await db.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where query like '%inbox_stats%' and state = 'active' and pid <> pg_backend_pid()"))[0]!.n === 0,
            { what: 'the timed-out call cancelled on the server' },
          );
        } finally {
          await session.exec('rollback');
        }
      });
      expect(await db.call('inbox_stats')).toEqual({});
    } finally {
      await db.close();
    }
  });

  it('when npm run ingest runs on DATABASE_URL, then the documents are loaded, and a second run changes nothing', async () => {
    const { url } = await fresh('ingest', true);
    const docs = join(work, 'docs');
    mkdirSync(docs, { recursive: true });
    writeFileSync(join(docs, 'parking.md'), '# Parking\n\nParking is free for patients, at the back of the clinic.\n');
    writeFileSync(join(docs, 'hours.txt'), 'The clinic is open from 8 to 6 on weekdays.\n');
    const env = { DATABASE_URL: url };
    const first = await run(runIngestCli, ['docs'], env, { cwd: work });
    expect(first.result).toMatchObject({ exitCode: 0, summary: { added: 2 } });
    const second = await run(runIngestCli, ['docs'], env, { cwd: work });
    expect(second.result).toMatchObject({ exitCode: 0, summary: { added: 0, changed: 0, unchanged: 2 } });
    const db = openPostgresDatabase({ url, poolSize: 1 });
    try {
      const [best] = await createKnowledge(db).search('is parking free?', undefined, { matchCount: 1 });
      expect(best).toMatchObject({ title: 'Parking' });
    } finally {
      await db.close();
    }
  });
});
