/**
 * An idle worker blocks on Redis on a connection of its own. Gone silent while the others
 * answer (a proxy, a NAT or a firewall that dropped it without a word), that wait never
 * answered: the worker took nothing more, and said nothing, its heartbeats passing. The wait now
 * fails a command's timeout past its own poll: its connection is dropped and made again, its
 * claim recovered (what it took handed back), and the operator told at WARN, once.
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startProxy } from './helpers/tcp-proxy.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { levelledLogger } from './helpers/collecting-logger.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("an idle worker whose wait's connection goes silent while Redis answers its heartbeats", () => {
  for (const partitions of [1, 3]) {
    it(`takes its tasks all the same, each run once, and says so at WARN once (${partitions} partition(s))`, async () => {
      const o = { ...server.options(), ...(partitions > 1 ? { partitions, keyPrefix: `{wcs}:` } : {}) };
      const proxy = await startProxy(o.host, o.port);
      cleanup.push(() => proxy.close());
      const { at, logger } = levelledLogger();
      const w = new Worker({ port: 0, redis: { ...o, port: proxy.port }, logger, heartbeatInterval: 200, fetchTaskInterval: 500 });
      const runs = new Map<unknown, number>();
      w.addTaskFunction('f', ({ data }) => void runs.set(data, (runs.get(data) ?? 0) + 1));
      cleanup.push(() => w.stop());
      await w.start();
      const c = new Client({ redis: o });
      cleanup.push(() => c.close());
      await sleep(300);
      // every blocking connection, open and made later: its replies held, its requests sent on
      expect(proxy.hold((hello) => hello.includes(':blocking'))).toBeGreaterThan(0);
      await sleep(300);
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        ids.push(await c.submit('f', i));
        await sleep(400);
      }
      const ended = await Promise.all(ids.map((id) => c.wait(id, { timeout: 15_000 })));
      expect(ended.map((t) => t.outcome)).toEqual(ids.map(() => 'succeeded'));
      expect([...runs.values()]).toEqual(ids.map(() => 1));
      expect(at('warn').filter((l) => /the wait for a task had no answer in \d+ ms, while Redis answered this worker's heartbeats/.test(l))).toHaveLength(1);
    }, 40_000);
  }

  it('Redis frozen in the last heartbeat of a wait: the outage is not blamed on the wait\'s connection', async () => {
    const o = server.options();
    const { at, logger } = levelledLogger();
    const w = new Worker({ port: 0, redis: o, logger, heartbeatInterval: 200, fetchTaskInterval: 500 });
    w.addTaskFunction('f', () => 1);
    cleanup.push(() => w.stop());
    cleanup.push(async () => server.thaw());
    const waitingAt: number[] = [];
    // (entered from another state: a wait sent now; re-entered after a poll, no event)
    w.on('state', (s) => JSON.stringify(s).includes('"waiting"') && waitingAt.push(performance.now()));
    await w.start();
    for (let round = 0; round < 10; round++) {
      const n = waitingAt.length;
      await until(() => waitingAt.length > n, 'waiting', 15_000, 1);
      // frozen in the wait's last heartbeat interval
      await sleep(Math.max(0, waitingAt.at(-1)! + 500 - 20 - (round % 5) * 40 - performance.now()));
      server.freeze();
      await sleep(2500);
      server.thaw();
    }
    expect(at('warn').filter((l) => /while Redis answered this worker's heartbeats/.test(l))).toEqual([]);
  }, 120_000);
});
