/**
 * A group's limit spans functions, and in a mixed pool those functions run on different workers
 * (issue 9): when a slot of the group frees on one worker, a worker of another function that
 * waits for it is woken at once, even when the worker that freed it goes straight on claiming
 * (its END and its next claim in one script). The workers poll only every 10 s.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { expectNoneRunning, intervals, maxOverlap } from './helpers/limits.js';

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
async function worker(o: Record<string, unknown>, functions: string[]) {
  const p = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 200, concurrency: 4, fetchTaskInterval: 10_000 }, [], functions);
  procs.push(p);
  return p;
}
function client(o: Record<string, unknown>) {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return c;
}

describe('a group limited to concurrency 1 across two functions served by different workers', () => {
  it('starts the group task of the other function as soon as the slot frees', async () => {
    const o = server.options();
    const c = client(o);
    await c.setLimit({ group: 'tenant-42' }, { concurrency: 1 });
    const sleeper = await worker(o, ['sleep']);
    const napper = await worker(o, ['nap']);
    const first = await c.submit('sleep', { ms: 500 }, { group: 'tenant-42' });
    await sleeper.waitFor(new RegExp(`^STARTED ${first} 1$`));
    const second = await c.submit('nap', { ms: 300 }, { group: 'tenant-42' });
    // the sleeper stays busy with other work, so its END rides with its next claim
    const other: string[] = [];
    for (let i = 0; i < 12; i++) other.push(await c.submit('sleep', { ms: 250 }, { group: 'tenant-7' }));

    const ended = await Promise.all([first, second, ...other].map((id) => c.wait(id, { timeout: 20_000 })));
    expect(ended.map((t) => t.outcome)).toEqual(ended.map(() => 'succeeded'));
    const [a, b] = await intervals(c, [first, second]);
    expect(b!.task.worker).toBe(napper.address);
    expect(maxOverlap([a!, b!])).toBe(1);
    expect(b!.start - a!.end).toBeLessThan(300);
    await expectNoneRunning(redis, o.keyPrefix);
  });
});
