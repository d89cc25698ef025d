/**
 * Milliseconds since the epoch with sub-millisecond resolution, comparable across the processes of one
 * run (the bench, its fakes and its load generator all read the same machine clock).
 */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
