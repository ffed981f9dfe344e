/**
 * What an application that installs the package reaches through package.json: `import` and
 * `require` of 'task-swarm' and 'task-swarm/machines', and the type declarations of each.
 * Resolved by Node itself, in a node_modules of a scratch app holding this package.json and a
 * stand-in at every path it names (the built files need no build here).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface Manifest {
  type?: string;
  types?: string;
  exports: Record<string, { types?: string; [condition: string]: string | undefined }>;
}

const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as Manifest;
let app: string;

function node(source: string, type: 'module' | 'commonjs'): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = join(app, type === 'module' ? 'main.mjs' : 'main.cjs');
  writeFileSync(file, source);
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { cwd: app, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: unknown }).code as number) : 0, stdout, stderr });
    });
  });
}

beforeAll(() => {
  app = mkdtempSync(join(tmpdir(), 'task-swarm-app-'));
  // an app as `npm init -y` of npm 11 writes it: CommonJS
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'commonjs' }));
  const pkg = join(app, 'node_modules', 'task-swarm');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify(manifest));
  for (const [entry, targets] of Object.entries(manifest.exports)) {
    for (const [condition, target] of Object.entries(targets)) {
      if (!target) continue;
      mkdirSync(join(pkg, dirname(target)), { recursive: true });
      writeFileSync(join(pkg, target), condition === 'types' ? 'export declare const entry: string;\n' : `export const entry = ${JSON.stringify(entry)};\n`);
    }
  }
});
afterAll(() => rmSync(app, { recursive: true, force: true }));

describe('package.json exports', () => {
  it('the package is an ES module, and every entry has its type declarations', () => {
    expect(manifest.type).toBe('module');
    expect(manifest.types).toBe(manifest.exports['.']!.types);
    for (const [entry, targets] of Object.entries(manifest.exports)) expect(targets.types, entry).toMatch(/\.d\.ts$/);
  });

  it('import of each entry loads it, from an ES module', async () => {
    const r = await node(
      `for (const e of ${JSON.stringify(Object.keys(manifest.exports))}) console.log((await import(e === '.' ? 'task-swarm' : 'task-swarm' + e.slice(1))).entry);`,
      'module',
    );
    expect(r).toEqual({ code: 0, stdout: Object.keys(manifest.exports).join('\n') + '\n', stderr: '' });
  });

  it('require of each entry loads it, from CommonJS (Node >= 20.19 requires an ES module)', async () => {
    const r = await node(
      `for (const e of ${JSON.stringify(Object.keys(manifest.exports))}) console.log(require(e === '.' ? 'task-swarm' : 'task-swarm' + e.slice(1)).entry);`,
      'commonjs',
    );
    expect(r.stderr.replace(/^.*ExperimentalWarning.*\n|^\(Use `node --trace-warnings.*\n/gm, '')).toBe('');
    expect(r).toMatchObject({ code: 0, stdout: Object.keys(manifest.exports).join('\n') + '\n' });
  });
});

describe('the packed package', () => {
  it("holds every file the README links to or names under docs/ (npm shows the README; its links resolve in the package)", async () => {
    const packed = await new Promise<string>((resolve, reject) =>
      execFile('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: new URL('..', import.meta.url), timeout: 60_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    const files = new Set((JSON.parse(packed) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const linked = new Set([...readme.matchAll(/\]\((?!https?:|#)([^)#\s]+)/g)].map((m) => m[1]!).concat([...readme.matchAll(/(?<![\w/.])docs\/[\w./-]*\w/g)].map((m) => m[0])));
    expect(linked.size).toBeGreaterThan(5);
    // (a folder is there when a file under it is)
    const inPackage = (path: string) => files.has(path) || [...files].some((f) => f.startsWith(`${path.replace(/\/$/, '')}/`));
    for (const path of linked) expect(inPackage(path), `${path}, named in the README`).toBe(true);
  }, 60_000);
});
