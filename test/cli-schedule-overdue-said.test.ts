/**
 * An unchanged schedule keeps its due time, which is long past when no monitor has run to fire
 * it. Since `schedule` said what it set from its own call's answer (not from a read of
 * `schedules()`), setting it again said "unchanged ...; next <a time gone>", where `schedules`
 * says "(overdue by 10 min: no monitor runs to fire it; ...)": a deployment that sets its
 * schedules at each start was told nothing of it. It says it as `schedules` does, of that tick.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
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

const swarm = () => cliSwarm(server, redis, `overdue-said${++n}:`);

describe('schedule set again, unchanged, while its tick is overdue', () => {
  it('says it is overdue and why, as schedules lists it', async () => {
    const s = swarm();
    const argv = ['schedule', 'nightly', 'report', '--cron', '0 3 * * *', '--tz', 'Europe/Berlin', '--overlap', 'skip'];
    const first = await s.run(...argv);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).not.toMatch(/overdue/);
    // no monitor ran for ten minutes past its tick (its due time, as a monitor-less stretch leaves it)
    const [, time] = (await redis.multi().time().exec())![0]!;
    const now = Number((time as string[])[0]) * 1000;
    await redis.zadd(`${s.prefix}new-task:schedules:due`, now - 600_000, 'nightly');

    const again = await s.run(...argv);
    expect(again).toMatchObject({ code: 0, stderr: '' });
    expect(again.stdout).toMatch(/^unchanged "nightly": cron "0 3 \* \* \*" Europe\/Berlin -> "report", overlap skip; next \S+ \(overdue by 10 min: no monitor runs to fire it; schedules fire only while one does\)\n$/);
    // what schedules lists, but for what the set does not say (its last firing)
    const listed = await s.run('schedules');
    expect(listed.stdout).toBe(`${again.stdout.trim().replace(/^unchanged /, '')}; not fired yet\n`);
    await s.client.close();
  });

  it('says nothing of it when the tick is not overdue', async () => {
    const s = swarm();
    expect((await s.run('schedule', 'often', 'f', '--every', '60000')).code).toBe(0);
    const again = await s.run('schedule', 'often', 'f', '--every', '60000');
    expect(again.stdout).toMatch(/^unchanged "often": every 60000 ms -> "f"; next \S+\n$/);
    await s.client.close();
  });
});
