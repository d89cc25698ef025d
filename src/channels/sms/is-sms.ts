import type { ChannelName } from '../channel.ts';

/** An SMS conversation (billed per segment): Twilio, to an address that is not `whatsapp:`. */
export function isSms(channel: ChannelName, address: string): boolean {
  return channel === 'twilio' && !address.startsWith('whatsapp:');
}
