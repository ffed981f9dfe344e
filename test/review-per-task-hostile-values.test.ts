/**
 * Review of the per-task path: what a task function hands the worker (its result, what it
 * throws, what its control-event listeners throw) must end the task, however unreadable the
 * value. The worker turns it into JSON (writeEnd), reads it (the `retryable` guard) and logs it
 * (a listener that threw); each of these threw for some values, so the task machine crashed:
 * the worker dropped the task, it stayed RUNNING until a monitor requeued it, and it ran again,
 * each attempt recorded as "died", until maxAttempts parked it. A listener's rejection went to
 * the logger from a promise handler: a logger that threw there ended the process.
 *
 * The values: a null-prototype object holding a BigInt (as some database drivers return rows:
 * JSON cannot carry it, and String() cannot convert it), an object whose toJSON and toString
 * throw, an Error whose `message` getter throws, a revoked Proxy (any read throws). The logger is
 * tslog, the worker's default, with its output hidden: it reads every argument it is given.
 *
 * No monitor runs: a task whose machine crashed would never end, and c.wait times out.
 */
import { describe, expect, it } from 'vitest';
import { Logger } from 'tslog';
import type { Redis } from 'ioredis';
import { Client, Worker, type TaskFunction } from '../src/index.js';
import { redisPerFile } from './helpers/suite.js';
import type { RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
const cleanup = redisPerFile((s: RedisServer, _r: Redis) => {
  server = s;
});

const revoked = (): object => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
};
const nullProtoBigInt = () => Object.assign(Object.create(null) as object, { n: 1n });
const unstringable = () => ({
  toJSON() {
    throw new Error('no JSON');
  },
  toString() {
    throw new Error('no string');
  },
});
const unreadableError = () => {
  const e = new Error('x');
  Object.defineProperty(e, 'message', {
    get() {
      throw new Error('no message');
    },
  });
  return e;
};

async function swarm(functions: Record<string, TaskFunction>) {
  const o = server.options();
  const logger = new Logger({ type: 'hidden', minLevel: 0 });
  // what the worker warned of, by its first argument (the rest may be the hostile value itself)
  const warnings: string[] = [];
  logger.attachTransport((l) => {
    if ((l as { _meta?: { logLevelName?: string } })._meta?.logLevelName === 'WARN') warnings.push(String((l as Record<string, unknown>)['0']));
  });
  const w = new Worker({ port: 0, redis: o, concurrency: 10, heartbeatInterval: 200, logger });
  const runs = new Map<string, number>();
  for (const [name, fn] of Object.entries(functions)) {
    w.addTaskFunction(name, async (task) => {
      runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
      return fn(task);
    });
  }
  const c = new Client({ redis: o });
  cleanup.push(() => c.close(), () => w.stop());
  await w.start();
  return { w, c, runs, warnings };
}

describe('a value the worker cannot read or write', () => {
  it('returned by a task function: the task ends, once, with what can be stored', async () => {
    const { c, runs } = await swarm({ nullProtoBigInt, unstringable, revokedResult: revoked });
    const ids = await Promise.all(['nullProtoBigInt', 'unstringable', 'revokedResult'].map((fn) => c.submit(fn)));
    const ended = await Promise.all(ids.map((id) => c.wait(id, { timeout: 4000 })));
    for (const [i, t] of ended.entries()) {
      expect(t.state).toBe('END');
      expect(t.attempt).toBe(1);
      expect(runs.get(ids[i]!)).toBe(1);
    }
    // (a result JSON cannot carry fails the attempt, not retried: test/unstorable-result.test.ts; a revoked proxy cannot be awaited)
    expect(ended.map((t) => t.outcome)).toEqual(['failed', 'failed', 'failed']);
    expect(ended.map((t) => t.error?.name)).toEqual(['NonRetryableError', 'NonRetryableError', 'TypeError']);
  });

  it('thrown by a task function, with or without attempts left: the task ends failed (or is retried), never re-run as "died"', async () => {
    const { c, runs } = await swarm({ throwsRevoked: () => Promise.reject(revoked()), throwsUnreadable: () => Promise.reject(unreadableError()) });
    const ids = [
      await c.submit('throwsRevoked'),
      await c.submit('throwsUnreadable'),
      await c.submit('throwsRevoked', null, { attempts: 2, backoff: { type: 'fixed', delay: 10 } }),
      await c.submit('throwsUnreadable', null, { attempts: 2, backoff: { type: 'fixed', delay: 10 } }),
    ];
    const ended = await Promise.all(ids.map((id) => c.wait(id, { timeout: 4000 })));
    expect(ended.map((t) => [t.state, t.outcome, t.attempt])).toEqual([
      ['END', 'failed', 1],
      ['END', 'failed', 1],
      ['END', 'failed', 2],
      ['END', 'failed', 2],
    ]);
    expect(ids.map((id) => runs.get(id))).toEqual([1, 1, 2, 2]);
    for (const t of ended) expect(t.history?.map((h) => h.outcome)).not.toContain('died');
  });

  it('thrown by a task function that is no Error: its stored message is the value as thrown, never "null" for what was not null', async () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const thrown: Record<string, () => unknown> = {
      throwsUndefined: () => Promise.reject(undefined),
      throwsSymbol: () => Promise.reject(Symbol('gone')),
      throwsNull: () => Promise.reject(null),
      throwsNumber: () => Promise.reject(5),
      throwsCycle: () => Promise.reject(cycle),
      throwsPlainObject: () => Promise.reject({ status: 404 }),
    };
    const { c } = await swarm(thrown);
    const ids = await Promise.all(Object.keys(thrown).map((fn) => c.submit(fn)));
    const ended = await Promise.all(ids.map((id) => c.wait(id, { timeout: 4000 })));
    expect(ended.map((t) => [t.outcome, t.error?.message])).toEqual([
      ['failed', 'undefined'],
      ['failed', 'Symbol(gone)'],
      ['failed', 'null'],
      ['failed', '5'],
      ['failed', 'an object JSON cannot write'],
      ['failed', '{"status":404}'],
    ]);
  });

  it('thrown or rejected by a control-event listener: reported, the task runs on and ends, the process lives', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const { c, runs, warnings } = await swarm({
      listens: async (task) => {
        task.on('sync', () => {
          throw revoked();
        });
        task.on('async', async () => {
          throw revoked();
        });
        await released;
        return 'ran on';
      },
    });
    const id = await c.submit('listens');
    await expect.poll(() => runs.get(id)).toBe(1);
    await c.control(id, { event_name: 'sync', event: 1 });
    await c.control(id, { event_name: 'async', event: 1 });
    await new Promise((r) => setTimeout(r, 200));
    release();
    const t = await c.wait(id, { timeout: 4000 });
    expect(t).toMatchObject({ state: 'END', outcome: 'succeeded', result: 'ran on', attempt: 1 });
    // each reported once, the value it threw unreadable or not
    expect(warnings.filter((m) => m.includes('listener for')).sort()).toEqual([expect.stringMatching(/^task \S+: listener for "async" threw/), expect.stringMatching(/^task \S+: listener for "sync" threw/)]);
  });
});
