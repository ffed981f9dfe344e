/**
 * A task of a function that no live worker serves waits, in silence, until a worker that serves
 * it starts: what a rolling deploy means, or a misspelt name (`resise` for `resize`), which
 * nothing said. So the Client looks, after the first submit or schedule of a function name, at
 * what the live workers serve, and warns in its logger when workers run and none serves it (the
 * CLI's Client warns on stderr). None running says nothing (a producer that starts before its
 * workers is no mistake), and the name is looked at again later (Client.lookWhoServes).
 */
import type { Keys } from './keys.js';
import type { Connection } from './redis.js';
import { quote } from './quote.js';
import { readTogether } from './read-together.js';

/** what the live workers serve: how many are listed, and each function with how many serve it */
export interface Served {
  workers: number;
  functions: Map<string, number>;
  /**
   * how many listed workers have announced nothing (no entry in `workers:functions`): a worker
   * listed again by its heartbeat (renew.lua) after a monitor pruned it, or after Redis lost its
   * data, says what it serves only at its next refresh (fetchWorkerInterval): not known yet
   */
  unknown: number;
}

/** one read: the workers listed, and the functions each announced (register.lua) */
export async function readServed(redis: Connection, keys: Keys): Promise<Served> {
  const r = (await readTogether(redis, (c) => c.smembers(keys.workerSet).hgetall(keys.workerFunctions))) ?? [];
  for (const [e] of r) if (e) throw e;
  const [workers, announced] = r.map(([, v]) => v) as [string[], Record<string, string>];
  const unknown = new Set(workers.filter((w) => !Object.hasOwn(announced ?? {}, w))).size;
  return { workers: workers.length, functions: servedBy(workers, announced), unknown };
}

/**
 * How many of the live `workers` serve each function, from what each announced (`announced`:
 * the hash worker -> its functions as JSON); an entry of a worker not listed counts for nothing,
 * an unreadable one serves nothing.
 */
export function servedBy(workers: readonly string[], announced: Record<string, string>): Map<string, number> {
  const functions = new Map<string, number>();
  for (const w of new Set(workers)) {
    let names: unknown;
    try {
      names = JSON.parse(announced[w] ?? '[]');
    } catch {
      continue;
    }
    if (Array.isArray(names)) for (const fn of names) if (typeof fn === 'string') functions.set(fn, (functions.get(fn) ?? 0) + 1);
  }
  return functions;
}

/**
 * the warning for a task of `fn` queued while workers run and none of them serves it; undefined
 * when one does, or none runs, or a listed worker has not said what it serves (it may be `fn`)
 */
export function unservedNote(fn: string, served: Served): string | undefined {
  if (served.workers === 0 || served.unknown > 0 || (served.functions.get(fn) ?? 0) > 0) return undefined;
  const others = [...served.functions.keys()].filter((name) => name !== fn).map(quote).sort();
  return `no live worker serves function ${quote(fn)}: the task waits until one that does starts; is the name right?${others.length ? ` (served: ${others.join(', ')})` : ''}`;
}

/** whether a logged line is unservedNote's, as the Client logs it (after the call's name) */
export function isUnservedNote(text: string): boolean {
  return /^(submit|submitMany|schedule "[^]*"): no live worker serves function /.test(text);
}
