/**
 * A claim makes its tasks RUNNING in Redis before its reply reaches the worker, and control
 * messages come on another connection: a `stop` sent as soon as a client saw RUNNING reached the
 * worker before it held the task, and was dropped (the task ran to its end). The worker keeps
 * such messages a short while and hands them to the task when it adopts the claim
 * (src/early-control.ts). The window is made wide here by a proxy that holds the claim's reply
 * while the control subscription flows.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker, type TaskFunction } from '../src/index.js';
import { partitionKeys, partitionOf } from '../src/partitions.js';
import { resolveRedisConfig } from '../src/config.js';
import { EARLY_CONTROL_CHARS, EARLY_CONTROL_MAX, EarlyControl } from '../src/early-control.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { startProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { abortableTask } from './helpers/abortable-task.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Setup {
  w: Worker;
  c: Client;
  admin: Redis;
  proxy: TcpProxy;
  channel: (id: string) => string;
}

/** a worker reaching Redis through a proxy; the client and `admin` reach it directly */
async function setup(
  options: { concurrency?: number; heartbeatInterval?: number; fetchTaskInterval?: number },
  fns: Record<string, TaskFunction>,
  redis: Record<string, unknown> = {},
): Promise<Setup> {
  const o = server.options(redis);
  const proxy = await startProxy(server.host, server.port);
  const w = new Worker({ port: 0, redis: { ...o, host: '127.0.0.1', port: proxy.port }, ...options });
  for (const [name, fn] of Object.entries(fns)) w.addTaskFunction(name, fn);
  const c = new Client({ redis: o });
  const admin = new Redis(server.port);
  cleanup.push(
    () => proxy.close(),
    async () => admin.disconnect(),
    () => c.close(),
    async () => {
      proxy.heal();
      await w.stop();
    },
  );
  await w.start();
  const parts = partitionKeys(resolveRedisConfig(o));
  await until(async () => Number(await admin.call('PUBSUB', 'NUMPAT')) >= parts.length, "the worker's control subscription");
  return { w, c, admin, proxy, channel: (id) => parts[partitionOf(id, parts.length)]!.control(id) };
}

/** the idle worker blocked on the queue (its wait's request, with its claim, has left) */
async function blocked(admin: Redis): Promise<void> {
  const isBlocked = (line: string) => / flags=\w*b/.test(line) && / cmd=blmove/.test(line);
  await until(async () => String(await admin.call('CLIENT', 'LIST', 'TYPE', 'normal')).split('\n').some(isBlocked), 'the worker blocked on the queue');
}

/** `message` published on `id`'s control channel, heard by the worker (its one subscriber) */
async function publish(s: Setup, id: string, message: string): Promise<void> {
  expect(await s.admin.publish(s.channel(id), message)).toBe(1);
}

describe('a control message heard before the worker holds its task', () => {
  it('a stop sent once the claim made the task RUNNING, before its reply reached the idle worker, stops it', async () => {
    const task = abortableTask(2000);
    const s = await setup({ fetchTaskInterval: 20_000 }, { slow: task.fn });
    await blocked(s.admin);
    // the wait's claim runs in Redis when the task arrives; its reply waits in the proxy
    expect(s.proxy.hold((hello) => hello.includes(':blocking'))).toBe(1);
    const id = await s.c.submit('slow');
    await until(async () => (await s.c.get(id))?.state === 'RUNNING', 'the claim run in Redis', 10_000, 2);
    await publish(s, id, 'stop');
    await sleep(300);
    expect(task.seen.ran).toBe(0); // not adopted yet: the stop came first
    s.proxy.heal();
    expect(await s.c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'stopped' });
    expect(task.seen).toEqual({ ran: 1, aborted: 1 });
  }, 30_000);

  it('custom events sent in that window to a busy worker, whose claim went out with the END of the task it ran, reach the task in order', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let runs = 0;
    const listening: TaskFunction = (t) =>
      new Promise((resolve) => {
        runs++;
        const heard: unknown[] = [];
        t.on('note', (p) => heard.push(p));
        setTimeout(() => resolve(heard), 1000);
      });
    // heartbeats every 2 s: a claim's reply may take 4 s before it fails, and the hold is shorter
    let gated = 0;
    const s = await setup({ concurrency: 1, heartbeatInterval: 2000 }, { gate: () => (gated++, gate), listening });
    const first = await s.c.submit('gate');
    // (its function called: RUNNING in Redis, its claim's reply may still be on its way, and the
    // hold below would keep it from the worker, the first task never run, nothing claimed after)
    await until(() => gated === 1, 'the first task running');
    const id = await s.c.submit('listening');
    // every connection but the subscriber's: the next claim goes out when the first task ends
    expect(s.proxy.hold((hello) => !hello.includes(':subscriber'))).toBeGreaterThan(0);
    release();
    await until(async () => (await s.c.get(id))?.state === 'RUNNING', 'the claim run in Redis', 10_000, 2);
    for (const note of ['a', 'b', 'c']) await publish(s, id, JSON.stringify({ event_name: 'note', event: note }));
    await sleep(300);
    expect(runs).toBe(0);
    s.proxy.heal();
    expect(await s.c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: ['a', 'b', 'c'] });
    expect(await s.c.wait(first, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded' });
  }, 30_000);

  it("a stop sent in that window for a retry claimed with its first attempt's END (same id, same worker, one script) stops the retry, not the ending attempt", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const task = abortableTask(2000);
    let attempts = 0;
    const flaky: TaskFunction = async (t) => {
      attempts++;
      if (t.attempt === 1) {
        await gate;
        throw new Error('first attempt fails');
      }
      return task.fn(t);
    };
    const s = await setup({ concurrency: 1, heartbeatInterval: 2000 }, { flaky });
    // (no backoff: the END's retry is due at once, and the claim that carries it takes it again)
    const id = await s.c.submit('flaky', null, { attempts: 2 });
    // (its function called, not only RUNNING in Redis: a claim's reply still on its way would be
    // held below, the first attempt never run, its END and the retry's claim never sent)
    await until(() => attempts === 1, 'the first attempt running');
    expect(s.proxy.hold((hello) => !hello.includes(':subscriber'))).toBeGreaterThan(0);
    release();
    await until(async () => (await s.c.get(id))?.attempt === 2 && (await s.c.get(id))?.state === 'RUNNING', 'the retry claimed in Redis', 10_000, 2);
    await publish(s, id, 'stop');
    await sleep(300);
    expect(task.seen.ran).toBe(0); // the retry not adopted yet: the stop came first
    s.proxy.heal();
    expect(await s.c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'stopped', attempt: 2 });
    expect(task.seen).toEqual({ ran: 1, aborted: 1 });
    expect(attempts).toBe(2);
  }, 30_000);

  it('a stop sent in that window to a worker of a swarm in partitions (it claims on its command connection once a wait wakes) stops the task', async () => {
    const task = abortableTask(2000);
    const s = await setup({ concurrency: 1, heartbeatInterval: 2000, fetchTaskInterval: 20_000 }, { slow: task.fn }, { keyPrefix: 'early:{parts}:', partitions: 2 });
    await blocked(s.admin);
    // The claim after the wait starts at the next partition in turn (the claim at start was
    // partition 0's) and, with one slot, ends with the first task: a task of partition 1 is
    // claimed by the first claim sent, whose reply is held (none before it waits on its own).
    const id = Array.from({ length: 100 }, (_, i) => `in-1-${i}`).find((x) => partitionOf(x, 2) === 1)!;
    // the command connection: heartbeats every 2 s may wait 4 s, and the hold is shorter
    expect(s.proxy.hold((hello) => hello.includes(':command'))).toBe(1);
    await s.c.submit('slow', undefined, { id });
    await until(async () => (await s.c.get(id))?.state === 'RUNNING', 'the claim run in Redis', 10_000, 2);
    await publish(s, id, 'stop');
    await sleep(300);
    expect(task.seen.ran).toBe(0);
    s.proxy.heal();
    expect(await s.c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'stopped' });
    expect(task.seen).toEqual({ ran: 1, aborted: 1 });
  }, 30_000);

  it('is not handed to a claim whose request left after it: a stop for a queued task is not carried over', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const task = abortableTask(300);
    const s = await setup({ concurrency: 1 }, { gate: () => gate, slow: task.fn });
    const first = await s.c.submit('gate');
    await until(async () => (await s.c.get(first))?.state === 'RUNNING', 'the first task running');
    const id = await s.c.submit('slow');
    await publish(s, id, 'stop'); // QUEUED: no one runs it
    await sleep(100);
    release(); // the next claim, which takes it, leaves now, well within the time a message is kept
    expect(await s.c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded' });
    expect(task.seen).toEqual({ ran: 1, aborted: 0 });
  }, 30_000);

  // An idle worker's wait left before the messages below: only the time bound and the cap keep
  // them from the task its claim takes. heartbeatInterval 300: messages are kept 1 s.
  it('is kept a bounded time: a task adopted within it gets the stop, one adopted after it does not', async () => {
    const task = abortableTask(300);
    const s = await setup({ heartbeatInterval: 300, fetchTaskInterval: 20_000 }, { slow: task.fn });
    await blocked(s.admin);
    await publish(s, 'soon', 'stop');
    await s.c.submit('slow', undefined, { id: 'soon' });
    expect(await s.c.wait('soon', { timeout: 10_000 })).toMatchObject({ outcome: 'stopped' });

    await blocked(s.admin);
    await publish(s, 'late', 'stop');
    await sleep(1500);
    await s.c.submit('slow', undefined, { id: 'late' });
    expect(await s.c.wait('late', { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded' });
    expect(task.seen).toEqual({ ran: 2, aborted: 1 });
  }, 30_000);

  for (const [what, flood] of [
    [`${EARLY_CONTROL_MAX} messages`, Array.from({ length: EARLY_CONTROL_MAX }, () => 'stop')],
    [`${EARLY_CONTROL_CHARS} characters`, Array.from({ length: 5 }, () => JSON.stringify({ event_name: 'x', event: 'y'.repeat(EARLY_CONTROL_CHARS / 4) }))],
  ] as const) {
    it(`keeps a bounded amount: ${what} for other ids push out the oldest`, async () => {
      const task = abortableTask(300);
      const s = await setup({ heartbeatInterval: 2000, fetchTaskInterval: 20_000 }, { slow: task.fn });
      await blocked(s.admin);
      await publish(s, 'pushed-out', 'stop');
      const pipe = s.admin.pipeline();
      flood.forEach((m, i) => pipe.publish(s.channel(`foreign-${i}`), m));
      await pipe.exec();
      await sleep(200);
      await s.c.submit('slow', undefined, { id: 'pushed-out' });
      expect(await s.c.wait('pushed-out', { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded' });
      expect(task.seen).toEqual({ ran: 1, aborted: 0 });
    }, 30_000);
  }
});

describe('EarlyControl', () => {
  it('holds at most its count and characters, oldest out first; a task takes its own, in order, once', () => {
    const early = new EarlyControl(1000, 3, 100, () => 0);
    for (const [id, m] of [['a', '1'], ['b', '2'], ['a', '3'], ['a', '4']]) early.keep(0, id!, m!);
    expect(early.size).toBe(3); // `1` pushed out by the count
    expect(early.take(0, 'a', 0)).toEqual(['3', '4']);
    expect(early.take(0, 'a', 0)).toEqual([]);
    expect(early.take(1, 'b', 0)).toEqual([]); // another partition's id
    expect(early.size).toBe(1);
    for (let i = 0; i < 10_000; i++) early.keep(0, `x${i}`, '');
    expect(early.size).toBe(3);

    const chars = new EarlyControl(1000, 100, 10, () => 0);
    chars.keep(0, 'a', '12345');
    chars.keep(0, 'b', '123456');
    expect(chars.size).toBe(1); // `a` pushed out by the characters
    chars.keep(0, 'c', '12345678901'); // over the whole bound: not kept, nothing pushed out
    expect(chars.take(0, 'b', 0)).toEqual(['123456']);
    expect(chars.size).toBe(0);
  });

  it('counts a task id against its characters as well: a flood of short messages to long channel names is bounded too', () => {
    // (the id is a channel's name, as long as the publisher makes it: a megabyte each, a worker
    // kept all heard within its command timeout, hundreds of megabytes)
    const early = new EarlyControl(1000, 100, 1024, () => 0);
    for (let i = 0; i < 50; i++) early.keep(0, `${i}`.padEnd(400, 'x'), 'stop');
    expect(early.size).toBe(2);
    early.keep(0, 'y'.repeat(2000), 'stop'); // over the bound alone: not kept, nothing pushed out
    expect(early.size).toBe(2);
    expect(early.take(0, '49'.padEnd(400, 'x'), 0)).toEqual(['stop']);
  });

  it('hands a task what it heard since its claim left and within the time kept', () => {
    let now = 0;
    const early = new EarlyControl(1000, 100, 1000, () => now);
    early.keep(0, 'a', 'before');
    now = 10;
    early.keep(0, 'a', 'after');
    expect(early.take(0, 'a', 5)).toEqual(['after']);
    early.keep(0, 'b', 'old');
    now = 1500;
    expect(early.take(0, 'b', 0)).toEqual([]);
    early.keep(0, 'c', 'x'); // the expired ones go as new ones come
    expect(early.size).toBe(1);
  });
});
