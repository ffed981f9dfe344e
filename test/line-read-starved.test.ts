/**
 * A producer (its rules refuse the library's load) whose Redis lost the library: its submits keep
 * coming, each refused. A read made meanwhile must answer, as it did before: nothing it could
 * wait for will come (the load is refused), and docs/semantics.md says none of its calls waits.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, aclRule } from '../src/index.js';
import { resolveRedisConfig } from '../src/config.js';
import { startRedis } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

describe('a read of a producer beside a steady stream of refused submits', () => {
  it('answers while the submits go on, each read made once', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const admin = server.client();
    const o = server.options();
    await admin.call('ACL', 'SETUSER', 'p', ...aclRule('producer', resolveRedisConfig(o)).split(' '), '>pw');
    const full = new Client({ redis: o });
    cleanup.push(() => full.close());
    await full.submit('f', 0, { id: 'set-up' });
    const c = new Client({ redis: { ...o, username: 'p', password: 'pw' } });
    cleanup.push(() => c.close());
    await c.submit('f', 0, { id: 'warm' });
    await admin.function('FLUSH');

    // submits, one a turn, for 3 s (each refused: NOPERM or not found)
    let stop = false;
    const stream = (async () => {
      for (let i = 0; !stop; i++) {
        void c.submit('f', i, { id: `s${i}` }).catch(() => {});
        await new Promise((r) => setImmediate(r));
      }
    })();
    const streamEnds = new Promise<void>((r) => setTimeout(() => ((stop = true), r()), 3000));
    const execs = async () => Number(/cmdstat_exec:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
    const before = await execs();
    const gets: Promise<unknown>[] = [];
    while (!stop) {
      await new Promise((r) => setTimeout(r, 50));
      gets.push(c.get('warm'));
    }
    await streamEnds;
    await stream;
    // each answers, with the task
    for (const g of await Promise.all(gets)) expect(g).toMatchObject({ id: 'warm' });
    // and each was read once (a get is one MULTI): not made again and again behind every refused
    // submit that began a reload, as it was (a read's median wait 0.2 to 1 s)
    expect(gets.length).toBeGreaterThan(10);
    expect((await execs()) - before).toBe(gets.length);
  });
});
