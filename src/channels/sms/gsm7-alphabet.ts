/**
 * The GSM 03.38 alphabet SMS is billed in. A character of the basic table costs one septet; one of the
 * extension table costs two (an escape, then the character). Anything else makes the whole message
 * UCS-2, at about 2.3 times the price.
 */
export const GSM7_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);

export const GSM7_EXTENSION = new Set('\f^{}\\[~]|€');

/** Septets a character costs in GSM-7, or undefined when it has no GSM-7 form. */
export function gsm7Septets(character: string): 1 | 2 | undefined {
  if (GSM7_BASIC.has(character)) return 1;
  if (GSM7_EXTENSION.has(character)) return 2;
  return undefined;
}
