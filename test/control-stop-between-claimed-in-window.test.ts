/**
 * A control `stop` of a task queued again after a claim was two commands: stop.lua judged the
 * task `between` two attempts, and the Client then ran cancel.lua. A worker whose claim ran
 * between the two (the window is a round trip, and a task queued again is what idle workers
 * take first) started the task's next attempt, though the stop had already found it between
 * attempts; a quick function ended before the cancel came, the cancel found it ended, and
 * `control` resolved `ended`: the stop was accepted, the run it was to prevent happened. And the
 * cancel was by id alone: a task ended and cleaned up in the window (`endRetention: 0`), its id
 * submitted again, the cancel ended the new task `cancelled`. Judged and cancelled in one script
 * (cancel.lua's stop), no claim comes between.
 * The window is opened here as it is met: by a slow link between the client and Redis (a
 * dashboard far from it), through a proxy adding a second each way, the function's claims
 * resumed once the stop has run.
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { handedBack } from './helpers/queued-again.js';
import type { RedisServer } from './helpers/redis-server.js';
import { proxyToRedis } from './helpers/tcp-proxy.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a stop of a task queued again, a claim coming as the stop answers', () => {
  it('through a slow link (a second each way): the stop that found it between attempts holds', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const proxy = await proxyToRedis(server, cleanup);
    const slow = new Client({ redis: { ...o, host: '127.0.0.1', port: proxy.port } });
    cleanup.push(() => slow.close());
    // (its first calls made before the link slows: what it learns once is learnt)
    expect(await slow.control(await c.submit('other'), 'stop')).toBe('waiting');
    // a task handed back by a worker of `job` that stopped as it ran: QUEUED again, attempt 0, claims 1
    const id = await handedBack(o, c, cleanup, 'job');
    expect(await c.get(id)).toMatchObject({ state: 'QUEUED', attempt: 0 });
    // an idle worker of `job`, its claims held back until the stop has run in Redis
    await c.pause('job');
    let nextRuns = 0;
    const w2 = new Worker({ port: 0, redis: o });
    w2.addTaskFunction('job', async () => {
      nextRuns++;
      return 'ran';
    });
    cleanup.push(() => w2.stop());
    await w2.start();
    proxy.delay(1000);
    const stopping = slow.control(id, 'stop');
    // the stop has run in Redis (at 1 s), its answer on its way back (a second cancel would have come at 3 s)
    await sleep(1500);
    await c.resume('job');
    const said = await stopping;
    const after = await c.get(id);
    expect({ said, nextRuns, outcome: after?.outcome }).toEqual({ said: 'cancelled', nextRuns: 0, outcome: 'cancelled' });
  }, 30_000);
});
