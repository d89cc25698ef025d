import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines for machines, pretty lines on a terminal. Patients' numbers and words are health
 * information: log them only through maskAddress(), and message text only at debug level.
 */
export function createLogger(options: { level: string; pretty?: boolean }): Logger {
  const pretty = options.pretty ?? Boolean(process.stdout.isTTY);
  return pino({
    level: options.level,
    base: { service: 'clinic-assistant' },
    redact: { paths: ['*.authToken', '*.apiKey', '*.serviceRoleKey', '*.accessToken', '*.appSecret'], censor: '[secret]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l' } } } : {}),
  });
}

/** "whatsapp:+15551234567" → "whatsapp:…4567": enough to tell patients apart in a log, no more. */
export function maskAddress(address: string): string {
  const match = /^(?:(\w+):)?(.*)$/.exec(address);
  const prefix = match?.[1] ? `${match[1]}:` : '';
  const digits = (match?.[2] ?? '').replace(/\D/g, '');
  return `${prefix}…${digits.slice(-4)}`;
}
