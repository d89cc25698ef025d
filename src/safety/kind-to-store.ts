import type { InboundMessage } from '../channels/channel.ts';
import { classifyMessage } from './classify-message.ts';
import type { SafetyPhrases } from './load-safety-phrases.ts';

/**
 * The kind a message is stored as. An emergency, even as a photo caption, jumps its conversation's
 * queue; a keyword or command keeps a turn of its own, so that a burst merged into one question never
 * swallows a STOP or a request for a person.
 */
export function kindToStore(message: InboundMessage, phrases: SafetyPhrases, sender: { staff: boolean }): InboundMessage['kind'] {
  const found = classifyMessage(message.body, phrases);
  if (found.kind === 'emergency') return 'emergency';
  if (message.kind !== 'text') return message.kind;
  // Commands are never throttled (see inbox_enqueue), so only what can act as one counts: a #command
  // works from a staff number only. (YES stays one: it is Twilio's opt-in word after a STOP.)
  if (found.kind === 'opt_out' || found.kind === 'opt_in' || found.kind === 'handoff' || (sender.staff && message.body.trim().startsWith('#'))) return 'command';
  return 'text';
}
