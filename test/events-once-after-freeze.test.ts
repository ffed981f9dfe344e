/**
 * A task's events are heard once each across a Redis freeze: the worker's batch of events sent
 * as Redis froze is failed at its command's timeout and sent again once Redis answers, while
 * Redis, thawed, runs the first sending too. Before, the event of that batch was published twice
 * (a subscriber counting `progress` events heard 5 twice).
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a task's events across a Redis freeze", () => {
  it('are each heard once, in order, the freeze longer than the worker\'s command timeout', async () => {
    const o = server.options();
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 200, logger: quiet });
    const total = 30;
    w.addTaskFunction('steps', async (task) => {
      for (let done = 1; done <= total; done++) {
        await sleep(100);
        task.emit('step', { done });
      }
      return 'ok';
    });
    const c = new Client({ redis: o });
    const listener = new Client({ redis: o });
    cleanup.push(() => listener.close(), () => c.close(), () => w.stop());
    cleanup.push(async () => server.thaw());
    await w.start();
    const id = c.drawId();
    const heard: number[] = [];
    const off = listener.subscribe(id, (ev) => {
      if (ev.event === 'step') heard.push((ev.data as { done: number }).done);
    });
    await off.ready;
    await c.submit('steps', null, { id });
    await until(() => heard.length >= 5, 'the first steps heard');
    server.freeze();
    // past the worker's command timeout (max(1 s, 2 x heartbeatInterval)): its batch is failed, held, sent again
    await sleep(3000);
    server.thaw();
    await until(async () => (await c.get(id))?.state === 'END', 'the task ended', 20_000);
    await sleep(300);
    // (events emitted while Redis was away are held and sent after; none is heard twice)
    expect(heard.filter((n, i) => heard.indexOf(n) !== i)).toEqual([]);
    expect(heard).toEqual([...heard].sort((a, b) => a - b));
    expect(heard.at(-1)).toBe(total);
  }, 40_000);
});
