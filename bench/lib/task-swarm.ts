/**
 * Task Swarm as its users run it: the build (dist/, the JavaScript tsc writes), as BullMQ and
 * Bee-Queue run from their published JavaScript. src/ through tsx is not that: tsx's transform
 * keeps function names by wrapping every function it creates in a `__name()` call, a cost per
 * closure on every task (a worker at concurrency 1 spent 5-8% more CPU per task, paired seed
 * drains, bench/seed-drain.ts --entry). `npm run bench` builds first.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Library = typeof import('../../src/index.js');

const DIST = new URL('../../dist/src/index.js', import.meta.url);

export async function taskSwarm(): Promise<Library> {
  if (!existsSync(fileURLToPath(DIST))) throw new Error('bench: dist/ is missing: run `npm run build` first (`npm run bench` does)');
  return (await import(DIST.href)) as Library;
}
