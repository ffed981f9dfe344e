/**
 * Regenerates the parts of the docs that come from code: the README's configuration table
 * (from src/config.ts), docs/machines.md (from machines/), docs/metrics.md's table of metrics
 * (from src/telemetry/metric-catalog.ts) and acl/task-swarm.acl (the ACL users of src/acl.ts
 * for the default key names). `npm run docs`; test/docs.test.ts fails when they are stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { aclFile } from '../src/acl.js';
import { configTable, resolveRedisConfig } from '../src/config.js';
import { metricsTable } from '../src/telemetry/metric-catalog.js';
import { machinesDoc } from './machines-doc.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** `text` with what stands between `<!-- name:start -->` and `<!-- name:end -->` replaced by `content` */
function between(text: string, name: string, content: string, file: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < 0) throw new Error(`${file} lacks the ${name} markers`);
  return `${text.slice(0, i + start.length)}\n${content}\n${text.slice(j)}`;
}

export function readmeWithTable(readme: string): string {
  return between(readme, 'config-table', configTable(), 'README.md');
}

/** docs/metrics.md with its table of every metric as the catalog defines them */
export function metricsDocWithTable(doc: string): string {
  return between(doc, 'metrics-table', metricsTable(), 'docs/metrics.md');
}

/** acl/task-swarm.acl: the ACL users for the default key names */
export function defaultAclFile(): string {
  return aclFile(resolveRedisConfig({}));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const readmePath = `${root}README.md`;
  writeFileSync(readmePath, readmeWithTable(readFileSync(readmePath, 'utf8')));
  writeFileSync(`${root}docs/machines.md`, machinesDoc());
  const metricsPath = `${root}docs/metrics.md`;
  writeFileSync(metricsPath, metricsDocWithTable(readFileSync(metricsPath, 'utf8')));
  writeFileSync(`${root}acl/task-swarm.acl`, defaultAclFile());
  console.log('updated README.md (configuration table), docs/machines.md, docs/metrics.md (table of metrics) and acl/task-swarm.acl');
}
