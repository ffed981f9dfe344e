/**
 * A Redis at its maxmemory (noeviction) refuses an FCALL of a function declared without flags
 * outright (Redis 7 treats it as deny-oom), where an EVAL of the same script ran and was refused
 * only at its first write that could grow memory. The scripts that only delete (the dead-letter
 * purge and trim, the cleanup of ended tasks) and the one that only publishes (a task's events)
 * began with such commands, so they kept working at maxmemory: the purge is how an operator frees
 * memory there. They must still run; so must a cancel, and a control stop (cancel.lua), whose
 * message was a PUBLISH, which Redis takes there.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { cancelTask, claim, stopTask, submit } from '../src/effects/queue.js';
import { finishTasks } from '../src/effects/end-batch.js';
import { purgeDead, readDeadLetters, trimDeadLetters } from '../src/effects/dead-letters.js';
import { reapEnded } from '../src/effects/sweep.js';
import { removeSchedule, setSchedule } from '../src/effects/schedules.js';
import { checkSchedule } from '../src/schedule.js';
import { emitEvents } from '../src/effects/leases.js';
import { library, loadLibrary } from '../src/scripts.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor, requestFor } from './properties/harness.js';

let redis: Redis;
redisPerFile((_, r) => {
  redis = r;
});
const entry = (id: string) => JSON.stringify({ id, function: 'f' });

/** Put Redis over its maxmemory with noeviction: every write that may grow memory is refused. */
async function atMaxmemory(): Promise<void> {
  await redis.config('SET', 'maxmemory-policy', 'noeviction');
  const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  await redis.config('SET', 'maxmemory', String(Math.max(1024 * 1024, used - 256 * 1024)));
  // (really there: a plain write is refused)
  await expect(redis.set('oom:probe', 'x')).rejects.toThrow(/OOM/);
}

afterEach(async () => {
  await redis.config('SET', 'maxmemory', '0');
});

describe('the script library at maxmemory', () => {
  it('still purges and trims dead letters, cleans up ended tasks and publishes events', async () => {
    const keys = keysFor('oom:');
    await loadLibrary(redis);
    // dead letters: junk entries, parked by a claim
    for (let i = 0; i < 3; i++) await redis.lpush(keys.newQueue, `junk ${i} ${'x'.repeat(200_000)}`);
    // an ended task for the cleanup, and a running one whose events are published
    for (const id of ['done', 'running']) await submit(redis, keys, id, entry(id));
    const got = await claim(redis, keys, requestFor('w:1', 5, 10_000_000, ['f']));
    expect(got.parked).toHaveLength(3);
    const byId = new Map(got.claimed.map((t) => [t.id, t]));
    expect(await finishTasks(redis, keys, [{ id: 'done', lease: byId.get('done')!.lease, outcome: 'succeeded', payloadJson: '1' }])).toEqual([true]);
    const letters = (await readDeadLetters(redis, keys, 0, 10)).letters;

    await atMaxmemory();

    // the operator's way out: each purge frees what the letter held
    expect(await purgeDead(redis, keys, letters[0]!.key)).toBe(true);
    expect((await trimDeadLetters(redis, keys, 1, 0, 100)).dropped).toEqual({ bad_json: 1 });
    expect(await reapEnded(redis, keys, 0, 100)).toEqual({ reaped: 1, left: 0 });
    expect(await redis.exists(keys.task('done'))).toBe(0);
    const sub = redis.duplicate();
    const heard: string[] = [];
    await sub.subscribe(keys.events('running'));
    sub.on('message', (_, m: string) => heard.push(m));
    expect(await emitEvents(redis, keys, [{ id: 'running', lease: byId.get('running')!.lease, channel: keys.events('running'), message: '{"type":"progress"}', last: '=', seq: 1 }])).toEqual([
      'published',
    ]);
    await new Promise((r) => setTimeout(r, 100));
    sub.disconnect();
    expect(heard).toEqual(['{"type":"progress"}']);
  });

  it('still purges after an upgrade from a library of the same scripts registered without flags: the name covers the registration too', async () => {
    const keys = keysFor('oom3:');
    // what a version with the same Lua but registered otherwise (no flags) would have loaded;
    // named by the scripts' code alone, it would take this version's name, and be run by it
    const { code, name } = library();
    const flagless = code.replace(/, flags = \{[^}]*\} \}/g, ', flags = {} }');
    expect(flagless).not.toBe(code);
    const body = (c: string) => c.slice(0, c.indexOf('redis.register_function')).replace(/taskswarm_[0-9a-f]+/, '');
    expect(body(flagless)).toBe(body(code));
    const bodyHash = createHash('sha1').update(code.slice(code.indexOf('\n\n') + 2, code.indexOf('\n\nredis.register_function')).replace(/^-- Task Swarm.*\n\n/, '')).digest('hex').slice(0, 12);
    const theirs = flagless.replace(new RegExp(name.slice('taskswarm_'.length), 'g'), bodyHash);
    await redis.function('FLUSH');
    await redis.function('LOAD', theirs);
    await redis.lpush(keys.newQueue, `junk ${'x'.repeat(200_000)}`);
    expect((await claim(redis, keys, requestFor('w:1', 5, 10_000_000, ['f']))).parked).toHaveLength(1);
    const [letter] = (await readDeadLetters(redis, keys, 0, 10)).letters;
    await atMaxmemory();
    expect(await purgeDead(redis, keys, letter!.key)).toBe(true);
    await redis.function('FLUSH');
  });

  it('still removes a schedule (unschedule only deletes, and records its token)', async () => {
    const keys = keysFor('oom4:');
    await loadLibrary(redis);
    const s = checkSchedule('flood', { every: 1000 }, 'f', null, {});
    await setSchedule(redis, keys, s.name, s.json, s.def.spec);
    expect(await redis.hexists(keys.schedules.defs, 'flood')).toBe(1);
    await atMaxmemory();
    expect(await removeSchedule(redis, keys, 'flood')).toBe(true);
    expect(await redis.hexists(keys.schedules.defs, 'flood')).toBe(0);
    expect(await redis.zscore(keys.schedules.due, 'flood')).toBeNull();
    expect(await redis.hexists(keys.schedules.last, 'flood')).toBe(0);
  });

  it('still stops a running task (a control stop was a PUBLISH, which Redis takes there) and cancels a queued one (the way to make room)', async () => {
    const keys = keysFor('oom3:');
    await loadLibrary(redis);
    for (const id of ['running', 'waiting']) await submit(redis, keys, id, entry(id));
    expect((await claim(redis, keys, requestFor('w:1', 1, 10_000_000, ['f']))).claimed.map((t) => t.id)).toEqual(['running']);
    const sub = redis.duplicate();
    const heard: string[] = [];
    await sub.subscribe(keys.control('running'));
    sub.on('message', (_, m: string) => heard.push(m));

    await atMaxmemory();

    expect(await stopTask(redis, keys, 'running')).toBe('running');
    expect(await redis.hget(keys.task('running'), 'cancelling')).toBe('1');
    expect(await cancelTask(redis, keys, 'waiting')).toBe('cancelled');
    await new Promise((r) => setTimeout(r, 100));
    sub.disconnect();
    expect(heard).toEqual(['stop']);
  });

  it('still refuses what would add to memory: a submit', async () => {
    const keys = keysFor('oom2:');
    await loadLibrary(redis);
    await atMaxmemory();
    await expect(submit(redis, keys, 'a', entry('a'))).rejects.toThrow(/OOM/);
  });
});
