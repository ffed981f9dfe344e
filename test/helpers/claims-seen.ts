/**
 * What a worker's claims look like from outside and inside: the sizes of the claims Redis runs
 * (read off MONITOR), and the worker machine's context (its lanes, its rounds).
 */
import { monitorRedis } from './monitor.js';
import type { Worker } from '../../src/index.js';
import type { WorkerContext } from '../../machines/worker.js';
import { library } from '../../src/scripts.js';

/**
 * How many tasks each claim asks for (claim.lua's ARGV[3], in a claim or a finish-claim), in
 * order, and how many claims counted the workers (11 keys), read off Redis's MONITOR.
 */
export async function claimSizes(o: { host: string; port: number }): Promise<{ sizes: number[]; counted: number; stop: () => void }> {
  const fns = library().functions;
  const out = { sizes: [] as number[], counted: 0, stop: () => {} };
  const m = await monitorRedis(o, (args) => {
    if (args[0]?.toLowerCase() !== 'fcall' || (args[1] !== fns.claim && args[1] !== fns['finish-claim'])) return;
    const keys = Number(args[2]);
    if (keys === 11) out.counted++;
    const argv = args.slice(3 + keys);
    out.sizes.push(Number(args[1] === fns.claim ? argv[2] : argv[1 + Number(argv[0]) + 2]));
  });
  out.stop = () => m.stop();
  return out;
}

/** the running worker's machine: its context now, and its changes (the runtime's actor, not public API) */
export function machineOf(w: Worker): { context(): WorkerContext; onChange(f: (c: WorkerContext) => void): void } {
  const actor = (w as unknown as { actor: { getSnapshot(): { context: WorkerContext }; subscribe(f: (s: { context: WorkerContext }) => void): void } }).actor;
  return { context: () => actor.getSnapshot().context, onChange: (f) => actor.subscribe((s) => f(s.context)) };
}
