import { pino, type DestinationStream, type Logger } from 'pino';

import { serializeError } from './serialize-error.ts';

export type { Logger };

/**
 * JSON lines for machines, pretty lines on a terminal. Patients' numbers and words are health
 * information: log them only through maskAddress(), and message text only at debug level. Errors go
 * through serializeError, which keeps a known set of fields and masks phone numbers in their text.
 */
export function createLogger(options: { level: string; pretty?: boolean; destination?: DestinationStream }): Logger {
  const pretty = options.pretty ?? (!options.destination && Boolean(process.stdout.isTTY));
  const settings = {
    level: options.level,
    base: { service: 'clinic-assistant' },
    serializers: { err: serializeError },
    redact: { paths: ['*.authToken', '*.apiKey', '*.serviceRoleKey', '*.accessToken', '*.appSecret', '*.verifyToken'], censor: '[secret]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l' } } } : {}),
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

/** "whatsapp:+15551234567" → "whatsapp:…4567": enough to tell patients apart in a log, no more. */
export function maskAddress(address: string): string {
  const match = /^(?:(\w+):)?(.*)$/.exec(address);
  const prefix = match?.[1] ? `${match[1]}:` : '';
  const digits = (match?.[2] ?? '').replace(/\D/g, '');
  return `${prefix}…${digits.slice(-4)}`;
}

