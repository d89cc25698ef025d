export type StaffCommand =
  | { command: 'debug'; on: boolean }
  | { command: 'reset' }
  | { command: 'resume'; number: string }
  | { command: 'help' }
  | { command: 'unknown'; text: string };

/** "#debug on", "#reset", "#resume +15551234567", "#help" from a staff number; undefined if not a command. */
export function parseStaffCommand(text: string): StaffCommand | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith('#')) return undefined;
  const [name = '', ...args] = trimmed.slice(1).trim().split(/\s+/);
  switch (name.toLowerCase()) {
    case 'debug':
      if (args[0]?.toLowerCase() === 'on') return { command: 'debug', on: true };
      if (args[0]?.toLowerCase() === 'off') return { command: 'debug', on: false };
      return { command: 'unknown', text: trimmed };
    case 'reset':
      return { command: 'reset' };
    case 'resume': {
      const number = args.join('').replace(/[\s()-]/g, '');
      return /^\+[1-9]\d{6,14}$/.test(number) ? { command: 'resume', number } : { command: 'unknown', text: trimmed };
    }
    case 'help':
      return { command: 'help' };
    default:
      return { command: 'unknown', text: trimmed };
  }
}

export const STAFF_HELP = [
  'Staff commands:',
  '#debug on|off: add the sources used and the time of each stage to every answer',
  '#reset: forget your own conversation history',
  '#resume +15551234567: let the assistant answer a patient it handed to a person',
  '#help: this list',
].join('\n');
