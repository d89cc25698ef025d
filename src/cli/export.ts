import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { patientAddresses } from '../patient-data/patient-addresses.ts';
import { createPatientData } from '../patient-data/patient-data-store.ts';
import { readDotEnv } from '../config.ts';
import { withCliDatabase, type CliIo } from './open-cli-database.ts';

const USAGE = `Usage: npm run export -- <address> > patient.json

Writes one patient's conversation (GDPR article 15: a subject access request) as JSON to standard
output: every message in and out, with its time, channel and delivery status, on every channel where
their number appears. <address> as for npm run erase. Nothing else is written to standard output.`;

/** `npm run export`: exit code 0 when written, 1 when it could not run, 2 for a usage error. */
export async function runExportCli(argv: string[], io: CliIo): Promise<number> {
  let patient: ReturnType<typeof patientAddresses>;
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
    if (values.help) {
      io.stderr.write(`${USAGE}\n`);
      return 0;
    }
    if (positionals.length !== 1) throw new Error('give exactly one address');
    patient = patientAddresses(positionals[0]!);
  } catch (error) {
    io.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    return 2;
  }
  return withCliDatabase(io, 'Not exported', async (db) => {
    const exported = await createPatientData(db).export(patient.addresses);
    io.stdout.write(`${JSON.stringify({ exportedAt: new Date().toISOString(), patient: patient.phoneNumber, ...exported }, null, 2)}\n`);
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  readDotEnv();
  process.exitCode = await runExportCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
}
