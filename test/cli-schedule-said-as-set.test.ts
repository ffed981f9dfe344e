/**
 * `task-swarm schedule` said what it set from a second read (`schedules()`) made after the set:
 * another client that set a schedule of the same name in between had its schedule described as
 * the one this command set. It now says what its own call set, with the next tick that call
 * answered (read in the set's own step, set-schedule.lua).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { cliSwarm } from './helpers/cli.js';

let server: RedisServer;
let redis: Redis;
let n = 0;

redisPerFile((s, r) => {
  server = s;
  redis = r;
});
afterEach(() => {
  vi.restoreAllMocks();
});

const swarm = () => cliSwarm(server, redis, `said-as-set${++n}:`);

describe('schedule says what it set', () => {
  it('not the schedule of that name another client set just after it', async () => {
    const s = swarm();
    const other = new Client({ redis: { ...server.options(), keyPrefix: s.prefix } });
    // the CLI's own set (its Client runs in this process), and then, before anything else it
    // does, another client's set of the same name
    const set = Client.prototype.schedule;
    vi.spyOn(Client.prototype, 'schedule').mockImplementation(async function (this: Client, ...args: Parameters<Client['schedule']>) {
      const r = await set.apply(this, args);
      if (this !== other) await set.call(other, 'nightly', { every: 999_000 }, 'someone-else');
      return r;
    });
    const r = await s.run('schedule', 'nightly', 'report', '{"k":1}', '--cron', ' 0 3 * * * ', '--overlap', 'skip');
    expect(r.code, r.stderr).toBe(0);
    // (the cron as the library stores it, trimmed; the zone it reads it in, UTC when none given)
    expect(r.stdout).toMatch(/^scheduled "nightly": cron "0 3 \* \* \*" UTC -> "report", overlap skip; next \d{4}-\d\d-\d\dT03:00:00\.000Z\n$/);
    // (the other client's set is what is stored now: the line above is not a read of it)
    expect(await s.client.schedules()).toMatchObject([{ name: 'nightly', fn: 'someone-else', spec: { every: 999_000 } }]);
    await other.close();
    await s.client.close();
  });

  it('set again unchanged, says so, with the next tick kept', async () => {
    const s = swarm();
    expect((await s.run('schedule', 'poll', 'ping', '--every', '60000')).code).toBe(0);
    const [before] = await s.client.schedules();
    const again = await s.run('schedule', 'poll', 'ping', '--every', '60000');
    expect(again).toMatchObject({ code: 0, stderr: '', stdout: `unchanged "poll": every 60000 ms -> "ping"; next ${new Date(before!.next!).toISOString()}\n` });
    await s.client.close();
  });
});
