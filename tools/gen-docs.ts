/**
 * Regenerates the parts of the docs that come from code: the README's configuration table
 * (from src/config.ts), docs/machines.md (from machines/) and acl/task-swarm.acl (the ACL users
 * of src/acl.ts for the default key names). `npm run docs`; test/docs.test.ts
 * fails when they are stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { aclFile } from '../src/acl.js';
import { configTable, resolveRedisConfig } from '../src/config.js';
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

/** acl/task-swarm.acl: the ACL users for the default key names */
export function defaultAclFile(): string {
  return aclFile(resolveRedisConfig({}));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const readmePath = `${root}README.md`;
  writeFileSync(readmePath, readmeWithTable(readFileSync(readmePath, 'utf8')));
  writeFileSync(`${root}docs/machines.md`, machinesDoc());
  writeFileSync(`${root}acl/task-swarm.acl`, defaultAclFile());
  console.log('updated README.md (configuration table), docs/machines.md and acl/task-swarm.acl');
}
