/**
 * Faults caused for real: Redis frozen, killed and restarted (with and without AOF), a node's
 * Redis link made silent through a proxy, a worker paused with SIGSTOP past its lease, monitors
 * killed. Workers are child processes; the assertions are on Redis and on what each process did.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Client, Monitor, type TaskEvent } from '../src/index.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { startProxy, type TcpProxy } from './helpers/tcp-proxy.js';

/** fast failure detection: heartbeats every 100 ms (a 1 s command timeout), quick pings */
const WORKER = { port: 0, heartbeatInterval: 100, pingTimeout: 1000, abortTimeout: 500, fetchWorkerInterval: 500 };
const MONITOR = { taskTimeout: 3000, checkTaskInterval: 1000, pingTimeout: 1000, fetchWorkerInterval: 500 };

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

const servers: RedisServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});
async function redisServer(opts: { appendonly?: boolean } = {}) {
  const s = await startRedis(opts);
  servers.push(s);
  return s;
}
async function worker(o: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const p = await spawnWorker({ ...WORKER, redis: o, ...extra });
  cleanup.push(() => p.kill('SIGKILL'));
  return p;
}
async function monitor(o: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const m = new Monitor({ ...MONITOR, redis: o, ...extra });
  cleanup.push(() => m.stop());
  await m.start();
  return m;
}
function client(o: Record<string, unknown>) {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return c;
}
/** the events of task `id` as they arrive, from subscribing on (a subscriber of its own) */
async function eventsOf(o: Record<string, unknown>, id: string) {
  const c = client(o);
  const got: TaskEvent[] = [];
  const off = c.subscribe(id, (ev) => got.push(ev));
  cleanup.push(off);
  await off.ready; // subscribed (a fixed pause could end before, under load)
  return got;
}
/** events a worker published after the task was requeued away from it */
const staleEvents = (events: TaskEvent[], address: string) =>
  events.slice(events.findIndex((e) => e.event === 'requeued') + 1).filter((e) => (e.data as { by?: string } | null)?.by === address);

/** how many times each task function started, over all worker processes */
function starts(procs: WorkerProcess[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of procs) for (const l of p.lines) if (l.startsWith('STARTED ')) m.set(l.split(' ')[1]!, (m.get(l.split(' ')[1]!) ?? 0) + 1);
  return m;
}

describe('Redis down for everyone (frozen with SIGSTOP, longer than taskTimeout)', () => {
  it('keeps tasks running, requeues nothing when Redis returns, and runs each task once', async () => {
    const server = await redisServer();
    const o = server.options();
    const a = await worker(o, { concurrency: 2 });
    const b = await worker(o, { concurrency: 2 });
    await monitor(o);
    const c = client(o);
    const ids = await Promise.all([1, 2, 3, 4].map(() => c.submit('sleep', { ms: 6000 })));
    await until(() => starts([a, b]).size === 4, 'four tasks running');

    server.freeze();
    // Both workers find Redis silent, reach each other (quorum) and keep their tasks.
    await a.waitFor(/^STATE "redisDown"$/, 8000);
    await b.waitFor(/^STATE "redisDown"$/, 8000);
    await new Promise((r) => setTimeout(r, 4000 - 1500)); // frozen for ~4 s in all: past taskTimeout
    server.thaw();

    const ended = await Promise.all(ids.map((id) => c.wait(id, { timeout: 20_000 })));
    expect(ended.map((t) => t.outcome)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(ended.map((t) => t.attempt)).toEqual([1, 1, 1, 1]);
    expect([...starts([a, b]).values()]).toEqual([1, 1, 1, 1]);
    expect([...a.lines, ...b.lines].filter((l) => l.startsWith('ABORTED'))).toEqual([]);
  });
});

describe('Redis killed and restarted', () => {
  it('with AOF: nothing is lost, queued or running, and nothing runs twice', async () => {
    const server = await redisServer({ appendonly: true });
    const o = server.options();
    const a = await worker(o, { concurrency: 2 });
    const b = await worker(o, { concurrency: 2 });
    await monitor(o);
    const c = client(o);
    const ids = await Promise.all(Array.from({ length: 8 }, () => c.submit('sleep', { ms: 1500 })));
    await until(() => starts([a, b]).size === 4, 'four running, four queued');

    await server.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 700));
    await server.start();

    const ended = await Promise.all(ids.map((id) => c.wait(id, { timeout: 20_000 })));
    expect(ended.every((t) => t.outcome === 'succeeded')).toBe(true);
    expect(starts([a, b]).size).toBe(8);
    expect([...starts([a, b]).values()].every((n) => n === 1)).toBe(true);
  });

  it('without persistence: a running task is re-asserted from the worker memory and ends in Redis', async () => {
    const server = await redisServer();
    const o = server.options();
    const a = await worker(o);
    const c = client(o);
    const id = await c.submit('sleep', { ms: 3000 });
    await a.waitFor(new RegExp(`^STARTED ${id} 1$`));

    await server.restart(); // SIGKILL + start: an empty Redis
    const h = await until(async () => {
      const t = await c.get(id);
      return t?.state === 'RUNNING' ? t : null;
    }, 're-asserted task hash');
    expect(h).toMatchObject({ worker: a.address, attempt: 1, data: { ms: 3000 } });
    const t = await c.wait(id, { timeout: 10_000 });
    expect(t).toMatchObject({ state: 'END', outcome: 'succeeded', worker: a.address });
    expect(starts([a]).get(id)).toBe(1);
  });
});

describe('one worker cut off from Redis but not from its peers (silent link, through a proxy)', () => {
  it('keeps running (quorum), the task also runs elsewhere, and only one END is written', async () => {
    const server = await redisServer();
    const o = server.options();
    const proxy: TcpProxy = await startProxy(server.host, server.port);
    cleanup.push(() => proxy.close());
    const a = await worker({ ...o, host: '127.0.0.1', port: proxy.port });
    const c = client(o);
    const id = await c.submit('sleep', { ms: 8000 });
    await a.waitFor(new RegExp(`^STARTED ${id} 1$`));
    const events = await eventsOf(o, id);
    const b = await worker(o);
    await monitor(o);

    proxy.partition();
    await a.waitFor(/^STATE "redisDown"$/, 8000); // it reached its peer: Redis looks down for everyone
    await b.waitFor(new RegExp(`^STARTED ${id} 2$`), 10_000); // the monitor requeued it elsewhere
    proxy.heal();
    await a.waitFor(new RegExp(`^ABORTED ${id}$`), 5000); // reconciling found the lease gone

    const t = await c.wait(id, { timeout: 15_000 });
    expect(t).toMatchObject({ outcome: 'succeeded', attempt: 2, worker: b.address, result: { by: b.address } });
    expect(t.history).toEqual([
      expect.objectContaining({ worker: a.address, attempt: 1, outcome: 'died' }),
      expect.objectContaining({ worker: b.address, attempt: 2, outcome: 'succeeded' }),
    ]);
    // the progress a emitted while cut off waited in its outbox; once back, it is refused by the
    // lease (fenced events), so b's task channel never carries the stale copy's voice
    expect(events.filter((e) => (e.data as { by?: string } | null)?.by === b.address).length).toBeGreaterThan(0);
    expect(staleEvents(events, a.address)).toEqual([]);
  });
});

describe('a worker paused (SIGSTOP) past taskTimeout, then resumed (SIGCONT)', () => {
  it('is fenced: its copy stops and its END is refused; the new owner is never overwritten', async () => {
    const server = await redisServer();
    const o = server.options();
    const a = await worker(o);
    const c = client(o);
    const id = await c.submit('sleep', { ms: 6000 });
    await a.waitFor(new RegExp(`^STARTED ${id} 1$`));
    const events = await eventsOf(o, id);
    const b = await worker(o);
    await monitor(o);

    a.proc.kill('SIGSTOP');
    await b.waitFor(new RegExp(`^STARTED ${id} 2$`), 10_000);
    a.proc.kill('SIGCONT');
    await a.waitFor(new RegExp(`^ABORTED ${id}$`), 5000);

    const t = await c.wait(id, { timeout: 15_000 });
    expect(t).toMatchObject({ outcome: 'succeeded', attempt: 2, worker: b.address, result: { by: b.address } });
    // resumed, a's overdue timers fire at once and its function emits progress before any
    // heartbeat can tell it the lease is gone: the events are fenced by the lease, refused
    expect(staleEvents(events, a.address)).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    expect((await c.get(id))!.worker).toBe(b.address);
  });
});

describe('monitors', () => {
  it('several at once never requeue a task twice', async () => {
    const server = await redisServer();
    const o = server.options();
    const a = await worker(o, { concurrency: 5 });
    const c = client(o);
    const ids = await Promise.all(Array.from({ length: 5 }, () => c.submit('sleep', { ms: 60_000 })));
    await until(() => starts([a]).size === 5, 'five running');
    const b = await worker(o, { concurrency: 5 });
    await Promise.all([monitor(o, { checkTaskInterval: 100 }), monitor(o, { checkTaskInterval: 100 }), monitor(o, { checkTaskInterval: 100 })]);
    await a.kill('SIGKILL');
    await until(() => ids.every((id) => b.lines.includes(`STARTED ${id} 2`)), 'all five running on b', 15_000);
    await new Promise((r) => setTimeout(r, 500));
    for (const id of ids) {
      const t = (await c.get(id))!;
      expect(t.history).toHaveLength(1);
      expect(t.attempt).toBe(2);
    }
    expect(starts([b]).size).toBe(5);
    expect([...starts([b]).values()].every((n) => n === 1)).toBe(true);
  });

  it("a monitor killed mid-run is replaced by another, which requeues the dead worker's task: it runs again", async () => {
    const server = await redisServer();
    const o = server.options();
    const { spawn } = await import('node:child_process');
    const m1 = spawn(process.execPath, ['--import', 'tsx', '-e', `
      const { Monitor } = await import(${JSON.stringify(new URL('../src/index.ts', import.meta.url).pathname)});
      await new Monitor(${JSON.stringify({ ...MONITOR, redis: o })}).start();
      console.log('MONITOR READY');`], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanup.push(() => m1.kill('SIGKILL'));
    await new Promise<void>((r) => m1.stdout!.on('data', (d: Buffer) => d.toString().includes('MONITOR READY') && r()));
    const a = await worker(o);
    const c = client(o);
    const id = await c.submit('sleep', { ms: 60_000 });
    await a.waitFor(new RegExp(`^STARTED ${id} 1$`));
    m1.kill('SIGKILL');
    await a.kill('SIGKILL');
    const b = await worker(o, { concurrency: 1 });
    await monitor(o);
    await b.waitFor(new RegExp(`^STARTED ${id} 2$`), 15_000);
  });
});

/**
 * A worker whose Redis link goes through a proxy the test controls, idle and blocked in Redis
 * on a long wait (so the wait in Redis when the test acts is still there), and a client.
 */
async function idleWorkerBehindProxy() {
  const server = await redisServer();
  const o = server.options();
  const proxy: TcpProxy = await startProxy(server.host, server.port);
  cleanup.push(() => proxy.close());
  const a = await worker({ ...o, host: '127.0.0.1', port: proxy.port }, { fetchTaskInterval: 30_000 });
  await a.waitFor(/^STATE \{"connected":"waiting"\}$/, 5000);
  const c = client(o);
  const admin = server.client();
  cleanup.push(() => admin.quit());
  await until(async () => /blocked_clients:1/.test(await admin.info('clients')), 'the worker blocked in Redis');
  return { o, proxy, a, c };
}

describe('an idle worker cut off just as a task arrives (silent link, through a proxy)', () => {
  it('the claim Redis ran for it while the reply was held is handed back when the link heals, and the task runs (no monitor needed)', async () => {
    const { proxy, a, c } = await idleWorkerBehindProxy();

    proxy.partition();
    // Straight to Redis: the worker's wait wakes there and its pipelined claim runs, but the
    // reply is held by the silent link. The worker then finds Redis lost and stops waiting.
    const id = await c.submit('sleep', { ms: 10 });
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'claimed in Redis for the cut-off worker');
    await a.waitFor(/^STATE "(probing|redisDown)"$/, 8000);
    proxy.heal();

    // No monitor runs: only the worker's own hand-back can put the task back in the queue.
    const t = await c.wait(id, { timeout: 10_000 });
    expect(t).toMatchObject({ outcome: 'succeeded', worker: a.address, attempt: 1 });
    expect(starts([a]).get(id)).toBe(1);
  });
});

describe('an idle worker stopped just as a task arrives (slow link, through a proxy)', () => {
  it('the claim whose reply was still on its way is handed back, and another worker runs the task (no monitor needed)', async () => {
    const { o, proxy, a, c } = await idleWorkerBehindProxy();

    proxy.delay(300);
    const exited = new Promise<number | null>((r) => a.proc.once('exit', r));
    const id = await c.submit('sleep', { ms: 10 });
    // Redis ran the claim pipelined behind the wait at once; its reply is 300 ms from the worker.
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'claimed in Redis for the worker', 250, 2);
    a.proc.kill('SIGTERM'); // the worker stops waiting while the reply is on its way
    expect(await exited).toBe(0);
    expect(starts([a]).get(id)).toBeUndefined();

    // No monitor runs: only the stopped worker's hand-back can have put the task back.
    const b = await worker(o);
    const t = await c.wait(id, { timeout: 10_000 });
    expect(t).toMatchObject({ outcome: 'succeeded', worker: b.address, attempt: 1 });
  });

  it('a task that arrives while the stopping worker deregisters is handed back too (its wait is ended before the connections close)', async () => {
    const { o, proxy, a, c } = await idleWorkerBehindProxy();

    proxy.delay(300); // deregistering takes a 600 ms round trip from here
    const exited = new Promise<number | null>((r) => a.proc.once('exit', r));
    a.proc.kill('SIGTERM');
    await a.waitFor(/^STATE "deregistering"$/, 2000);
    await new Promise((r) => setTimeout(r, 400));
    // The wait is still blocked in Redis: this task wakes it and the claim behind it runs, with
    // the reply due after the worker's deregistration has come back.
    const id = await c.submit('sleep', { ms: 10 });
    expect(await exited).toBe(0);
    expect(starts([a]).get(id)).toBeUndefined();

    const b = await worker(o);
    const t = await c.wait(id, { timeout: 10_000 });
    expect(t).toMatchObject({ outcome: 'succeeded', worker: b.address, attempt: 1 });
  });
});
