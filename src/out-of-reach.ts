/**
 * Errors that say only that Redis was out of reach: no connection, or no answer in time. An
 * outage fails every call on its way with one, and the worker and monitor machines say the
 * outage themselves (once, and its end); any other error of an effect is news.
 */
const marked = new WeakSet<Error>();

/** `e` (made by this library) says only that Redis was out of reach */
export function outOfReach<E extends Error>(e: E): E {
  marked.add(e);
  return e;
}

// ioredis's words for a call failed by a connection's end, and the call deadlines' (src/command-deadlines.ts)
const WORDS = /^(Command timed out|Command aborted due to connection close|Connection is closed\.?)$/;
const CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Does `e`, or what it was caused by, say only that Redis was out of reach? */
export function isOutOfReach(e: unknown): boolean {
  for (let x = e, depth = 0; x instanceof Error && depth < 5; x = x.cause, depth++) {
    if (marked.has(x) || WORDS.test(x.message) || CODES.has((x as { code?: unknown }).code as string)) return true;
  }
  return false;
}
