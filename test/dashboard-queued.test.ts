/**
 * The dashboard's `queued` list shows every QUEUED task wherever it waits: in the queued set
 * (submitted, no claim has routed it yet) or in its function's queue (placed at once with a
 * group or a priority, routed there by a claim while a limit or a pause holds its function,
 * its group set aside in the blocked zset by a group limit). Paging with any limit visits each
 * once, in one partition and across several, also as the dashboard ACL user; `total` is what
 * `stats()` counts as queued.
 */
import { describe, expect, it } from 'vitest';
import { Client, createDashboard, Worker } from '../src/index.js';
import { newTaskIdIn, partitionKeys, partitionOf } from '../src/partitions.js';
import { resolveRedisConfig } from '../src/config.js';
import { aclRule, ACL_USERS } from '../src/acl.js';
import { redisPerFile } from './helpers/suite.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import type { Redis } from 'ioredis';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

interface Page {
  total: number;
  rows: { id: string; state: string; function?: string }[];
  next: string | null;
}

const json = async (url: string) => (await fetch(url)).json() as Promise<Record<string, unknown>>;

/** every row of `queued`, page by page of `limit` */
async function walk(url: string, limit: number): Promise<{ rows: Page['rows']; pages: Page[] }> {
  const rows: Page['rows'] = [];
  const pages: Page[] = [];
  let from: string | null = '0';
  while (from !== null) {
    const page = (await json(`${url}api/tasks?list=queued&from=${encodeURIComponent(from)}&limit=${limit}`)) as unknown as Page;
    expect(page.rows, JSON.stringify(page)).toBeDefined();
    pages.push(page);
    rows.push(...page.rows);
    from = page.next;
    expect(pages.length).toBeLessThan(500);
  }
  return { rows, pages };
}

/** every task queued, in the queue's words: unrouted entries plus the functions' queued tasks */
async function queuedInStats(client: Client): Promise<number> {
  const s = await client.stats();
  return s.queued + Object.values(s.functions).reduce((a, f) => a + f.queued, 0);
}

/** each id once, whatever the page size; every page's total the number of tasks queued */
async function expectEachOnce(url: string, want: string[], limits: number[]): Promise<void> {
  for (const limit of limits) {
    const { rows, pages } = await walk(url, limit);
    const ids = rows.map((r) => r.id);
    expect(ids.length, `queued by ${limit}`).toBe(want.length);
    expect(new Set(ids), `queued by ${limit}`).toEqual(new Set(want));
    expect(pages.map((p) => p.total), `totals by ${limit}`).toEqual(pages.map(() => want.length));
    expect(rows.every((r) => r.state === 'QUEUED')).toBe(true);
    // no page empty but the last (a set's SSCAN step may give more than asked: a small set whole)
    expect(pages.slice(0, -1).every((p) => p.rows.length > 0)).toBe(true);
  }
}

const hold = (t: { signal: AbortSignal }) => new Promise((_, reject) => t.signal.addEventListener('abort', () => reject(new Error('stopped'))));

describe('the queued list', () => {
  it('shows tasks in the queued set and in functions queues (groups, priorities, a limit, a pause, a blocked group), each once page by page', async () => {
    const prefix = 'dq1:';
    const r = server.options({ keyPrefix: prefix });
    const [keys] = partitionKeys(resolveRedisConfig(r)) as [ReturnType<typeof partitionKeys>[number]];
    const dashboard = createDashboard({ redis: r });
    const url = await dashboard.listen(0);
    const client = new Client({ redis: r });
    cleanup.push(
      () => client.close(),
      () => dashboard.close(),
    );

    // no worker yet: plain tasks wait in the queued set, tasks with a group or a priority are placed at once
    const plain = await client.submitMany(Array.from({ length: 7 }, (_, i) => ({ fn: 'nobody-serves-this', data: i })));
    const grouped = await client.submitMany(Array.from({ length: 9 }, (_, i) => ({ fn: 'tenanted', data: i, options: { group: `tenant-${i % 4}` } })));
    const urgent = await client.submitMany(Array.from({ length: 3 }, (_, i) => ({ fn: 'urgent', data: i, options: { priority: 5 - i } })));
    expect(await redis.scard(keys.queued)).toBe(plain.length);
    expect(await redis.zcard(keys.functionQueue('tenanted', 'groups'))).toBe(4);
    expect(await redis.zcard(keys.groupQueue('urgent', ''))).toBe(3);
    const first = [...plain, ...grouped, ...urgent];
    expect(await queuedInStats(client)).toBe(first.length);
    await expectEachOnce(url, first, [1, 2, 3, 5, 8, 500]);
    // the rows carry their hash's function: the placed ones have one, the unrouted none yet
    const rows = (await walk(url, 500)).rows;
    for (const id of grouped) expect(rows.find((x) => x.id === id)).toMatchObject({ state: 'QUEUED', function: 'tenanted' });
    for (const id of urgent) expect(rows.find((x) => x.id === id)).toMatchObject({ state: 'QUEUED', function: 'urgent' });
    for (const id of plain) expect(rows.find((x) => x.id === id)?.function).toBeUndefined();
    // the set first (bare SSCAN cursors, as ever), then the functions by name, each in the order it is taken
    const { rows: walked, pages } = await walk(url, 1);
    const kind = (id: string) => (plain.includes(id) ? 0 : grouped.includes(id) ? 1 : 2);
    expect(walked.map((x) => kind(x.id))).toEqual(walked.map((x) => kind(x.id)).sort());
    expect(walked.filter((x) => urgent.includes(x.id)).map((x) => x.id)).toEqual(urgent);
    const cursors = pages.map((p) => p.next).filter((n) => n !== null);
    expect(cursors.every((n) => /^\d+$/.test(n) || n.startsWith('0:f:'))).toBe(true);

    // a worker whose claims route plain tasks into their functions' queues: one function at its
    // concurrency limit, one paused, one whose group a limit sets aside
    await client.setLimit({ function: 'capped' }, { concurrency: 1 });
    await client.setLimit({ group: 'held' }, { concurrency: 1 });
    await client.pause('paused-fn');
    const worker = new Worker({ port: 0, redis: r, concurrency: 8 });
    worker.addTaskFunction('capped', hold);
    worker.addTaskFunction('paused-fn', hold);
    worker.addTaskFunction('limited-group', hold);
    await worker.start();
    cleanup.push(() => worker.stop());
    const capped = await client.submitMany(Array.from({ length: 5 }, (_, i) => ({ fn: 'capped', data: i })));
    const paused = await client.submitMany(Array.from({ length: 4 }, (_, i) => ({ fn: 'paused-fn', data: i })));
    const held = [];
    for (let i = 0; i < 4; i++) held.push(await client.submit('limited-group', i, { group: 'held' }));
    // one of each limited kind runs; the rest is routed (nothing left unrouted on the ingress)
    await until(async () => (await client.stats()).queued === 0 && (await client.stats()).functions.capped?.running === 1 && (await client.stats()).functions['limited-group']?.running === 1, 'routed, one capped and one held task running', 10_000);
    // a further claim sets the held group aside in the blocked zset
    await client.submit('capped', 'wake');
    await until(async () => (await redis.zcard(keys.functionQueue('limited-group', 'blocked'))) === 1, 'the held group blocked', 10_000);
    const running = new Set<string>();
    const all = [...first, ...capped, ...paused, ...held];
    for (const id of all) if ((await client.get(id))?.state === 'RUNNING') running.add(id);
    expect(running.size).toBe(2);
    const extra = (await walk(url, 500)).rows.map((x) => x.id).filter((id) => !all.includes(id));
    expect(extra).toHaveLength(1);
    const want = [...all.filter((id) => !running.has(id)), ...extra];
    expect(await redis.scard(keys.queued)).toBe(0);
    expect(await queuedInStats(client)).toBe(want.length);
    await expectEachOnce(url, want, [1, 2, 3, 7, 500]);
    const byFn = (await walk(url, 500)).rows;
    for (const id of paused) expect(byFn.find((x) => x.id === id)).toMatchObject({ state: 'QUEUED', function: 'paused-fn' });
    for (const id of held.filter((x) => !running.has(x))) expect(byFn.find((x) => x.id === id)).toMatchObject({ state: 'QUEUED', function: 'limited-group' });

    // a cursor of a function whose tasks all left goes on with the next function
    const tenantCursor = (await walk(url, 1)).pages.map((p) => p.next).find((n) => n?.includes(Buffer.from('tenanted').toString('base64url')));
    expect(tenantCursor).toBeDefined();
    for (const id of grouped) await client.cancel(id);
    const after = (await json(`${url}api/tasks?list=queued&from=${encodeURIComponent(tenantCursor!)}&limit=500`)) as unknown as Page;
    expect(after.rows.some((x) => grouped.includes(x.id))).toBe(false);
    // (the functions by name: after tenanted, urgent)
    expect(after).toMatchObject({ next: null, total: want.length - grouped.length });
    expect(new Set(after.rows.map((x) => x.id))).toEqual(new Set(urgent));

    // (nothing starts again, and the held tasks stop, for a quick worker stop)
    await client.pause();
    for (const id of running) await client.control(id, 'stop');
    for (const id of running) await client.wait(id, { timeout: 5000 });
  }, 60_000);

  it('reads the functions queues as the dashboard ACL user, with exactly its rules', async () => {
    const r = server.options({ keyPrefix: 'dq4:' });
    await redis.call('ACL', 'SETUSER', ACL_USERS.dashboard, ...aclRule('dashboard', resolveRedisConfig(r)).split(' '), '>dash-pw');
    const client = new Client({ redis: r });
    cleanup.push(() => client.close());
    const want = [
      ...(await client.submitMany(Array.from({ length: 3 }, (_, i) => ({ fn: 'nobody-serves-this', data: i })))),
      ...(await client.submitMany(Array.from({ length: 4 }, (_, i) => ({ fn: 'tenanted', data: i, options: { group: `t${i % 2}` } })))),
      ...(await client.submitMany(Array.from({ length: 2 }, (_, i) => ({ fn: 'urgent', data: i, options: { priority: 3 } })))),
    ];
    const dashboard = createDashboard({ redis: { ...r, username: ACL_USERS.dashboard, password: 'dash-pw' } });
    const url = await dashboard.listen(0);
    cleanup.push(() => dashboard.close());
    await expectEachOnce(url, want, [1, 2, 500]);
  });

  it('reads a page of a few commands however many tasks and groups wait: 50 000 in one group, 20 000 groups of one', async () => {
    const r = server.options({ keyPrefix: 'dq5:' });
    const [keys] = partitionKeys(resolveRedisConfig(r)) as [ReturnType<typeof partitionKeys>[number]];
    // the function queues as the scripts keep them (lib/queue.lua), written in bulk
    const seq = (i: number) => String(i).padStart(14, '0');
    for (let i = 0; i < 50_000; i += 10_000) {
      const args: (string | number)[] = [];
      for (let j = i; j < i + 10_000; j++) args.push(j, `${seq(j)}:big-${j}`);
      await redis.zadd(keys.groupQueue('big', 'whale'), ...args);
    }
    const groups: (string | number)[] = [1, 'whale'];
    const pipe = redis.pipeline();
    for (let j = 0; j < 20_000; j++) {
      groups.push(j + 2, `g${j}`);
      pipe.zadd(keys.groupQueue('many', `g${j}`), j, `${seq(j)}:many-${j}`);
    }
    await pipe.exec();
    await redis.zadd(keys.functionQueue('big', 'groups'), 1, 'whale');
    await redis.zadd(keys.functionQueue('many', 'groups'), ...groups.slice(2));
    await redis.hset(keys.counts, 'q:big', 50_000, 'q:many', 20_000);
    const dashboard = createDashboard({ redis: r });
    cleanup.push(() => dashboard.close());
    const url = await dashboard.listen(0);
    const commands = async () => {
      const info = (await redis.info('commandstats')).split('\n');
      return info.reduce((a, l) => a + Number(/calls=(\d+)/.exec(l)?.[1] ?? 0), 0);
    };
    const pageOf = async (from: string, limit: number) => {
      await redis.config('RESETSTAT');
      const page = (await json(`${url}api/tasks?list=queued&from=${encodeURIComponent(from)}&limit=${limit}`)) as unknown as Page;
      // (the INFO that reads the stats is one of them)
      return { page, calls: (await commands()) - 1 };
    };
    const a = await pageOf('0', 10);
    expect(a.page.total).toBe(70_000);
    expect(a.page.rows.map((x) => x.id)).toEqual(Array.from({ length: 10 }, (_, j) => `big-${j}`));
    expect(a.calls).toBeLessThan(30);
    // deep in the whale's group, then across into the many groups: still a few commands
    const deep = a.page.next!.replace(/:0:10:/, ':0:49995:');
    const b = await pageOf(deep, 10);
    expect(b.page.rows.map((x) => x.id)).toEqual([...Array.from({ length: 5 }, (_, j) => `big-${49_995 + j}`), ...Array.from({ length: 5 }, (_, j) => `many-${j}`)]);
    expect(b.calls).toBeLessThan(40);
    const c = await pageOf(b.page.next!, 100);
    expect(c.page.rows.map((x) => x.id)).toEqual(Array.from({ length: 100 }, (_, j) => `many-${5 + j}`));
    // (a group of one costs its ZCARD, its ZRANGE and its row's HMGET: O(limit), not O(tasks))
    expect(c.calls).toBeLessThan(3 * 100 + 20);
  });

  it('refuses a cursor it did not make', async () => {
    const r = server.options({ keyPrefix: 'dq2:' });
    const dashboard = createDashboard({ redis: r });
    const url = await dashboard.listen(0);
    cleanup.push(() => dashboard.close());
    for (const bad of ['abc', 'f:x:0:0:Zm4', '0:f:g:0:0:', '1:f:g:0:0:Zm4', '-1']) {
      const page = await fetch(`${url}api/tasks?list=queued&from=${encodeURIComponent(bad)}`);
      expect(page.status, bad).toBe(400);
      expect(((await page.json()) as { error: string }).error, bad).toMatch(/cursor|partition/);
    }
  });

  it('walks every partition, its set and its functions queues, each task once', async () => {
    const N = 3;
    const r = server.options({ keyPrefix: '{dq3}:', partitions: N });
    const parts = partitionKeys(resolveRedisConfig(r));
    const dashboard = createDashboard({ redis: r });
    const url = await dashboard.listen(0);
    const client = new Client({ redis: r });
    cleanup.push(
      () => client.close(),
      () => dashboard.close(),
    );
    // plain and urgent ones given ids in each partition; the grouped ones where their groups are
    const plain = await client.submitMany(Array.from({ length: 9 }, (_, i) => ({ fn: 'nobody-serves-this', data: i, options: { id: newTaskIdIn(i % N, N) } })));
    const grouped = await client.submitMany(Array.from({ length: 12 }, (_, i) => ({ fn: 'tenanted', data: i, options: { group: `tenant-${i % 6}` } })));
    const urgent = await client.submitMany(Array.from({ length: 6 }, (_, i) => ({ fn: 'urgent', data: i, options: { priority: i + 1, id: newTaskIdIn(i % N, N) } })));
    const first = [...plain, ...grouped, ...urgent];
    // spread over the partitions, each with both kinds of source
    expect(new Set(first.map((id) => partitionOf(id, N)))).toEqual(new Set([0, 1, 2]));
    for (const k of parts) expect([await redis.scard(k.queued), await redis.exists(k.functionQueue('urgent', 'groups'))]).toEqual([3, 1]);
    expect(await queuedInStats(client)).toBe(first.length);
    await expectEachOnce(url, first, [1, 2, 4, 500]);
    // partition by partition: the walk never goes back
    const order = (await walk(url, 2)).rows.map((x) => partitionOf(x.id, N));
    expect(order).toEqual([...order].sort());

    // a worker's claims route the plain tasks, and those of a capped function, in every partition
    await client.setLimit({ function: 'capped' }, { concurrency: 1 });
    const worker = new Worker({ port: 0, redis: r, concurrency: 4 });
    worker.addTaskFunction('capped', hold);
    await worker.start();
    cleanup.push(() => worker.stop());
    const capped = await client.submitMany(Array.from({ length: 9 }, (_, i) => ({ fn: 'capped', data: i })));
    // (each partition enforces the limit on its own tasks: one may run in each)
    await until(async () => (await client.stats()).queued === 0, 'everything routed', 10_000);
    for (const k of parts) expect(await redis.scard(k.queued)).toBe(0);
    const all = [...first, ...capped];
    const running = new Set<string>();
    for (const id of all) if ((await client.get(id))?.state === 'RUNNING') running.add(id);
    expect(running.size).toBeGreaterThan(0);
    const want = all.filter((id) => !running.has(id));
    expect(await queuedInStats(client)).toBe(want.length);
    await expectEachOnce(url, want, [1, 3, 500]);
    const again = (await walk(url, 2)).rows.map((x) => partitionOf(x.id, N));
    expect(again).toEqual([...again].sort());
    await client.pause();
    for (const id of running) await client.control(id, 'stop');
    for (const id of running) await client.wait(id, { timeout: 5000 });
  }, 60_000);
});
