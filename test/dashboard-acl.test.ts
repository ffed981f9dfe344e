/**
 * The dashboard as the `dashboard` ACL user (src/acl.ts), on a swarm of four partitions: with
 * exactly its rules it shows everything (overview, each task list, a task's detail and events)
 * and does every action it offers (stop, cancel, retry and purge a dead letter) with no
 * permission error; and it is refused what is not its job: claiming, requeueing, setting limits,
 * pausing, loading a library, FLUSHALL.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { aclRule, ACL_USERS } from '../src/acl.js';
import { resolveRedisConfig } from '../src/config.js';
import { claimArgs, claimKeys } from '../src/effects/queue.js';
import { Client, createDashboard, Worker } from '../src/index.js';
import { newTaskIdIn, partitionKeys } from '../src/partitions.js';
import { library } from '../src/scripts.js';
import { redisPerFile } from './helpers/suite.js';
import { until, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const N = 4;
const TOKEN = 'dashboard-acl-token-99';
// (each test its own swarm, under a prefix of its own: what one queues, the other's lists do
// not show, whichever runs first)
const PREFIX = { shows: '{dacl-shows}:', refused: '{dacl-refused}:', readOnly: '{dacl-read-only}:' };

describe('the dashboard ACL role', () => {
  it('shows every list, a task and its events, and stops, cancels, retries and purges, as its user with exactly its rules', async () => {
    const r = { port: server.port, keyPrefix: PREFIX.shows, partitions: N };
    await redis.call('ACL', 'SETUSER', ACL_USERS.dashboard, ...aclRule('dashboard', resolveRedisConfig(r)).split(' '), '>dash-pw');
    const client = new Client({ redis: r });
    cleanup.push(() => client.close());
    // queued while no worker runs (in the queued set: no claim has routed them yet)
    const queued = [newTaskIdIn(1, N), newTaskIdIn(2, N)];
    for (const id of queued) await client.submit('nobody-serves-this', null, { id });
    const dashboard = createDashboard({ redis: { ...r, username: ACL_USERS.dashboard, password: 'dash-pw' }, token: TOKEN });
    const url = await dashboard.listen(0);
    cleanup.push(() => dashboard.close());
    const get = async (path: string) => {
      const res = await fetch(url + path);
      const body = (await res.json()) as Record<string, unknown>;
      expect(res.status, `${path}: ${JSON.stringify(body)}`).toBe(200);
      return body;
    };
    const post = async (path: string, body: unknown = {}) => {
      const res = await fetch(url + path, { method: 'POST', headers: { 'x-task-swarm': '1', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });
      const out = (await res.json()) as Record<string, unknown>;
      expect(res.status, `${path}: ${JSON.stringify(out)}`).toBe(200);
      return out;
    };

    const first = (await get('api/tasks?list=queued&limit=10')) as { rows: { id: string }[] };
    expect(new Set(first.rows.map((x) => x.id))).toEqual(new Set(queued));
    const worker = new Worker({ port: 0, redis: r, maxPayloadBytes: 300 });
    worker.addTaskFunction('hold', (t) => new Promise((_, reject) => t.signal.addEventListener('abort', () => reject(new Error('stopped')))));
    worker.addTaskFunction('quick', async (t) => t.data);
    await worker.start();
    cleanup.push(() => worker.stop());

    const running = newTaskIdIn(3, N);
    const delayed = newTaskIdIn(2, N);
    const ended = newTaskIdIn(1, N);
    const big = newTaskIdIn(3, N);
    await client.submit('hold', null, { id: running });
    await client.submit('quick', null, { id: delayed, delay: 600_000 });
    await client.submit('quick', 1, { id: ended });
    await client.submit('quick', 'x'.repeat(400), { id: big });
    await client.wait(ended, { timeout: 10_000 });
    await until(async () => (await client.get(running))?.state === 'RUNNING', 'the held task running', 10_000);

    // everything it reads
    await until(async () => ((await get('api/overview')) as { dead: unknown[] }).dead.length === 1, 'the big task parked', 10_000);
    const overview = (await get('api/overview')) as { workers: { tasks: string[] }[]; dead: { key: string; id: string }[]; stats: { workers: number } };
    expect(overview.workers[0]!.tasks).toEqual([running]);
    expect(overview.dead[0]!.id).toBe(big);
    for (const [list, want] of [
      ['running', [running]],
      ['delayed', [delayed]],
      ['ended', [ended]],
    ] as const) {
      const page = (await get(`api/tasks?list=${list}&limit=10`)) as { rows: { id: string }[] };
      expect(new Set(page.rows.map((x) => x.id)), list).toEqual(new Set(want));
    }
    expect(await get('api/machines')).toHaveProperty('worker');
    expect(await get(`api/task/${running}`)).toMatchObject({ id: running, state: 'RUNNING' });

    // a running task's events as it is stopped
    const ac = new AbortController();
    cleanup.push(async () => ac.abort());
    const reader = (await fetch(`${url}api/task/${running}/stream`, { signal: ac.signal })).body!.getReader();
    let text = '';
    while (!text.includes(': open')) text += new TextDecoder().decode((await reader.read()).value);
    expect(await post(`api/task/${running}/control`, { message: 'stop' })).toEqual({ sent: true, result: 'stopping' });
    while (!/event: task\ndata: \{"event":"end"/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    expect((await client.wait(running, { timeout: 5000 })).outcome).toBe('stopped');
    // a stop of a task that ended sends nothing, and says so
    expect(await post(`api/task/${running}/control`, { message: 'stop' })).toEqual({ sent: false, result: 'ended' });

    // a cancel, a dead letter retried (too large again: parked again) and purged
    expect(await post(`api/task/${queued[0]}/cancel`)).toEqual({ result: 'cancelled' });
    expect(await post('api/dead/retry', { key: overview.dead[0]!.key })).toEqual({ done: true });
    await until(async () => ((await get('api/overview')) as { dead: { key: string }[] }).dead.some((l) => l.key !== overview.dead[0]!.key), 'parked again', 10_000);
    const again = ((await get('api/overview')) as { dead: { key: string }[] }).dead[0]!;
    expect(await post('api/dead/purge', { key: again.key })).toEqual({ done: true });
    expect(await client.get(big)).toBeNull();
  }, 60_000);

  it('is refused a claim, a requeue, a limit, a pause, a library and FLUSHALL', async () => {
    const r = { port: server.port, keyPrefix: PREFIX.refused, partitions: N };
    await redis.call('ACL', 'SETUSER', ACL_USERS.dashboard, ...aclRule('dashboard', resolveRedisConfig(r)).split(' '), '>dash-pw');
    // (the library loaded, as a worker or a monitor would)
    const client = new Client({ redis: r });
    cleanup.push(() => client.close());
    const id = newTaskIdIn(2, N);
    await client.submit('double', 1, { id });
    const keys = partitionKeys(resolveRedisConfig(r))[2]!;
    const before = await redis.lrange(keys.newQueue, 0, -1);
    expect(before).toHaveLength(1);
    const d = new Redis({ port: server.port, username: ACL_USERS.dashboard, password: 'dash-pw', maxRetriesPerRequest: 0 });
    d.on('error', () => {});
    cleanup.push(async () => d.disconnect());
    const request = { worker: '127.0.0.1:1', max: 1, maxPayloadBytes: 1000, functions: [{ name: 'double', room: 1 }], rotation: 0, token: '', acks: [] };
    const fns = library().functions;
    for (const refused of [
      // a claim declares the claimed set and the leases, which it may only read: refused before it starts
      () => d.fcall(fns.claim, 10, ...claimKeys(keys, request), ...claimArgs(keys, request)),
      () => d.fcall(fns.requeue, 13, keys.leases, keys.taskSet, keys.newQueue, keys.queued, ...keys.deadStore, keys.workerSeen, keys.grace, keys.outage, keys.workerSet, keys.workerFunctions, keys.taskKeyPrefix, 1000, 10, 5, 'm'),
      () => d.fcall(fns['set-limit'], 2, keys.limits, keys.running, 'f:double', '{"concurrency":1}'),
      () => d.sadd(keys.paused, '*'),
      () => d.zadd(keys.leases, 0, 'x'),
      () => d.hset(keys.workerFunctions, 'x', '[]'),
      () => d.call('BLMOVE', keys.newQueue, keys.newQueue, 'RIGHT', 'RIGHT', '0.01'),
      () => d.function('LOAD', '#!lua name=planted\nredis.register_function("planted", function() return 1 end)'),
      () => d.flushall(),
      () => d.keys('*'),
    ]) {
      await expect(refused()).rejects.toThrow(/NOPERM/);
    }
    // nothing taken
    expect(await redis.lrange(keys.newQueue, 0, -1)).toEqual(before);
    expect(await client.get(id)).toMatchObject({ state: 'QUEUED' });
  });

  it("answers an action its Redis user may not run 403, with Redis's refusal, and goes on serving", async () => {
    const r = { port: server.port, keyPrefix: PREFIX.readOnly };
    // (a user that reads, and runs no script: each action is one)
    await redis.call('ACL', 'SETUSER', 'dash-reader', 'on', '>reader-pw', '~*', '&*', '+@read', '+@transaction', '+@connection', '+info', '+client', '+select', '+subscribe', '+unsubscribe', '+psubscribe', '+punsubscribe', '+function|list');
    const client = new Client({ redis: r });
    cleanup.push(() => client.close());
    const id = await client.submit('nobody-serves-this', null);
    const dashboard = createDashboard({ redis: { ...r, username: 'dash-reader', password: 'reader-pw' }, token: TOKEN });
    const url = await dashboard.listen(0);
    cleanup.push(() => dashboard.close());
    const res = await fetch(`${url}api/task/${id}/cancel`, { method: 'POST', headers: { 'x-task-swarm': '1', authorization: `Bearer ${TOKEN}` }, body: '{}' });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: 'ERR_PERMISSION', error: expect.stringMatching(/^Redis refused: NOPERM/) });
    const shown = await fetch(`${url}api/task/${id}`);
    expect(shown.status).toBe(200);
    expect(await shown.json()).toMatchObject({ id, state: 'QUEUED' });
  });
});
