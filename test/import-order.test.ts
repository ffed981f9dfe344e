/**
 * Every module of the library can be the first one imported. An import cycle whose modules use
 * each other's values at load time (a constant made from another module's constant) works in
 * one order and leaves a module half-made in another: src/redis.ts importing src/partitions.ts
 * made `import { buildSubmission } from 'task-swarm/src/submission'` throw, though importing
 * the index first worked. Each module here is imported first into an empty module registry.
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

const root = join(import.meta.dirname, '..');
function walk(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return walk(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}
const modules = ['src', 'actors', 'machines'].flatMap((dir) => walk(dir));

describe('import order', () => {
  it('finds the modules', () => {
    expect(modules.length).toBeGreaterThan(50);
    expect(modules).toContain(join('src', 'submission.ts'));
  });

  it.each(modules)('%s loads when it is imported first', async (path) => {
    vi.resetModules();
    const loaded: unknown = await import(/* @vite-ignore */ join(root, path));
    expect(loaded, relative(root, path)).toBeTypeOf('object');
  });
});
