/**
 * A control `stop` of a task queued again after a claim was two commands: stop.lua judged the
 * task `between` two attempts, and the Client then ran cancel.lua. A worker whose claim ran
 * between the two (the window is a round trip, and a task queued again is what idle workers
 * take first) started the task's next attempt, though the stop had already found it between
 * attempts; a quick function ended before the cancel came, the cancel found it ended, and
 * `control` resolved `ended`: the stop was accepted, the run it was to prevent happened. Judged
 * and cancelled in one script (cancel.lua's stop), no claim comes between.
 * The window is stood for here by a claim and an end run where Client.control called `cancel`
 * (it calls it no more: the stand-in then never runs, and the task is cancelled).
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

describe('a stop of a task queued again, claimed between stop.lua and the cancel', () => {
  it('its next attempt does not run: the stop that found it between attempts holds', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());

    // a task handed back by a worker that stopped as it ran: QUEUED again, attempt 0, claims 1
    let firstRuns = 0;
    const w1 = new Worker({ port: 0, redis: o, stopGrace: 100 });
    w1.addTaskFunction('job', (t) => {
      firstRuns++;
      return new Promise((_, reject) => t.signal.addEventListener('abort', () => reject(new Error('aborted'))));
    });
    cleanup.push(() => w1.stop());
    await w1.start();
    const id = await c.submit('job');
    await until(async () => firstRuns === 1, 'the first attempt running');
    await w1.stop();
    expect(await c.get(id)).toMatchObject({ state: 'QUEUED', attempt: 0 });

    // between the two commands: a worker of `job` claims the task and its quick function ends
    let nextRuns = 0;
    const cancel = c.cancel.bind(c);
    c.cancel = async (taskId: string) => {
      const w2 = new Worker({ port: 0, redis: o });
      w2.addTaskFunction('job', async () => {
        nextRuns++;
        return 'ran';
      });
      cleanup.push(() => w2.stop());
      await w2.start();
      await until(async () => (await c.get(taskId))?.state === 'END', 'the task ended on the worker that claimed it', 10_000);
      return cancel(taskId);
    };

    const said = await c.control(id, 'stop');
    const after = await c.get(id);
    // what happened: it ran again to its end, and control says `ended`
    expect({ said, nextRuns, outcome: after?.outcome }).toEqual({ said: 'cancelled', nextRuns: 0, outcome: 'cancelled' });
  }, 30_000);
});
