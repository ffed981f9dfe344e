/**
 * ops/alerts.yml stays true: it is a Prometheus rules file (groups of rules, each alert with an
 * expression, a duration, a severity and a summary), every expression parses with Prometheus's
 * own PromQL grammar (@prometheus-io/lezer-promql), and every metric it names is in the /metrics
 * of a live worker or monitor, every label it matches on is one that metric has, and every
 * machine state it matches is one the machine can be in.
 */
import { readFileSync } from 'node:fs';
import { parser } from '@prometheus-io/lezer-promql';
import type { SyntaxNode } from '@lezer/common';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { resolveRedisConfig } from '../src/config.js';
import { DEAD_LETTER_REASONS } from '../src/errors.js';
import { buildKeys } from '../src/keys.js';
import { Client, Monitor, Worker } from '../src/index.js';
import { MONITOR_METRICS, SWARM_METRICS, WORKER_METRICS, type MetricDef } from '../src/telemetry/metric-catalog.js';
import { readExposition, type Exposition } from './helpers/exposition.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

interface Rule {
  alert?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const file = parseYaml(readFileSync(new URL('../ops/alerts.yml', import.meta.url), 'utf8')) as { groups?: { name?: string; rules?: Rule[] }[] };
const rules = (file.groups ?? []).flatMap((g) => g.rules ?? []);

interface Selector {
  metric: string;
  matchers: { label: string; op: string; value: string }[];
}

/** the vector selectors of a PromQL expression; throws where the grammar finds an error */
function selectors(expr: string): Selector[] {
  const tree = parser.parse(expr);
  const text = (n: SyntaxNode) => expr.slice(n.from, n.to);
  const out: Selector[] = [];
  tree.iterate({
    enter(ref) {
      if (ref.type.isError) throw new Error(`PromQL syntax error at ${ref.from}: ${JSON.stringify(expr.slice(Math.max(0, ref.from - 20), ref.to + 20))}`);
      if (ref.name !== 'VectorSelector') return;
      const node = ref.node;
      const id = node.getChild('Identifier');
      const matchers = node.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? [];
      out.push({
        metric: id ? text(id) : '',
        matchers: matchers.map((m) => ({
          label: text(m.getChild('LabelName')!),
          op: text(m.getChild('MatchOp')!),
          value: JSON.parse(text(m.getChild('StringLiteral')!)) as string,
        })),
      });
    },
  });
  return out;
}

const DEFS = new Map<string, MetricDef>([...Object.values(WORKER_METRICS), ...Object.values(MONITOR_METRICS), ...Object.values(SWARM_METRICS)].map((d) => [d.name, d]));

describe('ops/alerts.yml', () => {
  it('is a rules file of alerts, each with an expression, a duration, a severity and a summary, covering what matters', () => {
    expect(file.groups?.length).toBeGreaterThan(0);
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) {
      expect(r.alert, JSON.stringify(r)).toMatch(/^TaskSwarm[A-Za-z]+$/);
      expect(typeof r.expr, r.alert).toBe('string');
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(['warning', 'critical'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
    }
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    // the four the operators asked for
    const names = rules.map((r) => r.alert);
    expect(names).toEqual(expect.arrayContaining(['TaskSwarmTasksNotMoving', 'TaskSwarmPartitioned', 'TaskSwarmDeadLettersGrowing', 'TaskSwarmWorkerHalted']));
  });

  it('parses as PromQL, and names only metrics, labels and states a live worker and monitor export', async () => {
    const o = server.options();
    const worker = new Worker({ port: 0, redis: o });
    worker.addTaskFunction('f', () => 1);
    const monitor = new Monitor({ redis: o });
    cleanup.push(
      () => worker.stop(),
      () => monitor.stop(),
    );
    await worker.start();
    await monitor.start();
    const live: Exposition[] = [readExposition(await worker.metrics()), readExposition(await monitor.metrics())];
    const exported = new Set(live.flatMap((e) => [...e.names]));
    const states = (metric: string) => new Set(live.flatMap((e) => e.samples(metric).map((s) => s.labels.state!)));

    const named = new Set<string>();
    for (const r of rules) {
      for (const s of selectors(r.expr!)) {
        named.add(s.metric);
        expect(exported, `${r.alert}: ${s.metric}`).toContain(s.metric);
        for (const m of s.matchers) {
          expect(DEFS.get(s.metric)?.labels ?? [], `${r.alert}: ${s.metric} has no label ${m.label}`).toContain(m.label);
          if (m.label !== 'state') continue;
          const known = states(s.metric);
          expect(known.size).toBeGreaterThan(0);
          // an equality, or a regex that is an alternation of names
          for (const value of m.op === '=~' ? m.value.split('|') : [m.value]) expect(known, `${r.alert}: ${s.metric} has no state ${value}`).toContain(value);
        }
      }
    }
    // and the check did look: the rules name metrics of all three families
    expect([...named].some((n) => n.startsWith('task_swarm_worker_'))).toBe(true);
    expect([...named].some((n) => n.startsWith('task_swarm_monitor_'))).toBe(true);
    expect(named).toContain('task_swarm_queue_depth');
  });

  it('are each listed in the alerts table of docs/metrics.md, and that table lists no other', () => {
    const doc = readFileSync(new URL('../docs/metrics.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Alerts'));
    const listed = [...section.matchAll(/^\| `(TaskSwarm[A-Za-z]+)` \|/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual(rules.map((r) => r.alert!).sort());
  });

  /** `worker` started, with a monitor and a client beside it on the same swarm; all stopped after the test */
  async function startedWith(o: ReturnType<RedisServer['options']>, worker: Worker) {
    const monitor = new Monitor({ redis: o });
    const client = new Client({ redis: o });
    cleanup.push(
      () => worker.stop(),
      () => monitor.stop(),
      () => client.close(),
    );
    await worker.start();
    await monitor.start();
    return { monitor, client };
  }

  it('catch tasks that arrive while no worker is alive: they stay incoming, which no per-function rule sees', async () => {
    const o = server.options();
    const worker = new Worker({ port: 0, redis: o });
    worker.addTaskFunction('f', () => 1);
    const { monitor, client } = await startedWith(o, worker);
    await client.wait(await client.submit('f', 1), { timeout: 10_000 });
    // the last worker goes: what is submitted now is routed by no one
    await worker.stop();
    await client.submit('f', 2);
    await client.submit('f', 3);
    const m = readExposition(await monitor.metrics());
    expect(m.value('task_swarm_workers')).toBe(0);
    expect(m.value('task_swarm_queue_entries')).toBe(2);
    // every function's queue is empty, so TaskSwarmTasksNotMoving and TaskSwarmNoWorkerForFunction stay quiet
    expect(m.samples('task_swarm_queue_depth').every((s) => s.value === 0)).toBe(true);
    // a rule watches the incoming entries, unless some worker claims (and so routes them)
    const watching = rules.filter((r) => selectors(r.expr!).some((s) => s.metric === 'task_swarm_queue_entries'));
    expect(watching.map((r) => r.alert)).toEqual(['TaskSwarmIncomingNotRouted']);
    expect(selectors(watching[0]!.expr!).map((s) => s.metric)).toContain('task_swarm_worker_tasks_claimed_total');
  });

  it('catch tasks that arrive while every worker is full: a full worker claims nothing, so it routes nothing', async () => {
    const o = server.options();
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    const worker = new Worker({ port: 0, redis: o, concurrency: 1 });
    worker.addTaskFunction('g', () => held);
    const { monitor, client } = await startedWith(o, worker);
    const first = await client.submit('g', 1);
    await expect.poll(() => worker.running.includes(first), { timeout: 10_000 }).toBe(true);
    await client.submit('g', 2);
    await client.submit('g', 3);
    // given the time a claim would take, were the worker to make one
    await new Promise((r) => setTimeout(r, 1000));
    const m = readExposition(await monitor.metrics());
    expect(m.value('task_swarm_queue_entries')).toBe(2);
    expect(m.value('task_swarm_queue_depth', { function: 'g' })).toBe(0);
    release();
    await client.wait(first, { timeout: 10_000 });
  });

  it('fire on the first dead letter of a reason: a monitor counts every reason from 0, before any is parked', async () => {
    // increase() sees nothing in a series that starts at 1: TaskSwarmDeadLettersGrowing needs the 0 first
    const o = server.options();
    const monitor = new Monitor({ redis: o });
    const worker = new Worker({ port: 0, redis: o });
    worker.addTaskFunction('f', () => 1);
    const client = new Client({ redis: o });
    cleanup.push(
      () => worker.stop(),
      () => monitor.stop(),
      () => client.close(),
    );
    await monitor.start();
    const before = readExposition(await monitor.metrics());
    for (const family of ['parked', 'dropped', 'retried', 'purged']) {
      const samples = before.samples(`task_swarm_dead_letters_${family}_total`);
      expect(samples.map((s) => s.labels.reason).sort(), family).toEqual(Object.keys(DEAD_LETTER_REASONS).sort());
      expect(samples.every((s) => s.value === 0), family).toBe(true);
    }
    await worker.start();
    const raw = server.client();
    cleanup.push(() => raw.quit());
    await raw.lpush(buildKeys(resolveRedisConfig(o)).newQueue, 'not json');
    await expect.poll(async () => readExposition(await monitor.metrics()).value('task_swarm_dead_letters_parked_total', { reason: 'bad_json' }), { timeout: 10_000 }).toBe(1);
    expect(readExposition(await monitor.metrics()).value('task_swarm_dead_letters_parked_total', { reason: 'duplicate' })).toBe(0);
  });

  it('would catch a rule that names a metric nobody exports, or does not parse', () => {
    expect(selectors('task_swarm_worker_tasks_claimed_total{function="x"} > 0')).toEqual([{ metric: 'task_swarm_worker_tasks_claimed_total', matchers: [{ label: 'function', op: '=', value: 'x' }] }]);
    expect(() => selectors('sum(task_swarm_queue_depth')).toThrow(/syntax error/);
  });
});
