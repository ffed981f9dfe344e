/**
 * `task-swarm control <id> stop` prints from what the stop did (Client.control's answer), but
 * names the task's worker and state from reads made apart from the stop: the worker from the
 * read before it, the state from a read after it. A task that moved between those reads and
 * the stop is misnamed:
 * - RUNNING on one worker at the read, handed back and claimed by another before the stop: the
 *   stop reaches it on the second, and the CLI says it sent it to the first;
 * - queued at the stop (no claim yet: nothing done), claimed before the read after it: the CLI
 *   says it "is queued, not running yet", and to cancel it, while it runs.
 * The moves are stood for by a worker's hand-back and a claim run where the CLI calls
 * Client.control (before it, and after it).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { runMain } from './helpers/cli.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const control = Client.prototype.control;
afterEach(() => {
  Client.prototype.control = control;
});

/** a worker of `job` whose function runs until aborted; `runs` counts its calls */
async function holdingWorker(o: ReturnType<RedisServer['options']>, stopGrace?: number) {
  const seen = { runs: 0 };
  const w = new Worker({ port: 0, redis: o, ...(stopGrace === undefined ? {} : { stopGrace }) });
  w.addTaskFunction('job', (t) => {
    seen.runs++;
    return new Promise((_, reject) => t.signal.addEventListener('abort', () => reject(new Error('aborted'))));
  });
  cleanup.push(() => w.stop());
  await w.start();
  return { w, seen };
}

describe('the CLI stop of a task that moved since it was read', () => {
  it('handed back and claimed by another worker before the stop: names the worker the stop reached', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const first = await holdingWorker(o, 100);
    const id = await c.submit('job');
    await until(async () => first.seen.runs === 1, 'the task running on the first worker');
    expect(await c.get(id)).toMatchObject({ state: 'RUNNING', worker: first.w.address });
    let second: Awaited<ReturnType<typeof holdingWorker>> | undefined;
    Client.prototype.control = async function (this: Client, ...args: Parameters<Client['control']>) {
      await first.w.stop();
      second = await holdingWorker(o);
      await until(async () => (await c.get(id))?.state === 'RUNNING', 'the task running on the second worker');
      return control.apply(this, args);
    };
    const r = await runMain(['control', id, 'stop', '--key-prefix', o.keyPrefix!], { REDIS_URL: server.url });
    expect(r.stdout).toBe(`sent stop to task ${id} (running on ${second!.w.address})\n`);
  }, 30_000);

  it('queued at the stop, claimed before the read after it: does not say it is queued', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('job');
    Client.prototype.control = async function (this: Client, ...args: Parameters<Client['control']>) {
      const said = await control.apply(this, args);
      const w = await holdingWorker(o);
      await until(async () => w.seen.runs === 1, 'the task running');
      return said;
    };
    const r = await runMain(['control', id, 'stop', '--key-prefix', o.keyPrefix!], { REDIS_URL: server.url });
    expect(await c.get(id)).toMatchObject({ state: 'RUNNING' });
    expect(r.stderr).not.toMatch(/is queued, not running yet/);
  }, 30_000);
});
