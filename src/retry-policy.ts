/**
 * A task's retry policy, read from its entry: how many tries it has (`attempts`), and the wait
 * before a failed task's next attempt, from its `backoff` (src/submission.ts says what
 * a producer may give; a hand-pushed entry's junk was refused by the claim). Computed by the
 * worker that saw the failure, added to Redis's clock by finish.lua, so a due time never comes
 * from a host's clock.
 */

/**
 * `attempt` is the attempt that failed (1 for the first): fixed waits `delay` each time;
 * exponential waits delay x 2^(attempt - 1); both capped by `max`, then drawn from
 * [wait x (1 - jitter), wait].
 */
export function backoffDelay(backoff: unknown, attempt: number, random: () => number = Math.random): number {
  if (typeof backoff === 'number') return Number.isFinite(backoff) && backoff > 0 ? Math.floor(backoff) : 0;
  if (!backoff || typeof backoff !== 'object') return 0;
  const b = backoff as { type?: unknown; delay?: unknown; jitter?: unknown; max?: unknown };
  const delay = typeof b.delay === 'number' && Number.isFinite(b.delay) && b.delay > 0 ? b.delay : 0;
  let wait = b.type === 'exponential' ? delay * 2 ** Math.min(Math.max(0, attempt - 1), 60) : delay;
  if (typeof b.max === 'number' && b.max >= 0) wait = Math.min(wait, b.max);
  // (a wait past setTimeout's range is as good as forever for a retry; keep it storable)
  wait = Math.min(wait, 2 ** 31 - 1);
  const jitter = typeof b.jitter === 'number' && b.jitter > 0 && b.jitter <= 1 ? b.jitter : 0;
  return Math.floor(wait * (1 - jitter * random()));
}

/** the task's tries in all: its entry's `attempts` (an integer from 1), else 1 */
export function attemptsOf(entry: { readonly [field: string]: unknown }): number {
  const a = entry.attempts;
  return typeof a === 'number' && Number.isInteger(a) && a >= 1 ? a : 1;
}
