/**
 * A control `stop` sent for a task its sender saw RUNNING, which lands while the task waits out
 * a retry's backoff (DELAYED: its attempt failed just before): no worker holds the task to hear
 * the message, and stop.lua marked only a RUNNING task, so the next attempt ran to its end,
 * though the task was told to stop. A stop there now cancels the task (cancel.lua takes it out
 * of the delayed set and ends it `cancelled`): the next attempt never runs. The CLI's `control
 * <id> stop` does the same there, and says so (it refused the task as "delayed, not running yet").
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { runMain } from './helpers/cli.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

describe('a control stop that lands between two attempts of a task', () => {
  it.each([
    { by: 'Client.control', stop: (c: Client, id: string) => c.control(id, 'stop') },
    {
      by: 'the CLI',
      stop: async (_: Client, id: string, prefix: string) => {
        const r = await runMain(['control', id, 'stop', '--key-prefix', prefix], { REDIS_URL: server.url });
        expect(r).toEqual({ code: 0, stdout: `task ${id} was between attempts (a retry's backoff): cancelled, its next attempt will not run\n`, stderr: '' });
      },
    },
  ])('sent by $by: holds, the next attempt does not run', async ({ stop }) => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 100 });
    let runs = 0;
    w.addTaskFunction('flaky', async () => {
      runs++;
      if (runs === 1) throw new Error('first attempt fails');
      await new Promise((r) => setTimeout(r, 300));
      return 'ran again';
    });
    cleanup.push(() => w.stop());
    await w.start();
    const id = await c.submit('flaky', null, { attempts: 3, backoff: 1000 });
    await until(async () => (await c.get(id))?.state === 'DELAYED', 'the task in its backoff');
    await stop(c, id, o.keyPrefix);
    const end = await c.wait(id, { timeout: 10_000 });
    expect({ runs, outcome: end.outcome }).toEqual({ runs: 1, outcome: 'cancelled' });
  }, 30_000);
});
