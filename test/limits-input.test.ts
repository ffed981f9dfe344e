/**
 * Bad limits (issue 9): setLimit refuses a limit or a target it cannot enforce as written with a
 * ConfigError naming what is wrong, before anything is written. A limit written into Redis by
 * hand that is not one is no limit: claims go on (a claim that failed on it would stop every
 * worker), and Client.limits() shows it as invalid.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, ConfigError } from '../src/index.js';
import type { Limit, LimitTarget } from '../src/effects/limits.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { expectNoneRunning } from './helpers/limits.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const procs: WorkerProcess[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) await p.kill('SIGKILL');
});
function client(o: Record<string, unknown>) {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return c;
}

const fn = { function: 'sleep' };
const bad: [string, unknown, unknown, RegExp][] = [
  ['concurrency 0', fn, { concurrency: 0 }, /setLimit: concurrency must be an integer from 1 to \d+, got 0$/],
  ['concurrency -1', fn, { concurrency: -1 }, /concurrency .* got -1$/],
  ['concurrency 1.5', fn, { concurrency: 1.5 }, /concurrency .* got 1\.5$/],
  ['concurrency NaN', fn, { concurrency: NaN }, /concurrency .* got NaN$/],
  ['concurrency Infinity', fn, { concurrency: Infinity }, /concurrency .* got Infinity$/],
  ['concurrency "3"', fn, { concurrency: '3' }, /concurrency .* got "3"$/],
  ['rate max 0', fn, { rate: { max: 0, per: 1000 } }, /rate\.max must be an integer .* got 0$/],
  ['rate per 0', fn, { rate: { max: 5, per: 0 } }, /rate\.per \(ms\) must be an integer .* got 0$/],
  ['rate without per', fn, { rate: { max: 5 } }, /rate\.per \(ms\) must be an integer .* got undefined$/],
  ['rate null', fn, { rate: null }, /rate must be \{ max, per \}/],
  ['an unknown rate option', fn, { rate: { max: 5, per: 1000, burst: 2 } }, /unknown rate option "burst"/],
  ['neither concurrency nor rate', fn, {}, /a limit needs concurrency, rate, or both/],
  ['an unknown option', fn, { concurrency: 2, queue: 3 }, /unknown limit option "queue"/],
  ['a limit that is not an object', fn, 'fast', /the limit must be an object/],
  ['a target with function and group', { function: 'sleep', group: 'g' }, { concurrency: 1 }, /exactly one of \{ function \} or \{ group \}/],
  ['a target with neither', {}, { concurrency: 1 }, /exactly one of \{ function \} or \{ group \}/],
  ['a target of another kind', { queue: 'sleep' }, { concurrency: 1 }, /exactly one of \{ function \} or \{ group \}/],
  ['an empty function', { function: '' }, { concurrency: 1 }, /target\.function must be a non-empty string, got ""/],
  ['a function that is not a string', { function: 7 }, { concurrency: 1 }, /target\.function must be a non-empty string, got 7/],
  // (a lone surrogate reaches Redis as U+FFFD: the limit would hold the function named so, another one)
  ['a function holding a lone surrogate', { function: 'f\ud800' }, { concurrency: 1 }, /target\.function must be well-formed Unicode \(it holds a lone surrogate\), got "f\\ud800"$/],
  ['an empty group', { group: '' }, { concurrency: 1 }, /target\.group must be a non-empty string/],
  ['a group over 128 bytes', { group: 'é'.repeat(65) }, { concurrency: 1 }, /target\.group must be a string of 1 to 128 bytes/],
  ['a null target', null, { concurrency: 1 }, /the target must be \{ function \} or \{ group \}/],
];

describe('setLimit with bad input', () => {
  it.each(bad)('refuses %s with a ConfigError naming it, and writes nothing', async (_what, target, limit, message) => {
    const o = server.options();
    const c = client(o);
    const call = c.setLimit(target as LimitTarget, limit as Limit);
    await expect(call).rejects.toThrow(ConfigError);
    await expect(call).rejects.toThrow(message);
    expect(await redis.keys(`${o.keyPrefix}*`)).toEqual([]);
    // the client goes on: a good limit is set
    await c.setLimit({ function: 'sleep' }, { concurrency: 1 });
    expect(await c.limits()).toEqual([{ function: 'sleep', concurrency: 1, running: 0 }]);
  });
});

describe('a limit written into Redis by hand that is not one', () => {
  const junk = ['{"rate":{"max":0,"per":1000}}', '{"concurrency":0}', '{"concurrency":"2"}', '{"rate":{"max":2}}', '[1]', 'not json', '{}', '{"concurrency":2,"x":1}'];

  it('holds nothing back and fails no claim; limits() shows it as invalid', async () => {
    const o = server.options();
    const c = client(o);
    const fns = ['sleep', 'nap'];
    for (const [i, j] of junk.entries()) {
      await redis.hset(`${o.keyPrefix}new-task:limits`, `g:junk-${i}`, j);
    }
    await redis.hset(`${o.keyPrefix}new-task:limits`, 'f:sleep', junk[0]!, 'f:nap', junk[1]!);
    const w = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 200, concurrency: 16 });
    procs.push(w);
    const ids: string[] = [];
    for (const i of junk.keys()) for (const f of fns) ids.push(await c.submit(f, { ms: 300 }, { group: `junk-${i}` }));

    const ended = await Promise.all(ids.map((id) => c.wait(id, { timeout: 10_000 })));
    expect(ended.map((t) => t.outcome)).toEqual(ids.map(() => 'succeeded'));
    // nothing went wrong on the worker's side (a heartbeat that crosses an END in flight may
    // warn of a lost lease for a task the worker just ended itself: another matter)
    expect(w.lines.filter((l) => /^(WARN|ERROR)/.test(l) && !/^WARN lease lost for .*abandoning our copy$/.test(l))).toEqual([]);
    const listed = await c.limits();
    expect(listed).toEqual(expect.arrayContaining([{ function: 'sleep', invalid: junk[0], running: 0 }, { function: 'nap', invalid: junk[1], running: 0 }]));
    for (const [i, j] of junk.entries()) expect(listed).toContainEqual({ group: `junk-${i}`, invalid: j, running: 0 });
    await expectNoneRunning(redis, o.keyPrefix);
  });
});
