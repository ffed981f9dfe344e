/**
 * Task Swarm as its users run it: the build (dist/, the JavaScript tsc writes), as BullMQ and
 * Bee-Queue run from their published JavaScript. src/ through tsx is not that: tsx's transform
 * keeps function names by wrapping every function it creates in a `__name()` call, a cost per
 * closure on every task (a worker at concurrency 1 spent 5-8% more CPU per task, paired seed
 * drains, bench/seed-drain.ts --entry). `npm run bench` builds first.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Library = typeof import('../../src/index.js');

/**
 * the build to run: this checkout's, or another checkout's (its directory, built, with its own
 * node_modules or a link to one) in TASK_SWARM_BENCH_CHECKOUT, so that bench/warm-pairs.ts can
 * run two builds side by side
 */
const DIST = process.env.TASK_SWARM_BENCH_CHECKOUT
  ? pathToFileURL(resolve(process.env.TASK_SWARM_BENCH_CHECKOUT, 'dist/src/index.js'))
  : new URL('../../dist/src/index.js', import.meta.url);

export async function taskSwarm(): Promise<Library> {
  if (!existsSync(fileURLToPath(DIST))) throw new Error(`bench: ${fileURLToPath(DIST)} is missing: run \`npm run build\` first (\`npm run bench\` does)`);
  return (await import(DIST.href)) as Library;
}
