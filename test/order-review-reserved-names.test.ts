/**
 * Review of issue 9: a name that collides with a marker the layout reserves. The `paused` set
 * holds `*` for the whole swarm and function names for one function each, so `pause('*')` of a
 * function named `*` (a name addTaskFunction accepts, as does a hand-pushed entry) paused every
 * function of the swarm, and `resume('*')` resumed a swarm paused as a whole. The name `*` is
 * refused by pause(fn) and resume(fn) (and the CLI) instead: nothing is paused or resumed
 * behind the caller's back.
 */
import { describe, expect, it } from 'vitest';
import { Client, ConfigError } from '../src/index.js';
import { spawnWorker } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { runMain } from './helpers/cli.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

describe("a function named '*'", () => {
  it("pause('*') and resume('*') neither pause nor resume the swarm", async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const w = await spawnWorker({ port: 0, redis: o, concurrency: 2, fetchTaskInterval: 30_000 }, [], ['*', 'job']);
    cleanup.push(() => w.kill());

    await expect(c.pause('*')).rejects.toThrow(ConfigError);
    // the other function still runs
    const id = await c.submit('job', { ms: 0 });
    expect((await c.wait(id, { timeout: 5000 })).outcome).toBe('succeeded');
    expect((await c.stats()).paused).toBe(false);

    // a swarm paused as a whole is not resumed by resume('*')
    await c.pause();
    await expect(c.resume('*')).rejects.toThrow(ConfigError);
    expect((await c.stats()).paused).toBe(true);
    const held = await c.submit('job', { ms: 0 });
    await new Promise((r) => setTimeout(r, 300));
    expect((await c.get(held))!.state).toBe('QUEUED');
    expect(await c.resume()).toBe(true);
    expect((await c.wait(held, { timeout: 5000 })).outcome).toBe('succeeded');

    // the CLI says so too (usage error), and pauses nothing
    const run = (...argv: string[]) => runMain([...argv, '--key-prefix', o.keyPrefix], { REDIS_URL: server.url });
    const r = await run('pause', '*');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\*/);
    expect((await c.stats()).paused).toBe(false);
    const after = await c.submit('job', { ms: 0 });
    await until(async () => (await c.get(after))?.state === 'END', 'the job to run', 5000);
  });
});
