/**
 * A `stop` for a task running here, which ends it, then the same id submitted again at once (a
 * restart of the task): the worker's idle wait, sent before the stop, claims the new submission.
 * The stop was the old claim's: the new claim, a task submitted after it, must not get it
 * (src/early-control.ts keeps a message for a claim on its way only when no claim of the id
 * runs here, or its function has returned and its END may carry a retry's claim).
 *
 * The stop sent again once the function has returned, its END on its way (a user who clicks
 * twice), is kept for a claim of the id on its way, since the END of a failed attempt may carry
 * the claim of its retry. That END was the task's end and carried none: what was kept for the id
 * is forgotten once such an END is written. Kept on, it reached the id submitted again, which
 * ended `stopped` without anyone stopping it. The END's answer is held back there by a proxy that
 * holds what Redis sends on the worker's command connection.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { startProxy } from './helpers/tcp-proxy.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const aborted = (signal: AbortSignal) => new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));

/**
 * Task `x` stopped while the worker's second slot waits idle; with `stopAgain`, a second stop
 * sent while its END's answer is held back. Then x's hash is deleted (as endRetention does) and
 * the id submitted again: what that new task ends with.
 */
async function resubmittedAfterStop(stopAgain: boolean): Promise<{ outcome: string | undefined; result: unknown }> {
  const o = server.options();
  const keys = buildKeys(resolveRedisConfig(o));
  const proxy = await startProxy(server.host, server.port);
  const w = new Worker({ port: 0, redis: { ...o, host: '127.0.0.1', port: proxy.port }, heartbeatInterval: 2000, fetchTaskInterval: 20_000, concurrency: 2 });
  // returns at its stop; with stopAgain, the answer to its END waits in the proxy
  w.addTaskFunction('held', async (t) => {
    await aborted(t.signal);
    if (stopAgain) proxy.hold((hello) => hello.includes(':command'));
  });
  w.addTaskFunction('fresh', (t) => Promise.race([aborted(t.signal).then(() => 'stopped'), sleep(500).then(() => 'ran')]));
  const c = new Client({ redis: o });
  cleanup.push(
    () => proxy.close(),
    async () => {
      proxy.heal();
      await w.stop();
    },
    () => c.close(),
  );
  await w.start();

  const x = await c.submit('held', null, { id: 'x' });
  await until(async () => (await c.get(x))?.state === 'RUNNING', 'the task running');
  // the second slot's idle wait, whose claim will take the id submitted again
  const isBlocked = (line: string) => / flags=\w*b/.test(line) && / cmd=blmove/.test(line);
  await until(async () => String(await redis.call('CLIENT', 'LIST', 'TYPE', 'normal')).split('\n').some(isBlocked), 'the worker blocked on the queue');

  await c.control(x, 'stop');
  if (stopAgain) {
    await sleep(200);
    // its function has returned and its END is written, the answer not back at the worker yet
    expect((await c.get(x))?.outcome).toBe('stopped');
    await c.control(x, 'stop');
    await sleep(100);
    proxy.heal();
  }
  expect(await c.wait(x, { timeout: 5000 })).toMatchObject({ outcome: 'stopped' });
  await redis.del(keys.task(x));
  await c.submit('fresh', null, { id: x });

  const end = await c.wait(x, { timeout: 5000 });
  return { outcome: end.outcome, result: end.result };
}

describe('a task stopped, then its id submitted again and claimed by an idle wait sent before the stop', () => {
  it('runs to its end: the stop was the old claim', async () => {
    expect(await resubmittedAfterStop(false)).toEqual({ outcome: 'succeeded', result: 'ran' });
  }, 30_000);

  it('runs to its end when the stop was sent again while the stopped task ended: both stops were the old claim', async () => {
    expect(await resubmittedAfterStop(true)).toEqual({ outcome: 'succeeded', result: 'ran' });
  }, 30_000);
});
