import type { InboundMessage } from '../channels/channel.ts';
import { maskAddress, type Logger } from '../logger.ts';

/** The line every stored (or redelivered) message gets: its inbox id and a masked number, its text only at debug. */
export function logStored(logger: Logger, message: InboundMessage, result: { id: number; duplicate: boolean; state: string }): void {
  logger.info(
    { inboxId: result.id, channel: message.channel, providerMessageId: message.providerMessageId, from: maskAddress(message.patient), kind: message.kind, duplicate: result.duplicate, state: result.state },
    result.duplicate ? 'inbound message redelivered, already stored' : 'inbound message stored',
  );
  logger.debug({ inboxId: result.id, body: message.body }, 'inbound message text');
}
