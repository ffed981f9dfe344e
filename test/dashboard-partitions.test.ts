/**
 * The dashboard of a swarm in partitions (`redis.partitions`), here four on one Redis: every
 * task list covers every partition, paging with a small limit across their boundaries visits
 * each task once, the workers view shows the tasks they run in any partition, and a task's
 * detail, its events and the actions on it reach tasks outside partition 0. And on a Redis
 * Cluster, where each partition is on a primary of its own, the same pages and views read.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client, createDashboard, Worker } from '../src/index.js';
import { newTaskIdIn, partitionOf } from '../src/partitions.js';
import { redisPerFile } from './helpers/suite.js';
import { freePort, until, type RedisServer } from './helpers/redis-server.js';
import { spawnCluster } from './helpers/deployments.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const N = 4;
const TOKEN = 'partitions-token-1234';
const conf = (prefix: string) => ({ port: server.port, keyPrefix: prefix, partitions: N });
const json = async (url: string) => (await fetch(url)).json() as Promise<Record<string, unknown>>;
const post = async (url: string, body: unknown = {}) => {
  const r = await fetch(url, { method: 'POST', headers: { 'x-task-swarm': '1', authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};
/** three ids in each partition */
const spread = () => Array.from({ length: 3 * N }, (_, i) => newTaskIdIn(i % N, N));

interface Page {
  total: number;
  rows: { id: string; state: string; worker?: string }[];
  next: string | null;
}

/** every row of `list`, page by page of `limit` */
async function walk(url: string, list: string, limit: number): Promise<{ ids: string[]; pages: Page[] }> {
  const ids: string[] = [];
  const pages: Page[] = [];
  let from: string | null = '0';
  while (from !== null) {
    const page = (await json(`${url}api/tasks?list=${list}&from=${encodeURIComponent(from)}&limit=${limit}`)) as unknown as Page;
    pages.push(page);
    ids.push(...page.rows.map((r) => r.id));
    from = page.next;
    expect(pages.length).toBeLessThan(200);
  }
  return { ids, pages };
}

describe('the dashboard of a swarm in partitions', () => {
  it('lists running, queued, delayed and ended tasks of every partition, each once page by page, and the workers their tasks in any partition', async () => {
    const r = conf('{dash}:');
    const dashboard = createDashboard({ redis: r, token: TOKEN });
    const url = await dashboard.listen(0);
    const client = new Client({ redis: r });
    cleanup.push(
      () => client.close(),
      () => dashboard.close(),
    );
    // queued before any worker runs: the queued set holds what no claim has routed yet
    const queued = spread();
    const delayed = spread();
    for (const id of queued) await client.submit('nobody-serves-this', null, { id });
    for (const id of delayed) await client.submit('quick', null, { id, delay: 600_000 });
    for (const limit of [1, 5, 500]) {
      const { ids, pages } = await walk(url, 'queued', limit);
      expect(ids.length, `queued by ${limit}`).toBe(queued.length);
      expect(new Set(ids)).toEqual(new Set(queued));
      expect(pages.every((p) => p.total === queued.length)).toBe(true);
      expect(ids.map((id) => partitionOf(id, N))).toEqual(ids.map((id) => partitionOf(id, N)).sort());
    }

    const worker = new Worker({ port: 0, redis: r, concurrency: 3 * N + 4 });
    worker.addTaskFunction('hold', (t) => new Promise((_, reject) => t.signal.addEventListener('abort', () => reject(new Error('stopped')))));
    worker.addTaskFunction('quick', async (t) => t.data);
    await worker.start();
    cleanup.push(() => worker.stop());
    const running = spread();
    const ended = spread();
    for (const id of running) await client.submit('hold', null, { id });
    for (const id of ended) await client.submit('quick', 1, { id });
    for (const id of ended) await client.wait(id, { timeout: 10_000 });
    await until(async () => (await Promise.all(running.map((id) => client.get(id)))).every((t) => t?.state === 'RUNNING'), 'the held tasks running', 10_000);
    // (the ids are spread by construction: three in each partition)
    expect(new Set(running.map((id) => partitionOf(id, N)))).toEqual(new Set([0, 1, 2, 3]));

    for (const [list, want] of [
      ['running', running],
      ['delayed', delayed],
      ['ended', ended],
    ] as const) {
      for (const limit of [1, 5, 500]) {
        const { ids, pages } = await walk(url, list, limit);
        // each task once, whatever the page size, across every partition's boundary
        expect(ids.length, `${list} by ${limit}`).toBe(want.length);
        expect(new Set(ids), `${list} by ${limit}`).toEqual(new Set(want));
        expect(pages.map((p) => p.total), `${list} totals`).toEqual(pages.map(() => want.length));
        // each page is full up to the last; a page of many takes them all at once
        expect(pages.slice(0, -1).every((p) => p.rows.length === limit)).toBe(true);
        if (limit === 500) expect(pages).toHaveLength(1);
      }
      // partition by partition, each in its own order: the partitions of a walk never go back
      const { ids } = await walk(url, list, 2);
      const parts = ids.map((id) => partitionOf(id, N));
      expect(parts).toEqual([...parts].sort());
    }
    const first = (await json(`${url}api/tasks?list=running&limit=2`)) as unknown as Page;
    expect(first.next).toBe('0:2');
    expect(first.rows).toEqual([expect.objectContaining({ state: 'RUNNING', worker: worker.address }), expect.objectContaining({ state: 'RUNNING' })]);
    expect(await json(`${url}api/tasks?list=running&from=4:0`)).toMatchObject({ error: expect.stringMatching(/partition 4, and this swarm has 4/) });

    // the worker view: every running task, from every partition
    const overview = (await json(`${url}api/overview`)) as { workers: { address: string; tasks: string[] }[]; stats: { queued: number } };
    expect(overview.workers).toHaveLength(1);
    expect(new Set(overview.workers[0]!.tasks)).toEqual(new Set(running));

    // a task outside partition 0: its detail, its events, a stop; a queued one cancelled
    const far = running.find((id) => partitionOf(id, N) === 3)!;
    expect(await json(`${url}api/task/${far}`)).toMatchObject({ id: far, state: 'RUNNING' });
    const ac = new AbortController();
    cleanup.push(async () => ac.abort());
    const stream = await fetch(`${url}api/task/${far}/stream`, { signal: ac.signal });
    const reader = stream.body!.getReader();
    let text = '';
    while (!text.includes(': open')) text += new TextDecoder().decode((await reader.read()).value);
    expect(await post(`${url}api/task/${far}/control`, { message: 'stop' })).toMatchObject({ status: 200 });
    while (!/event: task\ndata: \{"event":"end"/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    expect((await client.wait(far, { timeout: 5000 })).outcome).toBe('stopped');
    const waiting = queued.find((id) => partitionOf(id, N) === 2)!;
    expect(await post(`${url}api/task/${waiting}/cancel`)).toMatchObject({ status: 200, body: { result: 'cancelled' } });
    expect(await client.get(waiting)).toMatchObject({ state: 'END', outcome: 'cancelled' });
    const endedNow = await walk(url, 'ended', 3);
    expect(new Set(endedNow.ids)).toEqual(new Set([...ended, far, waiting]));
    // (the held tasks stopped, for a quick worker stop)
    for (const id of running) await client.control(id, 'stop');
    for (const id of running) await client.wait(id, { timeout: 5000 });
  }, 60_000);

  it('retries and purges dead letters of any partition', async () => {
    const r = conf('{dead}:');
    const dashboard = createDashboard({ redis: r, token: TOKEN });
    const url = await dashboard.listen(0);
    const client = new Client({ redis: r });
    const worker = new Worker({ port: 0, redis: r, maxPayloadBytes: 200 });
    worker.addTaskFunction('echo', async (t) => t.data);
    cleanup.push(
      () => client.close(),
      () => dashboard.close(),
    );
    await worker.start();
    cleanup.push(() => worker.stop());
    // too large for the worker: parked in the partition of its id
    const big = [newTaskIdIn(1, N), newTaskIdIn(3, N)];
    for (const id of big) await client.submit('echo', 'x'.repeat(300), { id });
    const dead = async () => ((await json(`${url}api/overview`)) as { dead: { key: string; id?: string }[] }).dead;
    await until(async () => (await dead()).length === 2, 'both parked', 10_000);
    const letters = await dead();
    expect(new Set(letters.map((l) => l.id))).toEqual(new Set(big));
    expect(letters.map((l) => l.key.split('/')[0]).sort()).toEqual(['1', '3']);
    // a retry (still too large: parked again, under a new key), then a purge of each
    const one = letters.find((l) => l.id === big[1])!;
    expect(await post(`${url}api/dead/retry`, { key: one.key })).toEqual({ status: 200, body: { done: true } });
    await until(async () => (await dead()).length === 2 && !(await dead()).some((l) => l.key === one.key), 'parked again', 10_000);
    for (const l of await dead()) expect(await post(`${url}api/dead/purge`, { key: l.key })).toEqual({ status: 200, body: { done: true } });
    expect(await dead()).toEqual([]);
    for (const id of big) expect(await client.get(id)).toBeNull();
  }, 30_000);
});

describe('the dashboard of a swarm in partitions on a Redis Cluster', () => {
  it('reads each list and the workers view across the primaries, each task once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'task-swarm-dashboard-cluster-'));
    const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
    const d = await spawnCluster(dir, ports.slice(0, 3), ports.slice(3), { replicas: 0 });
    cleanup.push(async () => {
      for (const n of d.nodes) await n.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    const r = { cluster: d.seeds, keyPrefix: '{dashc}:', partitions: 3 };
    const client = new Client({ redis: r });
    const dashboard = createDashboard({ redis: r });
    const url = await dashboard.listen(0);
    cleanup.push(
      () => client.close(),
      () => dashboard.close(),
    );
    // two ids in each partition, so each primary
    const ids = () => Array.from({ length: 6 }, (_, i) => newTaskIdIn(i % 3, 3));
    const queued = ids();
    for (const id of queued) await client.submit('nobody-serves-this', null, { id });
    expect(new Set((await walk(url, 'queued', 2)).ids)).toEqual(new Set(queued));
    const worker = new Worker({ port: 0, redis: r, concurrency: 8 });
    worker.addTaskFunction('hold', (t) => new Promise((_, reject) => t.signal.addEventListener('abort', () => reject(new Error('stopped')))));
    worker.addTaskFunction('quick', async (t) => t.data);
    await worker.start();
    cleanup.push(() => worker.stop());
    const running = ids();
    const delayed = ids();
    const ended = ids();
    for (const id of running) await client.submit('hold', null, { id });
    for (const id of delayed) await client.submit('quick', null, { id, delay: 600_000 });
    for (const id of ended) await client.submit('quick', 1, { id });
    for (const id of ended) await client.wait(id, { timeout: 10_000 });
    await until(async () => (await Promise.all(running.map((id) => client.get(id)))).every((t) => t?.state === 'RUNNING'), 'the held tasks running', 10_000);
    for (const [list, want] of [
      ['running', running],
      ['delayed', delayed],
      ['ended', ended],
    ] as const) {
      const { ids: seen, pages } = await walk(url, list, 4);
      expect(seen.length, list).toBe(want.length);
      expect(new Set(seen), list).toEqual(new Set(want));
      expect(pages.every((p) => p.total === want.length)).toBe(true);
    }
    const overview = (await json(`${url}api/overview`)) as { workers: { tasks: string[] }[] };
    expect(new Set(overview.workers[0]!.tasks)).toEqual(new Set(running));
    for (const id of running) await client.control(id, 'stop');
    for (const id of running) await client.wait(id, { timeout: 5000 });
  }, 90_000);
});
