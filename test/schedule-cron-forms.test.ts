/**
 * The cron forms `schedule` takes, as its help says them: croner's 5 fields, 6 with seconds
 * first, or 7 with a year last. The help named only the first two, though a 7-field expression
 * was taken (and one of a year past refused as never firing).
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { expectOneLine, runMain } from './helpers/cli.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
redisPerFile((s: RedisServer, _r: Redis) => {
  server = s;
});

const run = (prefix: string, ...argv: string[]) => runMain([...argv, '--key-prefix', prefix], { REDIS_URL: server.url });

describe('schedule --cron', () => {
  it('the help names the three forms, 7 fields with a year among them', async () => {
    const r = await runMain(['schedule', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain("The cron expression is croner's: 5 fields, 6 with seconds first, or 7 with a year last");
  });

  it.each([
    ['5 fields', '0 3 * * *'],
    ['6 fields, seconds first', '0 0 3 * * *'],
    ['7 fields, a year last', '0 0 3 * * * 2099'],
  ])('%s: set, and listed with its next tick', async (_form, cron) => {
    const prefix = server.options().keyPrefix;
    const r = await run(prefix, 'schedule', 'nightly', 'fn', '--cron', cron);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [listed] = JSON.parse((await run(prefix, 'schedules', '--json')).stdout) as { spec: { cron: string }; next: number }[];
    expect(listed!.spec.cron).toBe(cron);
    if (cron.endsWith('2099')) expect(new Date(listed!.next).toISOString()).toBe('2099-01-01T03:00:00.000Z');
  });

  it('7 fields of a year past: refused as never firing, status 2', async () => {
    const r = await run(server.options().keyPrefix, 'schedule', 'old', 'fn', '--cron', '0 0 3 * * * 2001');
    expectOneLine(r, 2, /^task-swarm: schedule "old": cron "0 0 3 \* \* \* 2001" never fires from now on\n$/);
  });
});
