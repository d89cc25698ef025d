import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { createPatientData } from '../patient-data/patient-data-store.ts';
import { readDotEnv } from '../config.ts';
import { withCliDatabase, type CliIo } from './open-cli-database.ts';

const USAGE = `Usage: npm run purge -- --older-than-days N

Runs the retention purge by hand: the text of messages, replies, alerts and delivery reports older
than N days (0: everything up to now) is removed, with the patients' numbers; counts, times and states
stay. The running service does the same once a day with RETENTION_DAYS. Recorded in data_audit.`;

/** `npm run purge`: exit code 0 when done (or skipped: another purge is running), 1 when it could not run, 2 for a usage error. */
export async function runPurgeCli(argv: string[], io: CliIo): Promise<number> {
  let days: number;
  try {
    const { values } = parseArgs({ args: argv, options: { 'older-than-days': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    days = Number(values['older-than-days']);
    if (values['older-than-days'] === undefined || !Number.isInteger(days) || days < 0) throw new Error('--older-than-days: a whole number of days, 0 or more');
  } catch (error) {
    io.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    return 2;
  }
  return withCliDatabase(io, 'Not purged', async (db) => {
    const olderThan = new Date(Date.now() - days * 24 * 60 * 60 * 1000);
    const { skipped, ...counts } = await createPatientData(db).purge(olderThan);
    if (skipped) io.stdout.write('Skipped: another purge is running right now (the service\'s daily one); nothing to do twice.\n');
    else {
      const tables = ['inbox', 'outbound', 'staff_alerts', 'delivery_status'] as const;
      io.stdout.write(`Purged the text of everything older than ${olderThan.toISOString()}: ${tables.map((table) => `${table} ${counts[table] ?? 0}`).join(', ')}. Recorded in data_audit.\n`);
    }
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  readDotEnv();
  process.exitCode = await runPurgeCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
}
