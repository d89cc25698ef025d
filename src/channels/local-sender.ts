import { randomUUID } from 'node:crypto';

import type { Logger } from '../logger.ts';
import type { Sender } from './channel.ts';

/**
 * Stands in for a channel whose credentials are not set (a laptop with no accounts): the reply is
 * recorded in the outbox like any other, and nothing leaves the machine.
 */
export function createLocalSender(maxLength: number, logger: Logger): Sender {
  return {
    maxLength: () => maxLength,
    async send(message) {
      logger.debug({ body: message.body }, 'reply kept locally (no channel credentials)');
      return { providerMessageId: `local-${randomUUID()}` };
    },
    async sendTemplate(message) {
      logger.debug({ template: message.template }, 'template kept locally (no channel credentials)');
      return { providerMessageId: `local-${randomUUID()}` };
    },
  };
}
