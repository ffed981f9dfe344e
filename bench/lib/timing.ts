/** Clocks, statistics and bounded waits for the benchmark scenarios. */

/** CLOCK_MONOTONIC in ms (float); comparable with worker children's hrtime stamps */
export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
export const hrToMs = (ns: string | bigint) => Number(BigInt(ns)) / 1e6;
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** nearest-rank percentile, p in 0..100 */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1]!;
}

export function round(x: number, digits = 2): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export class TimeoutError extends Error {}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`${what}: timed out after ${ms} ms`)), ms);
    }),
  ]);
}

/** poll `fn` every `stepMs` until it returns true; rejects after timeoutMs */
export async function until(fn: () => Promise<boolean>, timeoutMs: number, what: string, stepMs = 5, cancelled?: () => boolean): Promise<void> {
  const deadline = nowMs() + timeoutMs;
  for (;;) {
    if (cancelled?.()) throw new TimeoutError(`${what}: cancelled`);
    if (await fn()) return;
    if (nowMs() > deadline) throw new TimeoutError(`${what}: timed out after ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}
