/**
 * The chaos soak's check of a cancelled task (test/chaos/mix.ts) holds for a correct system: the
 * cancel's first try runs in Redis and its reply is lost with the connection (the client says
 * it "may still run"); the mix tries again, and the second cancel answers `ended` (the first one
 * ended it, cancelled). The check demanded `succeeded` for a cancel answered `ended`.
 */
import { describe, expect, it } from 'vitest';
import { Client, RedisUnavailableError } from '../src/index.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { mixedTasks } from './chaos/mix.js';

let server: RedisServer;
const cleanup = redisPerFile((s: RedisServer) => {
  server = s;
});

describe('the chaos mix check of a cancel retried after its reply was lost', () => {
  it('finds nothing wrong with a task that ended cancelled by that cancel', async () => {
    const c = new Client({ redis: server.options() });
    cleanup.push(() => c.close());
    let lost = 1;
    // the client as the soak sees it when the connection drops after the cancel ran
    const client = new Proxy(c, {
      get(target, prop) {
        if (prop === 'cancel')
          return async (id: string) => {
            const r = await target.cancel(id);
            if (lost-- > 0) throw new RedisUnavailableError('cannot reach Redis: connection closed after the call was sent; the call may still run when Redis answers');
            return r;
          };
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    // (the draw: kind 'cancelled', every range at its low end: cancelled at once)
    const mix = mixedTasks(client, () => 0.95, (a) => a);
    await mix.submitOne('cancel-me');
    await mix.tearDown().catch(() => {});
    const ids = mix.ids([], []);
    const infos = await Promise.all(ids.map((id) => c.get(id)));
    expect(infos[0]).toMatchObject({ state: 'END', outcome: 'cancelled' });
    expect(mix.check(ids, infos, new Map(), { scheduleLines: [], name: 'chaos-tick', inRedis: [], ends: new Map(), runs: new Map() }, {})).toEqual([]);
  }, 20_000);
});
