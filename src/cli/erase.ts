import { createInterface } from 'node:readline/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { hashAddress } from '../patient-data/hash-address.ts';
import { patientAddresses } from '../patient-data/patient-addresses.ts';
import { createPatientData } from '../patient-data/patient-data-store.ts';
import { readDotEnv } from '../config.ts';
import { withCliDatabase, type CliIo } from './open-cli-database.ts';

const USAGE = `Usage: npm run erase -- [--yes] <address>

Removes everything about one patient (GDPR article 17): their messages, the replies and delivery
reports of their conversations, alerts raised about them, their opt-out and pause state, on every
channel where their number appears. <address> is an E.164 number (+15551234567), whatsapp:+15551234567
or a WhatsApp id (15551234567). Prints what was removed (counts only) and records the erasure, with the
number hashed, in the data_audit table. Asks for confirmation on a terminal; --yes in scripts.

On the embedded database, stop the server first; on Supabase it runs beside the service.`;

export type EraseCliIo = CliIo & {
  /** Asks the question on the terminal; absent (or no terminal) means no one can answer. */
  confirm?: (question: string) => Promise<boolean>;
};

/** `npm run erase`: exit code 0 when erased, 1 when it could not run or was not confirmed, 2 for a usage error. */
export async function runEraseCli(argv: string[], io: EraseCliIo): Promise<number> {
  let values: { yes?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: { yes: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true }));
    if (values.help) {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (positionals.length !== 1) throw new Error('give exactly one address');
  } catch (error) {
    io.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    return 2;
  }
  let patient: ReturnType<typeof patientAddresses>;
  try {
    patient = patientAddresses(positionals[0]!);
  } catch (error) {
    io.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  if (!values.yes) {
    if (!io.confirm) {
      io.stderr.write('Not erased: no terminal to confirm on. Run it again with --yes to erase without asking.\n');
      return 1;
    }
    if (!(await io.confirm(`Erase everything about ${patient.phoneNumber} (${patient.addresses.join(', ')})? This cannot be undone. Type "erase" to confirm: `))) {
      io.stderr.write('Not erased.\n');
      return 1;
    }
  }
  return withCliDatabase(io, 'Not erased', async (db) => {
    const counts = await createPatientData(db).erase(patient.addresses, hashAddress(patient.phoneNumber));
    const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
    const tables = ['inbox', 'outbound', 'delivery_status', 'patient_state', 'staff_alerts'] as const;
    io.stdout.write(`Erased ${total} row(s) about ${patient.phoneNumber}: ${tables.map((table) => `${table} ${counts[table]}`).join(', ')}. Recorded in data_audit.\n`);
  });
}

async function confirmOnTerminal(question: string): Promise<boolean> {
  const terminal = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return (await terminal.question(question)).trim().toLowerCase() === 'erase';
  } finally {
    terminal.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  readDotEnv();
  process.exitCode = await runEraseCli(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    ...(process.stdin.isTTY ? { confirm: confirmOnTerminal } : {}),
  });
}
