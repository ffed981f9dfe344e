/**
 * A schedule's refusal names the schedule (and its cron) on one line. A name may hold the C1
 * controls (only C0 and DEL are refused: an earlier version took such names, and reads them
 * back), and escapeControls now shows them as escapes wherever a schedule is listed; but the
 * refusals built the name into `schedule "<name>"` by hand, and the cron with JSON.stringify,
 * which leave NEL (a line break to terminals and to Python's splitlines), CSI (a terminal
 * escape) and U+2028 raw: `task-swarm schedule` printed them as they came.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSchedule } from '../src/schedule.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';
import { cliSwarm } from './helpers/cli.js';

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const RAW_CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/;

let server: RedisServer;
let redis: Redis;
beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('taken');
}

describe('a schedule refused', () => {
  it('names a schedule holding NEL or CSI with the characters escaped (library)', () => {
    for (const name of ['night\u0085ly', 'night\u009b2Jly', 'night\u2028ly']) {
      const m = refusal(() => checkSchedule(name, { every: 1 }, 'f', null, {}));
      expect(m).toMatch(/^schedule "night\\u[0-9a-f]{4}(?:2J)?ly": every must be/);
      expect(m).not.toMatch(RAW_CONTROLS);
    }
    const m = refusal(() => checkSchedule('n', { cron: 'x\u0085y' }, 'f', null, {}));
    expect(m).toMatch(/does not parse/);
    expect(m).not.toMatch(RAW_CONTROLS);
  });

  it('by the CLI: one line, the name escaped, as `schedules` lists it', async () => {
    const { run, client } = cliSwarm(server, redis, `schedline${Date.now()}:`);
    try {
      for (const argv of [
        // (a zone the library refuses: --every 1 is refused by the flag's own bounds now, naming no schedule)
        ['schedule', 'night\u009b2Jly', 'f', '--cron', '0 3 * * *', '--tz', 'Mars/Olympus'],
        // (a cron with no tick left, refused on Redis's clock)
        ['schedule', 'night\u0085ly', 'f', '--cron', '0 0 0 1 1 * 2020'],
      ]) {
        const r = await run(...argv);
        expect(r.code, r.stderr).not.toBe(0);
        expect(r.stderr).toMatch(/schedule "night\\u[0-9a-f]{4}(?:2J)?ly"/);
        expect(r.stderr.trimEnd()).not.toMatch(RAW_CONTROLS);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
    } finally {
      await client.close();
    }
  });
});
