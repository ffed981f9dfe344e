/**
 * Schedules (issue 8) on a real Redis with real monitors: each tick fires once whatever the
 * number of monitors, and goes on once per tick after the monitor that fired is SIGKILLed;
 * ticks missed while no monitor ran fire once, for the latest; overlap 'skip' skips a tick while
 * the previous task is queued or running, 'allow' does not; unschedule stops it; setting the
 * same schedule again changes nothing; a hand-edited definition is dropped, not fired in a loop.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Monitor, type FiringResult } from '../src/index.js';
import { scheduleTaskId } from '../src/schedule.js';
import { spawnMonitor, spawnWorker } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';
import type { Keys } from '../src/keys.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const silent = { debug() {}, info() {}, warn() {}, error() {} };

function client(o: { keyPrefix: string }): { c: Client; keys: Keys } {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return { c, keys: keysFor(o.keyPrefix) };
}

/** An in-process monitor that records every firing it made. */
async function monitor(o: object, extra: object = {}): Promise<{ m: Monitor; firings: FiringResult['firings'] }> {
  const m = new Monitor({ redis: o, taskTimeout: 5000, checkTaskInterval: 250, logger: silent, ...extra });
  const firings: FiringResult['firings'] = [];
  m.on('schedules', (r: FiringResult) => firings.push(...r.firings));
  await m.start();
  cleanup.push(() => m.stop());
  return { m, firings };
}

/** the ids of the tasks queued on `new-task` (the seed's kind: no group, no priority), oldest first */
async function queuedIds(keys: Keys): Promise<string[]> {
  return (await redis.lrange(keys.newQueue, 0, -1)).reverse().map((raw) => (JSON.parse(raw) as { id: string }).id);
}

const of = (ids: string[], name: string) => ids.filter((id) => id.startsWith(`schedule:${name}@`));
const tickOf = (id: string) => Date.parse(id.slice(id.indexOf('@') + 1));

describe('schedules', () => {
  it('an every schedule fires once per tick with three monitors, and keeps doing so after the monitor that fired is SIGKILLed', async () => {
    const o = server.options();
    const { c, keys } = client(o);
    // a new schedule is seen within checkTaskInterval: short, so that its first tick is on time
    const ms = await Promise.all([0, 1, 2].map(() => spawnMonitor({ redis: o, taskTimeout: 5000, checkTaskInterval: 250 })));
    for (const m of ms) cleanup.push(() => m.kill());
    const every = 400;
    const { next } = await c.schedule('poll', { every }, 'poll', { n: 1 });
    const first = next!;
    const lines = () => ms.flatMap((m) => m.lines.filter((l) => l.startsWith('SCHEDULE ')));
    const fired = () => lines().filter((l) => l.startsWith('SCHEDULE fired '));

    await until(() => fired().length >= 4, 'four firings', 10_000);
    const last = fired().at(-1)!;
    const firing = ms.find((m) => m.lines.includes(last))!;
    await firing.kill('SIGKILL');
    const before = fired().length;
    await until(() => fired().length >= before + 4, 'four firings after the SIGKILL', 10_000);
    const after = ms.filter((m) => m !== firing).flatMap((m) => m.lines.filter((l) => l.startsWith('SCHEDULE fired ')));
    expect(after.length).toBeGreaterThanOrEqual(4);

    // every firing was one task, each tick once, by exactly one of the monitors
    const ticks = fired().map((l) => Number(l.split(' ')[2]));
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(lines().filter((l) => !l.startsWith('SCHEDULE fired '))).toEqual([]);
    const ids = of(await queuedIds(keys), 'poll');
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(fired().map((l) => l.split(' ')[3]).sort());
    // on the grid from the first tick, in order; a tick is missed only when every monitor woke
    // over a period late (a loaded machine), and then the latest fires
    const sorted = ids.map(tickOf).sort((a, b) => a - b);
    expect(sorted[0]).toBe(first);
    const gaps = sorted.slice(1).map((t, i) => t - sorted[i]!);
    for (const g of gaps) expect(g % every).toBe(0);
    expect(gaps.filter((g) => g !== every).length).toBeLessThanOrEqual(1);
    // what schedules() says
    const [s] = await c.schedules();
    expect(s).toMatchObject({ name: 'poll', spec: { every }, fn: 'poll', data: { n: 1 }, overlap: 'allow', skipped: 0 });
    expect(s!.lastId).toBe(scheduleTaskId('poll', s!.last!));
    expect(s!.next! - s!.last!).toBe(every);
  }, 30_000);

  it('a cron schedule in a time zone fires at its ticks (every second, whole seconds)', async () => {
    const o = server.options();
    const { c, keys } = client(o);
    const { firings } = await monitor(o);
    const { next } = await c.schedule('sec', { cron: '* * * * * *', tz: 'Asia/Kolkata' }, 'tick');
    expect(next! % 1000).toBe(0);
    await until(() => firings.length >= 3, 'three firings', 8000);
    const ticks = firings.map((f) => f.tick);
    for (const t of ticks) expect(t % 1000).toBe(0);
    expect(ticks[0]).toBe(next);
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(of(await queuedIds(keys), 'sec').map(tickOf)).toEqual(ticks);
  }, 15_000);

  it('ticks missed while no monitor ran fire once, for the latest, then one per tick', async () => {
    const o = server.options();
    const { c, keys } = client(o);
    const every = 200;
    const { next } = await c.schedule('m', { every }, 'job');
    await sleep(6 * every + 100); // five or six ticks missed
    const { firings } = await monitor(o);
    await until(() => firings.length >= 1, 'the first firing', 5000);
    const ids = of(await queuedIds(keys), 'm');
    // the first firing is one task, for the latest tick: later than five missed ones
    expect(ids.length).toBeLessThanOrEqual(2);
    const firstTick = firings[0]!.tick;
    expect(firstTick).toBeGreaterThanOrEqual(next! + 5 * every);
    expect((firstTick - next!) % every).toBe(0);
    expect(ids[0]).toBe(scheduleTaskId('m', firstTick));
    await until(() => firings.length >= 4, 'three more firings', 5000);
    const later = of(await queuedIds(keys), 'm').map(tickOf);
    expect(later.slice(1, 4)).toEqual([firstTick + every, firstTick + 2 * every, firstTick + 3 * every]);
  }, 15_000);

  it("overlap 'skip' skips ticks while the previous task is queued or running; 'allow' queues one per tick", async () => {
    const o = server.options();
    const { c, keys } = client(o);
    await c.schedule('allow', { every: 200 }, 'echo', { a: 1 }, { overlap: 'allow' });
    await c.schedule('skip', { every: 200 }, 'echo', { s: 1 }, { overlap: 'skip' });
    const { firings } = await monitor(o);
    await until(() => firings.filter((f) => f.name === 'skip' && f.outcome === 'skipped').length >= 3, 'three skipped ticks', 8000);
    const ids = await queuedIds(keys);
    expect(of(ids, 'allow').length).toBeGreaterThanOrEqual(4);
    const skipIds = of(ids, 'skip');
    expect(skipIds).toHaveLength(1);
    const s = (await c.schedules()).find((x) => x.name === 'skip')!;
    expect(s.lastId).toBe(skipIds[0]);
    expect(s.last).toBe(tickOf(skipIds[0]!));
    expect(s.skipped).toBeGreaterThanOrEqual(3);
    // every skipped firing names the task still waiting
    for (const f of firings.filter((x) => x.outcome === 'skipped')) expect(f.id).toBe(skipIds[0]);

    // a worker runs it: once it has ended, the next tick fires again
    const w = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 200 }, [], ['echo']);
    cleanup.push(() => w.kill());
    await w.waitFor(new RegExp(`^STARTED ${skipIds[0]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `), 8000);
    const next = await until(async () => {
      const x = (await c.schedules()).find((y) => y.name === 'skip')!;
      return x.lastId !== skipIds[0] ? x : null;
    }, 'a new firing of the skip schedule', 8000);
    expect(next.last!).toBeGreaterThan(s.last!);
  }, 25_000);

  it('unschedule stops it; schedules() no longer lists it', async () => {
    const o = server.options();
    const { c, keys } = client(o);
    const { firings } = await monitor(o);
    await c.schedule('u', { every: 150 }, 'job');
    await until(() => firings.length >= 2, 'two firings', 5000);
    expect(await c.unschedule('u')).toBe(true);
    const n = of(await queuedIds(keys), 'u').length;
    const f = firings.length;
    await sleep(800);
    expect(of(await queuedIds(keys), 'u').length).toBe(n);
    expect(firings.length).toBe(f);
    expect(await c.unschedule('u')).toBe(false);
    expect(await c.schedules()).toEqual([]);
    expect(await redis.exists(keys.schedules.defs, keys.schedules.due, keys.schedules.last)).toBe(0);
  }, 10_000);

  it('setting the same schedule again changes nothing; a changed one starts over from its first tick', async () => {
    const o = server.options();
    const { c } = client(o);
    const a = await c.schedule('s', { every: 60_000 }, 'job', { x: 1 }, { priority: 3 });
    expect(a.changed).toBe(true);
    await sleep(20);
    const b = await c.schedule('s', { every: 60_000 }, 'job', { x: 1 }, { priority: 3 });
    expect(b).toEqual({ changed: false, next: a.next });
    const d = await c.schedule('s', { every: 60_000 }, 'job', { x: 2 }, { priority: 3 });
    expect(d.changed).toBe(true);
    expect(d.next!).toBeGreaterThan(a.next!);
    const [info] = await c.schedules();
    expect(info).toMatchObject({ name: 's', data: { x: 2 }, options: { priority: 3 }, next: d.next, last: null, lastId: null });
  });

  it('two clients setting the same name at once: each is told the next tick of the schedule it set, not of the other', async () => {
    const o = server.options();
    const { c: c1 } = client(o);
    const { c: c2 } = client(o);
    await c1.schedule('warm', { every: 60_000 }, 'job');
    // c2's set lands right after c1's script, before c1 has read what to answer: sent as c1's
    // next command would go out (after the script's reply), and that command held until it is done
    const conn = (c1 as unknown as { redis: Redis }).redis;
    const send = conn.sendCommand.bind(conn);
    let seen = false;
    let other: Promise<{ next: number | null }> | undefined;
    conn.sendCommand = ((cmd: { name: string }, ...rest: unknown[]) => {
      if (cmd.name.toLowerCase() === 'fcall') seen = true;
      else if (seen && other === undefined) {
        other = c2.schedule('race', { every: 3_600_000 }, 'other');
        return other.then(() => send(cmd as never, ...(rest as [])));
      }
      return send(cmd as never, ...(rest as []));
    }) as typeof conn.sendCommand;
    const mine = await c1.schedule('race', { every: 60_000 }, 'job');
    conn.sendCommand = send;
    const theirs = await (other ?? c2.schedule('race', { every: 3_600_000 }, 'other'));
    expect(mine.changed).toBe(true);
    const [info] = (await c1.schedules()).filter((x) => x.name === 'race');
    // the last set stands (c2's)
    expect(info).toMatchObject({ fn: 'other', next: theirs.next });
    // c1 is told its own first tick: a minute away, not the hour of c2's schedule
    expect(mine.next).not.toBe(theirs.next);
    expect(mine.next! - (theirs.next! - 3_600_000)).toBeLessThan(60_000 + 5_000);
  });

  it("the same options in another order are the same schedule (an app's restart must not start an `every` over: restarted more often than it, it never fired)", async () => {
    const o = server.options();
    const { c } = client(o);
    const a = await c.schedule('o', { every: 60_000 }, 'job', { x: 1 }, { priority: 3, group: 'g', attempts: 2, overlap: 'skip' });
    await sleep(20);
    const b = await c.schedule('o', { every: 60_000 }, 'job', { x: 1 }, { overlap: 'skip', attempts: 2, group: 'g', priority: 3 });
    expect(b).toEqual({ changed: false, next: a.next });
  });

  it('a backoff given with its fields in another order, or with its default jitter 0, is the same schedule', async () => {
    const o = server.options();
    const { c } = client(o);
    const a = await c.schedule('ob', { every: 60_000 }, 'job', null, { attempts: 3, backoff: { type: 'exponential', delay: 100, max: 5000 } });
    await sleep(20);
    const b = await c.schedule('ob', { every: 60_000 }, 'job', null, { attempts: 3, backoff: { max: 5000, delay: 100, type: 'exponential' } });
    expect(b).toEqual({ changed: false, next: a.next });
    const d = await c.schedule('ob', { every: 60_000 }, 'job', null, { attempts: 3, backoff: { delay: 100, jitter: 0, type: 'exponential', max: 5000 } });
    expect(d).toEqual({ changed: false, next: a.next });
    // (a backoff that differs is a change)
    const e = await c.schedule('ob', { every: 60_000 }, 'job', null, { attempts: 3, backoff: { type: 'exponential', delay: 200, max: 5000 } });
    expect(e.changed).toBe(true);
  });

  it('a task with a group or a priority is placed in its function queue at its tick, as submit places it', async () => {
    const o = server.options();
    const { c, keys } = client(o);
    const { firings } = await monitor(o);
    await c.schedule('g', { every: 150 }, 'job', { y: 1 }, { group: 'tenant-1', priority: 5, attempts: 3 });
    await until(() => firings.length >= 1, 'a firing', 5000);
    const id = firings[0]!.id;
    const t = await c.get(id);
    expect(t).toMatchObject({ state: 'QUEUED', function: 'job', group: 'tenant-1', priority: 5, data: { y: 1 } });
    expect(JSON.parse(t!.raw!)).toMatchObject({ id, attempts: 3 });
    expect(await redis.llen(keys.newQueue)).toBeLessThanOrEqual(1); // a wake marker at most
  }, 10_000);

  it('a definition stored by an earlier version with a backoff capped below its delay still fires, with the waits it always had (every wait the cap)', async () => {
    const o = server.options();
    const { c, keys } = client(o);
    // (what schedule() stored before such a backoff was refused: its JSON as checkSchedule wrote it)
    const def = { spec: { every: 60_000 }, fn: 'job', data: null, options: { attempts: 3, backoff: { type: 'exponential' as const, delay: 5000, max: 1000 } }, overlap: 'allow' };
    await redis.hset(keys.schedules.defs, 'old', JSON.stringify(def));
    await redis.zadd(keys.schedules.due, 1, 'old');
    await expect(c.schedule('new', { every: 60_000 }, 'job', null, def.options)).rejects.toThrow(/backoff.max \(1000 ms\) is below its delay \(5000 ms\)/);
    const { firings } = await monitor(o, { checkTaskInterval: 100 });
    await until(() => firings.length >= 1, 'the old schedule handled', 5000);
    expect(firings[0]).toMatchObject({ name: 'old', outcome: 'fired' });
    // (queued as its entry on the new-task list: no group or priority to place it by)
    const entries = (await redis.lrange(keys.newQueue, 0, -1)).map((e) => JSON.parse(e) as { id?: string });
    expect(entries.find((e) => e.id === firings[0]!.id)).toMatchObject({ attempts: 3, backoff: { type: 'exponential', delay: 1000, max: 1000 } });
    const [s] = await c.schedules();
    expect(s).toMatchObject({ name: 'old' });
    expect(s!.invalid).toBeUndefined();
  }, 10_000);

  it('a hand-edited definition is not fired: its due time is dropped once, schedules() shows it invalid', async () => {
    const o = server.options();
    const { c, keys } = client(o);
    await redis.hset(keys.schedules.defs, 'junk', '{"spec":{"cron":"nope"},"fn":"x"}');
    await redis.zadd(keys.schedules.due, 1, 'junk');
    const { firings } = await monitor(o, { checkTaskInterval: 100 });
    await until(() => firings.length >= 1, 'the junk handled', 5000);
    await sleep(400);
    expect(firings).toEqual([expect.objectContaining({ name: 'junk', outcome: 'dropped' })]);
    expect(await redis.zscore(keys.schedules.due, 'junk')).toBeNull();
    const [s] = await c.schedules();
    expect(s).toMatchObject({ name: 'junk', next: null });
    expect(s!.invalid).toMatch(/cron "nope" does not parse/);
    expect(await redis.llen(keys.newQueue)).toBe(0);
  }, 10_000);
});
