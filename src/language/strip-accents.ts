/** Lower case, accents off ("Mañana" → "manana"): patients often type none, so rules are matched without them. */
export function stripAccents(text: string): string {
  return text.toLowerCase().normalize('NFD').replace(/\p{M}/gu, '');
}
