/**
 * A stop's hand-back that Redis did not answer (Redis down as stopGrace ends) is tried again from
 * then on, beside the halt. When Redis is back, empty, by then, and abortTimeout is 0 (the retry's time
 * is abortTimeout):
 * - no task is left RUNNING in Redis under the lease of the worker that stopped: a task
 *   re-asserted from the worker's memory is handed back with it, never re-asserted alone;
 * - the ids the worker logs as not handed back are the ones that were not: a task it did hand
 *   back is not named as left for a monitor.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, until } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const lines: string[] = [];
const t0 = Date.now();
const log = (k: string) => (m: string) => lines.push(`${Date.now() - t0} ${k} ${m}`);
const quiet = { debug() {}, info: log('info'), warn: log('warn'), error: log('error') };

/** n tasks running when stopGrace ends with Redis down; Redis back, empty, before the worker leaves */
async function stopWithRedisBackEmpty(n: number) {
  lines.length = 0;
  const server = await startRedis();
  cleanup.push(() => server.stop());
  const o = server.options();
  const w = new Worker({ port: 0, redis: o, heartbeatInterval: 2500, stopGrace: 500, abortTimeout: 0, concurrency: 50, logger: quiet });
  let runs = 0;
  w.addTaskFunction('long', ({ signal }) => new Promise<void>((resolve) => ((runs += 1), signal.addEventListener('abort', () => resolve()))));
  cleanup.push(() => w.stop());
  await w.start();
  const c = new Client({ redis: o });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await c.submit('long'));
  await until(() => runs === n, 'running');
  await until(async () => (await Promise.all(ids.map((id) => c.get(id)))).every((t) => t?.state === 'RUNNING'), 'RUNNING in Redis');
  await c.close();
  const stopped = w.stop();
  await new Promise((r) => setTimeout(r, 200));
  await server.kill();
  await until(() => lines.some((l) => / warn handingBack: /.test(l)), 'the hand-back failed');
  await server.start(); // back, empty, before the worker leaves
  await stopped;
  const c2 = new Client({ redis: o });
  cleanup.push(() => c2.close());
  const tasks = await Promise.all(ids.map(async (id) => ({ id, state: (await c2.get(id))?.state ?? 'absent' })));
  return { tasks, said: `the worker said:\n${lines.join('\n')}` };
}

describe('a stop whose hand-back Redis did not answer, abortTimeout 0, Redis back empty as the worker leaves', () => {
  it('leaves no task RUNNING under the stopped worker\'s lease', async () => {
    const { tasks, said } = await stopWithRedisBackEmpty(30);
    const running = tasks.filter((t) => t.state === 'RUNNING');
    expect(running, `RUNNING after the stop: ${running.map((t) => t.id).join(', ')}; ${said}`).toEqual([]);
  }, 60_000);

  it('names as not handed back only the tasks it did not hand back', async () => {
    const { tasks, said } = await stopWithRedisBackEmpty(1);
    const named = lines.filter((l) => l.includes('could not hand back')).join('\n');
    const queuedButNamed = tasks.filter((t) => t.state === 'QUEUED' && named.includes(t.id));
    expect(queuedButNamed, `queued, yet named as not handed back; ${said}`).toEqual([]);
  }, 60_000);
});
