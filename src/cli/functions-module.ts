/**
 * The task functions of `worker --functions <module>`: the module (.js, .mjs, or .ts when tsx is
 * installed) is imported, and each function it exports is registered under a name.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TaskFunction } from '../task.js';
import { RuntimeError, UsageError } from './errors.js';

async function importModule(file: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (e) {
    // (a module may throw anything: null, a string)
    const code = e !== null && typeof e === 'object' ? (e as NodeJS.ErrnoException).code : undefined;
    if (code !== 'ERR_UNKNOWN_FILE_EXTENSION' || !/\.[mc]?ts$/.test(file)) throw e;
  }
  // A TypeScript module outside tsx: load it through tsx, when tsx is installed.
  let tsImport: (specifier: string, parent: string) => Promise<unknown>;
  try {
    const api = 'tsx/esm/api';
    ({ tsImport } = (await import(api)) as { tsImport: typeof tsImport });
  } catch {
    throw new RuntimeError(`cannot load TypeScript module ${file}: install tsx (npm install tsx), or compile it to .js`);
  }
  return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
}

/**
 * Each named export that is a function is registered under its export name; a default export
 * that is an object registers its function properties by key; a default export that is a
 * function registers under its name (or the file name when anonymous). A class is no task
 * function and is passed over. A name two modules export differently, a function exported as "",
 * a module that cannot load or exports no function: a RuntimeError; a path that names no file,
 * or a directory: a UsageError.
 */
export async function loadFunctions(paths: string[]): Promise<Map<string, TaskFunction>> {
  const found = new Map<string, { fn: TaskFunction; from: string }>();
  const add = (name: string, fn: TaskFunction, from: string) => {
    const prev = found.get(name);
    if (prev && prev.fn !== fn) throw new RuntimeError(`task function "${name}" is exported by both ${prev.from} and ${from}`);
    found.set(name, { fn, from });
  };
  for (const p of paths) {
    const file = resolve(p);
    // (a path typed wrong is a mistake in the command line, as a missing --redis-password-file is)
    if (!existsSync(file)) throw new UsageError(`--functions: no such file: ${p}`);
    // (Node's own words named a file inside task-swarm, the one that imports it)
    if (statSync(file).isDirectory()) {
      const index = ['index.js', 'index.mjs', 'index.ts'].find((f) => existsSync(join(file, f)));
      throw new UsageError(`--functions: ${p} is a directory, not a module: name its module file${index ? ` (${join(p, index)}?)` : ''}`);
    }
    let mod: Record<string, unknown>;
    try {
      mod = await importModule(file);
    } catch (e) {
      if (e instanceof RuntimeError) throw e;
      throw new RuntimeError(`cannot load --functions module ${p}: ${thrownLine(e)}`);
    }
    // (counted per module, not as names new to `found`: a module given twice, or an index
    // re-exporting a module also given, adds no name, and was refused as exporting none)
    let exported = 0;
    const take = (name: string, fn: TaskFunction) => {
      // (else addTaskFunction's own words, naming neither the module nor the export)
      if (name === '') throw new RuntimeError(`--functions module ${p} exports a function under the name "", which cannot be a task name`);
      add(name, fn, p);
      exported++;
    };
    for (const [name, v] of Object.entries(mod)) {
      if (name === 'default') continue;
      // (a class beside the functions, a helper or a model, is no task function: it cannot be called)
      if (typeof v === 'function' && !isClass(v)) take(name, v as TaskFunction);
    }
    const d = mod.default;
    if (typeof d === 'function' && !isClass(d)) {
      const name = d.name && d.name !== 'default' ? d.name : basename(file, extname(file));
      take(name, d as TaskFunction);
    } else if (d && typeof d === 'object') {
      for (const [name, v] of Object.entries(d)) if (typeof v === 'function' && !isClass(v)) take(name, v as TaskFunction);
    }
    if (exported === 0) throw new RuntimeError(`--functions module ${p} exports no functions`);
  }
  return new Map([...found].map(([name, { fn }]) => [name, fn]));
}

/** whether `f` is a class, which only `new` may call */
function isClass(f: unknown): boolean {
  try {
    return /^class\b/.test(Function.prototype.toString.call(f));
  } catch {
    return false;
  }
}

/** the first line of what a module threw, whatever it threw */
function thrownLine(e: unknown): string {
  let m: string;
  try {
    m = e instanceof Error ? String(e.message) : typeof e === 'string' ? e : `it threw ${String(e)}`;
  } catch {
    m = 'it threw a value that cannot be read';
  }
  return m.split('\n')[0]!;
}
