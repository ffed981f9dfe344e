/**
 * Bad input to the order API (issue 9): a priority that is not an integer from -1000 to 1000, a
 * group that is not a string of 1..128 bytes of valid Unicode, an empty function name given to
 * pause or resume, a limit that is not one: each is a ConfigError naming what was wrong, before
 * anything is written to Redis. Entries pushed by hand with such options are parked (bad_option),
 * and the worker goes on with the next.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, ConfigError, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function client() {
  const o = server.options();
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return { c, o, keys: keysFor(o.keyPrefix) };
}

/** every key under the prefix, with its content: nothing may change on a refused call */
async function contents(prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const k of (await redis.keys(`${prefix}*`)).sort()) out[k] = JSON.stringify(await redis.dump(k));
  return out;
}

const BAD_PRIORITIES: unknown[] = [1.5, 2000, 1001, -1001, '3', NaN, Infinity, null, true, [1], { p: 1 }];
const BAD_GROUPS: unknown[] = ['', 'g'.repeat(129), 'x'.repeat(200), 'é'.repeat(65), '\ud800', 'a\udc00b', 42, {}, ['a'], null, false];

describe('submit options', () => {
  it('a priority that is not an integer from -1000 to 1000 is a ConfigError naming it; nothing is written', async () => {
    const { c, o } = client();
    const before = await contents(o.keyPrefix);
    for (const priority of BAD_PRIORITIES) {
      await expect(c.submit('job', { n: 1 }, { priority: priority as number }), JSON.stringify(priority) ?? String(priority)).rejects.toThrow(ConfigError);
      await expect(c.submit('job', { n: 1 }, { priority: priority as number })).rejects.toThrow(/priority/);
    }
    expect(await contents(o.keyPrefix)).toEqual(before);
  });

  it('a group that is not a string of 1 to 128 bytes of valid Unicode is a ConfigError naming it; nothing is written', async () => {
    const { c, o } = client();
    const before = await contents(o.keyPrefix);
    for (const group of BAD_GROUPS) {
      const what = JSON.stringify(group) ?? String(group);
      await expect(c.submit('job', { n: 1 }, { group: group as string }), what).rejects.toThrow(ConfigError);
      await expect(c.submit('job', { n: 1 }, { group: group as string }), what).rejects.toThrow(/group/);
    }
    expect(await contents(o.keyPrefix)).toEqual(before);
  });

  it('the edges are accepted: priority -1000, 0 and 1000; a group of 1 byte and of 128 bytes', async () => {
    const { c, keys } = client();
    for (const [i, options] of [{ priority: -1000 }, { priority: 1000 }, { priority: 0 }, { group: 'g' }, { group: 'é'.repeat(64) }, { group: 'x'.repeat(128), priority: 7 }].entries()) {
      const id = await c.submit('job', { i }, options);
      expect(await c.get(id)).toMatchObject({ state: 'QUEUED' });
    }
    // priority 0 and no group on new-task, the others placed in job's queue at once
    const s = await c.stats();
    expect([s.queued, s.functions.job?.queued]).toEqual([1, 5]);
    expect(await redis.lrange(keys.newQueue, 0, -1)).toHaveLength(2); // and the one wake marker
  });
});

describe('pause and resume', () => {
  it('an empty or non-string function name is a ConfigError (a rejected promise, as the other calls); nothing is written', async () => {
    const { c, o } = client();
    const before = await contents(o.keyPrefix);
    for (const fn of ['', 42, null, {}, ['job']]) {
      for (const call of [() => c.pause(fn as string), () => c.resume(fn as string)]) {
        let promise: Promise<unknown> | undefined;
        expect(() => (promise = call()), `${JSON.stringify(fn)}: throws nothing synchronously`).not.toThrow();
        await expect(promise).rejects.toThrow(ConfigError);
        await expect(call()).rejects.toThrow(/function/);
      }
    }
    expect(await contents(o.keyPrefix)).toEqual(before);
  });
});

describe('setLimit', () => {
  it('a bad target or limit is a ConfigError naming it; nothing is written', async () => {
    const { c, o } = client();
    await c.setLimit({ function: 'job' }, { concurrency: 3 });
    const before = await contents(o.keyPrefix);
    const bad: [unknown, unknown, RegExp][] = [
      [{ function: '' }, { concurrency: 1 }, /target\.function/],
      [{ group: '' }, { concurrency: 1 }, /group/],
      [{ group: 'x'.repeat(129) }, { concurrency: 1 }, /group/],
      [{ group: '\ud800' }, { concurrency: 1 }, /group/],
      [{ function: 'job', group: 'g' }, { concurrency: 1 }, /exactly one/],
      [{}, { concurrency: 1 }, /target/],
      [null, { concurrency: 1 }, /target/],
      [{ function: 'job' }, { concurrency: 0 }, /concurrency/],
      [{ function: 'job' }, { concurrency: -1 }, /concurrency/],
      [{ function: 'job' }, { concurrency: 1.5 }, /concurrency/],
      [{ function: 'job' }, { concurrency: '2' }, /concurrency/],
      [{ function: 'job' }, { rate: { max: 0, per: 1000 } }, /rate\.max/],
      [{ function: 'job' }, { rate: { max: 5, per: 0 } }, /rate\.per/],
      [{ function: 'job' }, { rate: { max: 5 } }, /rate\.per/],
      [{ function: 'job' }, { rate: 5 }, /rate/],
      [{ function: 'job' }, {}, /concurrency, rate/],
      [{ function: 'job' }, { concurrency: 1, burst: 2 }, /burst/],
    ];
    for (const [target, limit, names] of bad) {
      const what = `${JSON.stringify(target)} ${JSON.stringify(limit)}`;
      await expect(c.setLimit(target as never, limit as never), what).rejects.toThrow(ConfigError);
      await expect(c.setLimit(target as never, limit as never), what).rejects.toThrow(names);
    }
    expect(await contents(o.keyPrefix)).toEqual(before);
    expect(await c.limits()).toEqual([{ function: 'job', concurrency: 3, running: 0 }]);
  });
});

describe('entries pushed by hand with bad options', () => {
  it('are parked as bad_option, naming the option; the worker runs the next entry', async () => {
    const { c, o, keys } = client();
    const w = new Worker({ port: 0, redis: o, logger: quiet });
    w.addTaskFunction('job', async (t) => t.data);
    cleanup.push(() => w.stop());
    await w.start();
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ priority: 1.5 }, /"priority"/],
      [{ priority: 1001 }, /"priority"/],
      [{ priority: '3' }, /"priority"/],
      [{ group: 'x'.repeat(129) }, /"group"/],
      [{ group: 42 }, /"group"/],
    ];
    for (const [i, [options]] of bad.entries()) await redis.lpush(keys.newQueue, JSON.stringify({ id: `bad-${i}`, function: 'job', data: i, ...options }));
    await redis.lpush(keys.newQueue, JSON.stringify({ id: 'good', function: 'job', data: 'ok', priority: 5, group: 'g' }));
    expect(await c.wait('good', { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 'ok', priority: 5, group: 'g' });
    const letters = await until(async () => {
      const l = await c.deadLetters();
      return l.length === bad.length ? l : undefined;
    }, 'the bad entries parked');
    for (const [i, [, names]] of bad.entries()) {
      const letter = letters.find((l) => l.id === `bad-${i}`);
      expect(letter, `bad-${i}`).toMatchObject({ reason: 'bad_option' });
      expect(letter!.message).toMatch(names);
    }
  });
});
