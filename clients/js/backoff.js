// Reconnect delays: full-jitter exponential backoff. Attempt n (0 for the
// first retry after a connection was lost) waits a uniformly random time in
// [0, min(maxMs, initialMs * factor^n)). Full jitter spreads a crowd of
// clients that lost the same daemon over the whole window instead of
// bunching them at each doubling.

/** The defaults: 0.5 s doubling to 20 s. */
export const DEFAULT_BACKOFF = Object.freeze({ initialMs: 500, maxMs: 20000, factor: 2 });

/** The upper bound of attempt n's delay, in ms. */
export function backoffBound(attempt, { initialMs = 500, maxMs = 20000, factor = 2 } = {}) {
  return Math.min(maxMs, initialMs * factor ** attempt);
}

/** Attempt n's delay in ms; random() returns a number in [0, 1). */
export function backoffDelay(attempt, backoff = DEFAULT_BACKOFF, random = Math.random) {
  return Math.floor(random() * backoffBound(attempt, backoff));
}
