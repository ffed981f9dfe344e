/**
 * Regenerates the parts of the docs that come from code: the README's configuration table
 * (from src/config.ts) and docs/machines.md (from machines/). `npm run docs`; test/docs.test.ts
 * fails when they are stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configTable } from '../src/config.js';
import { machinesDoc } from './machines-doc.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export function readmeWithTable(readme: string): string {
  const start = '<!-- config-table:start -->';
  const end = '<!-- config-table:end -->';
  const i = readme.indexOf(start);
  const j = readme.indexOf(end);
  if (i < 0 || j < 0) throw new Error('README.md lacks the config-table markers');
  return `${readme.slice(0, i + start.length)}\n${configTable()}\n${readme.slice(j)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const readmePath = `${root}README.md`;
  writeFileSync(readmePath, readmeWithTable(readFileSync(readmePath, 'utf8')));
  writeFileSync(`${root}docs/machines.md`, machinesDoc());
  console.log('updated README.md (configuration table) and docs/machines.md');
}
