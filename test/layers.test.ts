/**
 * The folders are layers, and each imports only from below it: machines/ (pure statecharts:
 * xstate and each other), actors/ (what runs them: xstate, machines/, each other), src/ (the
 * runtime, its effects and the public API: anything below). A file that imports upward fails
 * here, named with the import.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../', import.meta.url).pathname;
const importsOf = (dir: string) =>
  readdirSync(join(root, dir))
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [...readFileSync(join(root, dir, f), 'utf8').matchAll(/^(?:import|export)[^'"]*from '([^']+)'/gm)].map((m) => `${dir}/${f}: ${m[1]}`));

describe('layers', () => {
  it('machines/ imports only xstate and other machines', () => {
    expect(importsOf('machines').filter((i) => !/: (xstate|\.\/[\w-]+\.js)$/.test(i))).toEqual([]);
  });

  it('src/ is not held to it (the check can see an upward import)', () => {
    expect(importsOf('src').filter((i) => i.includes('../actors/')).length).toBeGreaterThan(0);
  });

  it('actors/ imports only xstate, node, machines/ and other actors, never src/', () => {
    expect(importsOf('actors').filter((i) => !/: (xstate|node:[\w/]+|\.\/[\w-]+\.js|\.\.\/machines\/[\w-]+\.js)$/.test(i))).toEqual([]);
  });
});
