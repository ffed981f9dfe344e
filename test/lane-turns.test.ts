/**
 * Lanes take turns with Redis (docs/task-actors.md): while Redis runs one lane's claim, with the
 * ENDs it carries, the worker runs the other lane's tasks. When both lanes' answers reach the
 * worker in one read (Redis ran both claims in one of its turns, or the network held the first
 * reply until the second came), the worker takes them a turn apart, so that the lanes stay
 * apart: each lane's ENDs leave with that lane's next claim, never both lanes' in one batch.
 * Read off MONITOR, on a real Redis, through a proxy that holds the worker's replies.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { monitorRedis } from './helpers/monitor.js';
import { Worker } from '../src/index.js';
import { library } from '../src/scripts.js';
import { until } from './helpers/redis-server.js';
import { proxiedSwarm } from './helpers/proxied-swarm.js';
import { counting, stateCounts } from './helpers/task-batches.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** how many ENDs each finish.lua or finish-claim.lua call carries, in order, read off MONITOR */
async function endBatches(o: { host: string; port: number }): Promise<{ sizes: number[]; stop: () => void }> {
  const fns = library().functions;
  const out = { sizes: [] as number[], stop: () => {} };
  const m = await monitorRedis(o, (args) => {
    if (args[0]?.toLowerCase() !== 'fcall') return;
    const argv = args.slice(3 + Number(args[2]));
    if (args[1] === fns['finish-claim']) out.sizes.push(Number(argv[0]) / 4);
    else if (args[1] === fns.finish) out.sizes.push((argv.length - 1) / 4);
  });
  out.stop = () => m.stop();
  return out;
}

describe('two lanes whose answers arrive together', () => {
  it("are taken a turn apart: each lane's ENDs leave with its own next claim, and every task runs once", async () => {
    const { o, proxy, ids: { quick: ids }, r } = await proxiedSwarm(cleanup, { quick: 4000 });
    const runs = new Map<string, number>();
    // alone in its swarm at concurrency 10: two lanes of five
    const w = new Worker({ port: 0, redis: { ...o, port: proxy.port }, concurrency: 10, logger: quiet });
    w.addTaskFunction('quick', counting(runs, [], 0));
    const ends = await endBatches(o);
    cleanup.push(() => ends.stop(), () => w.stop());
    await w.start();
    await until(() => runs.size >= 1000, 'a thousand tasks run', 20_000);
    // Three times: hold the worker's replies while both lanes' claims are answered, then let
    // both reach it in one read.
    const after: number[] = [];
    for (let i = 0; i < 3; i++) {
      expect(proxy.hold((hello) => hello.includes(':command'))).toBe(1);
      await sleep(150);
      const from = ends.sizes.length;
      proxy.heal();
      await until(() => ends.sizes.length >= from + 4, 'the batches after the release', 10_000, 2);
      after.push(...ends.sizes.slice(from, from + 4));
      await sleep(50);
    }
    await until(async () => (await stateCounts(r, ids!)).get('END') === ids!.length, 'every task ended', 30_000);
    expect(Math.max(...after), `ENDs per batch after each release: ${after.join(' ')}`).toBeLessThanOrEqual(5);
    expect([...runs.values()].every((n) => n === 1) && runs.size === ids!.length).toBe(true);
  }, 60_000);
});
