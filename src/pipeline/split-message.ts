/**
 * Splits a reply into parts of at most `limit` UTF-16 code units (Twilio: 1,600; WhatsApp: 4,096),
 * preferring paragraph breaks, then sentence ends, then spaces, and never cutting a surrogate pair (an
 * emoji cut in half arrives as two broken characters).
 */
export function splitMessage(text: string, limit: number): string[] {
  if (limit < 2) throw new RangeError('limit must be at least 2');
  const parts: string[] = [];
  let rest = text.trim();
  while (rest.length > limit) {
    const cut = findCut(rest, limit);
    const part = rest.slice(0, cut).trimEnd();
    if (part.length > 0) parts.push(part);
    rest = rest.slice(cut).trimStart();
  }
  if (rest.length > 0) parts.push(rest);
  return parts;
}

function findCut(text: string, limit: number): number {
  const window = text.slice(0, limit + 1);
  // A break is only worth taking if it leaves a reasonably full part behind.
  const floor = Math.floor(limit / 3);
  for (const pattern of [/\n\s*\n/g, /[.!?。！？…]["')\]]*\s/g, /\n/g, /[,;:]\s/g, /\s/g]) {
    let best = -1;
    for (const match of window.matchAll(pattern)) {
      const end = match.index + match[0].length;
      // The break's own text stays in the part when it fits; the whitespace is trimmed later.
      const cut = end <= limit ? end : match.index;
      if (cut <= limit && cut > floor) best = Math.max(best, cut);
    }
    if (best > 0) return best;
  }
  return safeCut(text, limit);
}

/** `limit`, moved back by one when it would fall between the two halves of a surrogate pair. */
function safeCut(text: string, limit: number): number {
  const code = text.charCodeAt(limit - 1);
  return code >= 0xd800 && code <= 0xdbff ? limit - 1 : limit;
}

/** Cuts `text` to at most `limit` code units at a word boundary, with an ellipsis ("..." on SMS, where "…" is not GSM-7). */
export function truncate(text: string, limit: number, ellipsis = '…'): string {
  if (text.length <= limit) return text;
  const cut = safeCut(text, limit - ellipsis.length);
  const head = text.slice(0, cut);
  // The head ends on a whole word when the next character is a space; else drop the partial word.
  const endsOnWord = /\s/.test(text.charAt(cut));
  const space = head.lastIndexOf(' ');
  return `${(endsOnWord || space <= limit / 2 ? head : head.slice(0, space)).trimEnd()}${ellipsis}`;
}
