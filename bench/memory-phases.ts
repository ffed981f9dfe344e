/**
 * What a long-lived process keeps: one Worker, one Monitor and one Client in this process run
 * thousands of tasks in phases, each phase a kind of task life (succeed, throw, retries,
 * events and control messages, subscriptions, dedupe keys, delays, cancels, submitMany,
 * schedules) or a fault (redis-server SIGKILLed and started again on its port with appendonly,
 * connections cut or made silent by a TCP proxy, an outage with calls waiting). After each
 * phase it collects garbage twice and prints one line: heapUsed and rss, the process's active
 * handles by kind (process.getActiveResourcesInfo), listeners on `process` and on every
 * EventEmitter reachable from the three objects (the ioredis connections), and the keys and
 * memory of Redis, and the channels subscribed there (PUBSUB CHANNELS); then every Map, Set, array or plain object reachable from the Worker,
 * Monitor and Client (four levels deep) whose size changed since the last phase. A collection
 * that grows phase after phase of the same kind is a leak; heapUsed should come back to the
 * same level after a `sleep` phase (what faults leave for a while, timers and deadlines, ends).
 *
 *   node --expose-gc --import tsx bench/memory-phases.ts [--n=2000] [--rounds=10] [--proxy] [--track]
 *     [--phases=ok,ok,throw,retry,events,subscribe,dedupe,delay,many,cancel,control,schedule,restart,ok,sleep]
 *
 * --n: tasks per phase; --rounds: faults per fault phase; --proxy: every connection goes
 * through a TCP proxy (test/helpers/tcp-proxy.ts), needed by the `reset`, `reset-busy` and
 * `partition` phases; --track: each phase also lists the live timers and sockets by the stack
 * that made them (async_hooks, slow). It starts its own redis-server on a free port
 * (test/helpers/redis-server.ts) and never touches another. Phases: ok, throw, retry, events,
 * subscribe (subscribe, submit, wait, unsubscribe), dedupe, delay, many (submitMany), cancel,
 * control (stop), timeout, reload, wait-timeout, restart, reset, reset-busy, partition,
 * wait-down (waits across a SIGKILL), submit-down (submits, gets and submitMany across one),
 * churn (Clients made and closed), schedule, sleep (10 s).
 */
import { createHook } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { Client, Monitor, Worker, type Task } from '../src/index.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { startProxy } from '../test/helpers/tcp-proxy.js';

const opt = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string | undefined]));
const N = Number(opt.get('n') ?? 2000);
const ROUNDS = Number(opt.get('rounds') ?? 10);
const PHASES = (opt.get('phases') ?? 'ok,ok,throw,retry,events,subscribe,dedupe,delay,many,cancel,control,schedule,restart,ok,sleep').split(',');
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

/** live timers and sockets by the stack that made them (--track) */
const made = new Map<number, string>();
if (opt.has('track')) {
  createHook({
    init(id, type) {
      if (type !== 'Timeout' && type !== 'TCPWRAP') return;
      const frames = (new Error().stack ?? '').split('\n').slice(2).filter((l) => !l.includes('node:internal') && !l.includes('async_hooks'));
      made.set(id, `${type} ${frames.slice(0, 4).map((l) => l.trim()).join(' < ')}`);
    },
    destroy(id) {
      made.delete(id);
    },
  }).enable();
}

const server = await startRedis({ appendonly: true });
const proxy = opt.has('proxy') ? await startProxy('127.0.0.1', server.port) : undefined;
const redis = { ...server.options(), keyPrefix: 'mem:', ...(proxy ? { port: proxy.port } : {}) };
const plain = server.client();
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

let mode: 'ok' | 'throw' | 'events' | 'slow' = 'ok';
const worker = new Worker({ port: 0, redis, concurrency: 20, logger: quiet });
worker.addTaskFunction('f', async (task: Task) => {
  if (mode === 'throw') throw new Error('boom');
  if (mode === 'events') {
    task.emit('progress', { n: 1 });
    task.on('ping', () => {});
    await task.update({ pct: 50 });
  }
  if (mode === 'slow') await new Promise((r) => setTimeout(r, 50));
  return { ok: 1 };
});
// runs until stopped (its signal) or `ms` (default 3 s), listening for control events
worker.addTaskFunction('long', async (task: Task) => {
  task.on('ping', () => {});
  const ms = Number((task.data as { ms?: number } | null)?.ms ?? 3000);
  await new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    task.signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(task.signal.reason);
    });
  });
});
await worker.start();
const monitor = new Monitor({ redis, taskTimeout: 30_000, logger: quiet });
await monitor.start();
const client = new Client({ redis, logger: quiet });

/** every Map, Set, array and plain object reachable from `root`, by path, with its size */
function collections(root: unknown, path: string, out: Map<string, number>, emitters: EventEmitter[], seen: Set<unknown>, depth = 0): void {
  if (root === null || typeof root !== 'object' || seen.has(root) || depth > 4) return;
  seen.add(root);
  if (root instanceof EventEmitter) emitters.push(root);
  if (Array.isArray(root)) return void out.set(path, root.length);
  if (root instanceof Map || root instanceof Set) {
    out.set(path, root.size);
    // (a few values, for what they hold)
    let i = 0;
    for (const v of root.values()) if (i++ < 3) collections(v, `${path}[]`, out, emitters, seen, depth + 1);
    return;
  }
  if (Object.getPrototypeOf(root) === Object.prototype) out.set(`${path}{}`, Object.keys(root).length);
  for (const k of Object.getOwnPropertyNames(root)) {
    if (k === 'config' || k === 'log' || (k.startsWith('_') && k !== '_events')) continue;
    let v: unknown;
    try {
      v = (root as Record<string, unknown>)[k];
    } catch {
      continue;
    }
    collections(v, `${path}.${k}`, out, emitters, seen, depth + 1);
  }
}

let before = new Map<string, number>();
async function report(label: string): Promise<void> {
  gc!();
  gc!();
  const sizes = new Map<string, number>();
  const emitters: EventEmitter[] = [];
  const seen = new Set<unknown>();
  collections(worker, 'worker', sizes, emitters, seen);
  collections(monitor, 'monitor', sizes, emitters, seen);
  collections(client, 'client', sizes, emitters, seen);
  const listeners = (e: EventEmitter | NodeJS.Process) => e.eventNames().reduce((n, ev) => n + e.listenerCount(ev), 0);
  const handles: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) handles[r] = (handles[r] ?? 0) + 1;
  const mu = process.memoryUsage();
  const keys = await plain.dbsize().catch(() => '?');
  const channels = await plain.pubsub('CHANNELS').then((c) => (c as string[]).length, () => '?');
  const redisMemory = await plain.info('memory').then((t) => `${(Number(/used_memory:(\d+)/.exec(t)?.[1]) / 1048576).toFixed(1)} MB`, () => '?');
  console.log(
    `${label}: heap ${(mu.heapUsed / 1048576).toFixed(1)} MB, rss ${(mu.rss / 1048576).toFixed(0)} MB; handles ${JSON.stringify(handles)}; ` +
      `listeners: process ${listeners(process)}, ${emitters.length} emitters ${emitters.reduce((n, e) => n + listeners(e), 0)}; redis: ${keys} keys, ${redisMemory}, ${channels} channels subscribed`,
  );
  const changed = [...new Set([...sizes.keys(), ...before.keys()])]
    .filter((k) => (sizes.get(k) ?? 0) !== (before.get(k) ?? 0))
    .map((k) => `${k} ${before.get(k) ?? 0} -> ${sizes.get(k) ?? 0}`);
  if (changed.length) console.log(`  changed: ${changed.join(', ')}`);
  if (made.size) {
    const by = new Map<string, number>();
    for (const s of made.values()) by.set(s, (by.get(s) ?? 0) + 1);
    for (const [s, n] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(`  live ${n} x ${s}`);
  }
  before = sizes;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const submitAll = (n: number, options: (i: number) => Parameters<Client['submit']>[2] = () => ({}), fn = 'f') =>
  Promise.all(Array.from({ length: n }, (_, i) => client.submit(fn, { i, ms: 400 }, options(i))));
const waitAll = (ids: string[]) => Promise.all(ids.map((id) => client.wait(id, { timeout: 120_000 }).catch((e: unknown) => e)));
const run = async (n: number, m: typeof mode = 'ok') => {
  mode = m;
  await waitAll(await submitAll(n));
};

const phases: Record<string, () => Promise<unknown>> = {
  ok: () => run(N),
  throw: () => run(N, 'throw'),
  retry: async () => {
    mode = 'throw';
    await waitAll(await submitAll(N / 4, () => ({ attempts: 3 })));
  },
  events: async () => {
    mode = 'events';
    const ids = await submitAll(N);
    await Promise.all(ids.map((id) => client.control(id, { event_name: 'ping', event: 1 }).catch(() => {})));
    await waitAll(ids);
  },
  subscribe: async () => {
    mode = 'events';
    for (let i = 0; i < N; i++) {
      const id = client.drawId();
      const off = client.subscribe(id, () => {});
      await off.ready;
      await client.submit('f', i, { id });
      await client.wait(id);
      off();
    }
  },
  dedupe: async () => {
    mode = 'slow';
    await waitAll(await submitAll(N, (i) => ({ key: `k${i % 50}` })));
  },
  delay: async () => {
    mode = 'ok';
    await waitAll(await submitAll(N / 2, () => ({ delay: 300 })));
  },
  many: async () => {
    mode = 'ok';
    const ids: string[] = [];
    for (let i = 0; i < N; i += 100) ids.push(...(await client.submitMany(Array.from({ length: Math.min(100, N - i) }, () => ({ fn: 'f', data: i })))));
    await waitAll(ids);
  },
  cancel: async () => {
    const delayed = await submitAll(N / 2, () => ({ delay: 60_000 }));
    await Promise.all(delayed.map((id) => client.cancel(id)));
    const running = await submitAll(100, () => ({}), 'long');
    await sleep(300);
    await Promise.all(running.map((id) => client.cancel(id)));
    await waitAll([...delayed, ...running]);
  },
  control: async () => {
    const ids = await submitAll(100, () => ({}), 'long');
    await sleep(300);
    await Promise.all(ids.map((id) => client.control(id, 'stop').catch(() => {})));
    await waitAll(ids);
  },
  timeout: async () => waitAll(await submitAll(200, () => ({ timeout: 50 }), 'long')),
  reload: async () => {
    const ids = await submitAll(200, () => ({}), 'long');
    await sleep(100);
    for (const message of ['reload', 'watch', { event_name: 'ping', event: 1 }] as const) await Promise.all(ids.map((id) => client.control(id, message).catch(() => {})));
    await waitAll(ids);
  },
  'wait-timeout': () => Promise.all(Array.from({ length: N }, (_, i) => client.wait(`never-${i}`, { timeout: 200 }).catch(() => {}))),
  restart: async () => {
    for (let i = 0; i < ROUNDS; i++) {
      await server.restart();
      await run(100);
    }
  },
  reset: async () => {
    for (let i = 0; i < ROUNDS; i++) {
      proxy!.reset();
      await sleep(300);
      proxy!.heal();
      await run(100);
    }
  },
  'reset-busy': async () => {
    mode = 'slow';
    for (let i = 0; i < ROUNDS; i++) {
      const done = waitAll(await submitAll(100));
      await sleep(100);
      proxy!.reset();
      await sleep(1000);
      proxy!.heal();
      await done;
    }
  },
  partition: async () => {
    for (let i = 0; i < ROUNDS; i++) {
      proxy!.partition();
      await sleep(4000);
      proxy!.heal();
      await run(100);
    }
  },
  'wait-down': async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const waits = Array.from({ length: 200 }, (_, j) => client.wait(`gone-${j}`, { timeout: 1500 }).catch(() => {}));
      await sleep(100);
      await server.kill();
      await Promise.all(waits);
      await sleep(500);
      await server.start();
      await run(100);
    }
  },
  'submit-down': async () => {
    for (let i = 0; i < ROUNDS; i++) {
      await server.kill();
      const calls = [
        ...Array.from({ length: 500 }, (_, j) => client.submit('f', j).catch(() => null)),
        ...Array.from({ length: 200 }, (_, j) => client.get(`x${j}`).catch(() => null)),
        client.submitMany(Array.from({ length: 100 }, () => ({ fn: 'f' }))).catch(() => null),
      ];
      await sleep(2000);
      await server.start();
      await Promise.all(calls);
      await run(100);
    }
  },
  churn: async () => {
    for (let i = 0; i < ROUNDS * 5; i++) {
      const c = new Client({ redis, logger: quiet });
      const id = await c.submit('f', i);
      await c.wait(id);
      await c.close();
    }
  },
  schedule: async () => {
    for (let i = 0; i < 20; i++) await client.schedule(`s${i}`, { every: 1000 }, 'f', i);
    await sleep(5000);
    for (let i = 0; i < 20; i++) await client.unschedule(`s${i}`);
  },
  sleep: () => sleep(10_000),
};

await report('start');
for (const p of PHASES) {
  const phase = phases[p];
  if (!phase) throw new Error(`unknown phase ${p} (known: ${Object.keys(phases).join(', ')})`);
  if (!proxy && ['reset', 'reset-busy', 'partition'].includes(p)) throw new Error(`phase ${p} needs --proxy`);
  const t0 = performance.now();
  await phase();
  await report(`${p} (${Math.round(performance.now() - t0)} ms)`);
}
await client.close();
await monitor.stop();
await worker.stop();
await proxy?.close();
plain.disconnect();
await server.stop();
