/**
 * Two claims on their way (lanes, concurrency >= 32), under faults: whatever path the worker
 * takes while a claim is out (one claim's reply lost while the other answers, Redis frozen, the
 * worker stopped), no task is stranded RUNNING, lost, or run twice. Real Redis, no monitor: a
 * task left RUNNING under a lease nobody renews would never end, and what a test counts shows it.
 *
 * A lost reply is made for real where it can be (Redis frozen past the command timeout: the
 * claim runs at the thaw, its reply is dropped), and otherwise at the worker's connection: the
 * claim runs in Redis, and its caller is told the reply never came, as a command timeout tells it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis, type Command } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { library } from '../src/scripts.js';
import { startRedis, until } from './helpers/redis-server.js';
import { stateCounts, submitInBatches } from './helpers/task-batches.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Lose the reply of one claim script (claim.lua or finish-claim.lua): the first to answer while
 * at least `others` claims sent after it are still on their way on the worker's connection. It
 * ran in Redis; its caller is told it failed, as a command timeout tells it, and `onLost` runs
 * then, before the failure reaches the worker machine. The replies of the claims on their way
 * then are slow (300 ms more), so that the worker hears the failure while they are out.
 */
function loseClaimReply(w: Worker, others: number, onLost: () => void): void {
  const claimFns = new Set([library().functions.claim, library().functions['finish-claim']]);
  const redis = (w as unknown as { redis: Redis }).redis;
  // (every command reaches Redis through sendCommand, however it was made: src/scripts.ts builds
  // its FCALLs itself; a command ioredis sends again after a reconnect passes through unwrapped)
  const send = redis.sendCommand.bind(redis) as (command: Command, ...rest: unknown[]) => Promise<unknown>;
  const seen = new WeakSet<Command>();
  let sent = 0;
  const onItsWay = new Set<number>();
  let lost = false;
  (redis as unknown as { sendCommand: (command: Command, ...rest: unknown[]) => Promise<unknown> }).sendCommand = (command: Command, ...rest: unknown[]) => {
    const reply = send(command, ...rest);
    if (command.name !== 'fcall' || !claimFns.has(String(command.args[0])) || seen.has(command)) return reply;
    seen.add(command);
    const k = ++sent;
    onItsWay.add(k);
    const slow = () => lost;
    return reply.then(
      async (v) => {
        onItsWay.delete(k);
        if (slow()) await sleep(300);
        else if (k > 3 && [...onItsWay].filter((j) => j > k).length >= others) {
          lost = true;
          onLost();
          throw new Error('Command timed out (the reply was lost)');
        }
        return v;
      },
      (e: unknown) => {
        onItsWay.delete(k);
        throw e;
      },
    );
  };
}

describe('a claim whose reply is lost as the worker stops: what it took goes back before the worker leaves', () => {
  it.each([
    { concurrency: 64, others: 1, heard: 'before', stoppedIn: { connected: 'fetching' }, what: 'the other claim on its way, stopped before the failure is heard' },
    { concurrency: 64, others: 1, heard: 'after', stoppedIn: { connected: 'claimFailed' }, what: 'the other claim on its way, stopped once the failure is heard (waiting for the other)' },
    // a worker alone in its swarm at concurrency 10 has lanes too (once a claim has counted it alone)
    { concurrency: 10, others: 1, heard: 'before', stoppedIn: { connected: 'fetching' }, what: 'alone at concurrency 10, the other claim on its way, stopped before the failure is heard' },
    { concurrency: 10, others: 1, heard: 'after', stoppedIn: { connected: 'claimFailed' }, what: 'alone at concurrency 10, the other claim on its way, stopped once the failure is heard' },
    // (below 10: a worker alone in its swarm from 10 to 31 has lanes too, src/worker.ts LONE_LANES_FROM)
    { concurrency: 8, others: 0, heard: 'before', stoppedIn: { connected: 'fetching' }, what: 'one claim at a time, stopped before the failure is heard' },
  ])('$what', async ({ concurrency, others, heard, stoppedIn }) => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    const runs = new Map<string, number>();
    const run = async (task: { id: string }) => {
      runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
      await sleep(5);
    };
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const ids = await submitInBatches(c, 'quick', 3000);
    const r = new Redis(o);
    cleanup.push(() => r.disconnect());
    const w = new Worker({ port: 0, redis: o, concurrency, logger: quiet });
    w.addTaskFunction('quick', run);
    let stopping: Promise<void> | undefined;
    let state: unknown;
    const stop = () => {
      state = (w as unknown as { actor: { getSnapshot(): { value: unknown } } }).actor.getSnapshot().value;
      stopping = w.stop();
    };
    loseClaimReply(w, others, () => {
      if (heard === 'before') stop();
      else setTimeout(stop, 50);
    });
    await w.start();
    await until(() => stopping !== undefined, 'the lost reply', 20_000);
    await stopping;
    expect(state).toEqual(stoppedIn);
    // nothing of this worker is left RUNNING: what it claimed either ended or went back
    expect(await r.zcard('tasks:leases'), 'tasks still leased after the worker stopped').toBe(0);
    const last = new Worker({ port: 0, redis: o, concurrency: 32, logger: quiet });
    last.addTaskFunction('quick', run);
    cleanup.push(() => last.stop());
    await last.start();
    await until(async () => (await stateCounts(r, ids)).get('END') === ids.length, 'every task ended', 60_000);
    expect([...runs.values()].filter((n) => n > 1)).toEqual([]);
  }, 90_000);
});

/** the tasks leased (RUNNING) in every partition of the swarm of keyPrefix `{tag}:` */
async function leasedIn(r: Redis, tag: string): Promise<number> {
  let sum = 0;
  for (const key of await r.keys(`{${tag}*:tasks:leases`)) sum += await r.zcard(key);
  return sum;
}

describe('a claim on its way as the worker leaves (any claim: a lane, or the one a wait makes)', () => {
  it('an idle worker of a partitioned swarm, stopped as work arrives: what its wait went on to claim goes back before it leaves', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const N = 4;
    const redis = { port: server.port, keyPrefix: '{stopidle}:', partitions: N };
    const c = new Client({ redis });
    cleanup.push(() => c.close());
    const r = new Redis({ port: server.port });
    cleanup.push(() => r.disconnect());
    const runs = new Map<string, number>();
    const run = async (task: { id: string }) => {
      runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
      await sleep(20);
    };
    const ids: string[] = [];
    // each time: a worker idle on every partition's queue is woken by new work, and stopped
    // while it claims across the partitions (one round trip each)
    for (let round = 0; round < 12; round++) {
      const w = new Worker({ port: 0, redis, concurrency: 64, logger: quiet });
      w.addTaskFunction('quick', run);
      await w.start();
      await sleep(50);
      ids.push(...(await c.submitMany(Array.from({ length: 40 }, (_, i) => ({ fn: 'quick', data: i })))));
      await sleep(round % 4);
      await w.stop();
      expect(await leasedIn(r, 'stopidle'), `tasks still leased after worker ${round} stopped`).toBe(0);
    }
    const last = new Worker({ port: 0, redis, concurrency: 64, logger: quiet });
    last.addTaskFunction('quick', run);
    cleanup.push(() => last.stop());
    await last.start();
    await until(() => ids.every((id) => runs.has(id)), 'every task ran', 30_000);
    expect([...runs.values()].filter((n) => n > 1)).toEqual([]);
  }, 90_000);
});
