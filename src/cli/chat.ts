import { clearLine, createInterface, cursorTo } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { LOCAL_CLINIC_NUMBER, LOCAL_PATIENT_NUMBER } from '../channels/local-numbers.ts';
import { loadConfigOrExit, type Config } from '../config.ts';
import { ChatError, createChatClient } from './chat-client.ts';

const DEFAULT_PATIENT = LOCAL_PATIENT_NUMBER;
const DEFAULT_CLINIC = LOCAL_CLINIC_NUMBER;
const PHONE = /^(whatsapp:)?\+[1-9]\d{6,14}$/;
const POLL_MS = 300;
/** After the last message, how long to wait for its answer (a generated one may take a while). */
const LAST_ANSWER_TIMEOUT_MS = 60_000;
/** Parts of one long answer arrive one after another: wait this long after the last one. */
const QUIET_MS = 1_000;

const USAGE = `npm run chat -- [--from +15551234567 | --staff] [--to +15550100000] [--url http://localhost:3000]

A phone in the terminal: type as a patient, read the assistant's replies. Messages go through the
real POST /webhooks/twilio; replies are read back from a server started without Twilio credentials.
  --from    the patient's number (default ${DEFAULT_PATIENT})
  --staff   text as the first number in STAFF_NUMBERS
  --to      the clinic number you text (default ${DEFAULT_CLINIC})
  --url     the running server (default http://localhost:$PORT)
Ctrl-D ends the chat once the last answer is in; Ctrl-C ends it at once.`;

type Io = { input: NodeJS.ReadableStream; output: NodeJS.WritableStream & { isTTY?: boolean }; errors: NodeJS.WritableStream };

/** Runs the chat until the input ends; answers the exit code. */
export async function chat(argv: string[], io: Io, config: Config): Promise<number> {
  let options: { url: string; patient: string; business: string };
  try {
    options = readOptions(argv, config);
  } catch (error) {
    io.errors.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    return 2;
  }
  if (!options.url) {
    io.output.write(`${USAGE}\n`);
    return 0;
  }
  const client = createChatClient({
    url: options.url,
    patient: options.patient,
    business: options.business,
    ...(config.twilio.authToken ? { authToken: config.twilio.authToken } : {}),
    ...(config.publicUrl ? { signedUrl: `${config.publicUrl}/webhooks/twilio` } : {}),
  });

  let cursor: number;
  try {
    // Only replies from now on: this also tells whether the server is there and keeps replies locally.
    ({ cursor } = await client.replies());
  } catch (error) {
    io.errors.write(`${describe(error)}\n`);
    return 1;
  }
  io.errors.write(`Texting ${options.business} as ${options.patient} through ${options.url}. Type a question; Ctrl-D to finish.\n`);

  const interactive = Boolean(io.output.isTTY);
  const rl = createInterface({ input: io.input, output: io.output, terminal: interactive });
  rl.setPrompt('you › ');
  let sent = 0;
  let sending = Promise.resolve();
  let inputEnded = false;
  let interrupted = false;
  // A reply may arrive while a question is half typed: print it above, then redraw the prompt and the text.
  const show = (text: string) => {
    if (interactive) {
      clearLine(io.output, 0);
      cursorTo(io.output, 0);
    }
    io.output.write(`${text}\n`);
    if (interactive && !inputEnded) rl.prompt(true);
  };

  rl.on('line', (line) => {
    const text = line.trim();
    if (text) {
      // One after another, so the server receives them in the order they were typed.
      sending = sending.then(() => client.send(text)).then(
        () => void sent++,
        (error: unknown) => show(`(not sent) ${describe(error)}`),
      );
    }
    if (interactive) rl.prompt();
  });
  rl.on('SIGINT', () => {
    interrupted = true;
    rl.close();
  });
  rl.on('close', () => (inputEnded = true));
  if (interactive) rl.prompt();

  const answered = new Set<number>();
  let lastReplyAt = Date.now();
  let endedAt: number | undefined;
  try {
    while (!interrupted) {
      const page = await client.replies(cursor);
      cursor = page.cursor;
      for (const reply of page.replies) {
        show(formatReply(reply.body));
        if (reply.inboxId !== null) answered.add(reply.inboxId);
        lastReplyAt = Date.now();
      }
      if (inputEnded) {
        await sending;
        endedAt ??= Date.now();
        if (answered.size >= sent && Date.now() - lastReplyAt >= QUIET_MS) break;
        if (Date.now() - endedAt > LAST_ANSWER_TIMEOUT_MS) {
          io.errors.write(`No answer after ${LAST_ANSWER_TIMEOUT_MS / 1000} s; the server log says why.\n`);
          return 1;
        }
      }
      await sleep(POLL_MS);
    }
    return interrupted ? 130 : 0;
  } catch (error) {
    io.errors.write(`${describe(error)}\n`);
    return 1;
  } finally {
    rl.close();
  }
}

function readOptions(argv: string[], config: Config): { url: string; patient: string; business: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      from: { type: 'string' },
      staff: { type: 'boolean' },
      to: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return { url: '', patient: '', business: '' };
  if (values.from && values.staff) throw new Error('Use --from or --staff, not both.');
  let patient = values.from ?? DEFAULT_PATIENT;
  if (values.staff) {
    const staff = config.staffNumbers[0];
    if (!staff) throw new Error('--staff: STAFF_NUMBERS is empty. Set it (comma-separated E.164 numbers, as the server has it) or pass --from.');
    patient = staff;
  }
  let business = values.to ?? DEFAULT_CLINIC;
  // A WhatsApp patient texts a WhatsApp number: the reply goes out on the channel the message came in on.
  if (patient.startsWith('whatsapp:') && !business.startsWith('whatsapp:')) business = `whatsapp:${business}`;
  for (const [name, value] of [['--from', patient], ['--to', business]] as const) {
    if (!PHONE.test(value)) throw new Error(`${name}: ${JSON.stringify(value)} is not a phone number in E.164 form, like +15551234567 (or whatsapp:+15551234567).`);
  }
  return { url: (values.url ?? `http://localhost:${config.port}`).replace(/\/+$/, ''), patient, business };
}

/** "clinic › first line", and the next lines indented under it. */
function formatReply(body: string): string {
  return body
    .split('\n')
    .map((line, index) => (index === 0 ? `clinic › ${line}` : line ? `         ${line}` : ``))
    .join('\n');
}

function describe(error: unknown): string {
  if (error instanceof ChatError) return error.message;
  return `Unexpected error: ${error instanceof Error ? error.message : String(error)}`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const code = await chat(process.argv.slice(2), { input: process.stdin, output: process.stdout, errors: process.stderr }, loadConfigOrExit());
  process.exit(code);
}
