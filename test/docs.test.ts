/** The docs that come from code stay true: regenerate with `npm run docs`. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { metricsDocWithTable, readmeWithTable } from '../tools/gen-docs.js';
import { machinesDoc } from '../tools/machines-doc.js';
import { evaluate, markdown } from '../bench/report.js';
import { MONITOR_FIELDS, REDIS_FIELDS, WORKER_FIELDS } from '../src/config.js';
import { MONITOR_METRICS, SWARM_METRICS, WORKER_METRICS } from '../src/telemetry/metric-catalog.js';
import { connectionOptions } from '../src/cli/connection.js';
import { COMMANDS } from '../src/cli/program.js';
import ts from 'typescript';

const read = (p: string) => readFileSync(new URL(`../${p}`, import.meta.url), 'utf8');

describe('generated docs', () => {
  it("README's configuration table matches the config schema", () => {
    const readme = read('README.md');
    expect(readme).toBe(readmeWithTable(readme));
    for (const key of [...Object.keys(REDIS_FIELDS), ...Object.keys(WORKER_FIELDS), ...Object.keys(MONITOR_FIELDS)]) {
      expect(readme).toContain(`| \`${key}\` |`);
    }
  });

  it("docs/metrics.md's table is every metric as src/telemetry/metric-catalog.ts defines it", () => {
    const doc = read('docs/metrics.md');
    expect(doc).toBe(metricsDocWithTable(doc));
    for (const d of [...Object.values(WORKER_METRICS), ...Object.values(MONITOR_METRICS), ...Object.values(SWARM_METRICS)]) {
      expect(doc).toContain(`| \`${d.name}\` |`);
    }
  });

  // (a section written into the page by hand, not into bench/analysis.md, went at the next bench run;
  // one added to analysis.md stayed off the page until then)
  it('docs/benchmarks.md is what the last run (bench/results/latest.json) and bench/analysis.md make', () => {
    const r = JSON.parse(read('bench/results/latest.json')) as Parameters<typeof markdown>[0];
    r.targets = evaluate(r);
    expect(read('docs/benchmarks.md')).toBe(markdown(r));
  });

  it("README's list of what `wait` and `get` answer is every field of TaskInfo, and no other", () => {
    const source = ts.createSourceFile('client.ts', read('src/client.ts'), ts.ScriptTarget.Latest);
    const info = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'TaskInfo');
    const fields = info!.members.map((m) => (m.name as ts.Identifier).text).sort();
    const listed = /once the hash says END: \{([^}]*)\} \(TaskInfo\)/.exec(read('README.md').replace(/\n\/\/ */g, ' '))?.[1];
    expect(listed, "README's comment after client.wait").toBeDefined();
    const named = listed!.split(',').map((f) => f.trim().replace(/[?:].*$/s, '')).sort();
    expect(named).toEqual(fields);
  });

  it("README's CLI paragraphs name every command and every environment variable the CLI reads", () => {
    const readme = read('README.md');
    for (const c of COMMANDS) expect(readme, c.name).toContain(`\`${c.name}`);
    const variables = [...connectionOptions(), ...COMMANDS.flatMap((c) => c.options ?? [])].flatMap((o) => (o.envVar ? [o.envVar] : []));
    expect(new Set(variables)).toEqual(new Set(['REDIS_URL', 'REDIS_PASSWORD', 'REDIS_SENTINEL_PASSWORD', 'TASK_SWARM_SECRET', 'TASK_SWARM_LOG', 'TASK_SWARM_DASHBOARD_TOKEN']));
    for (const v of variables) expect(readme, v).toContain(`\`${v}\``);
  });

  it("README says where `events` shows progress as the command does (stdout's JSON lines; stderr on a terminal only)", () => {
    const readme = read('README.md').replace(/\s+/g, ' ');
    const events = COMMANDS.find((c) => c.name === 'events')!;
    expect(events.details).toMatch(/On a terminal, its progress is also shown on stderr/);
    expect(readme).toContain('`events` prints every event, progress too, as a JSON line on stdout; only on a terminal does it also redraw the progress line on stderr.');
    expect(readme).not.toMatch(/and `events` show a task's progress/);
  });

  it('docs/machines.md is the statecharts of the machines as they are', () => {
    expect(read('docs/machines.md')).toBe(machinesDoc());
  });
});
