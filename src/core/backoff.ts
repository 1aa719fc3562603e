/** Capped exponential backoff: `initialMs`, then doubling each attempt, never above `maxMs`. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** attempt);
}
