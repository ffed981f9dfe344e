/**
 * A Client that queues work for a function no live worker serves (a misspelt name: `resise` for
 * `resize`) says so once in its logger, naming what the workers serve; the task is queued all
 * the same (a function named ahead of its deploy is legitimate). Nothing is said while no worker
 * runs at all (a producer may start first), nor of a served function, nor twice of one name.
 * Before, the task waited in silence; only the CLI warned.
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker, type LoggerLike } from '../src/index.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => (server = s));
let n = 0;
const quiet: LoggerLike = { debug() {}, info() {}, warn() {}, error() {} };

/** a swarm of its own (a key prefix), a Client whose warnings are kept, and a worker of `fns` when given */
async function swarm(fns?: string[]): Promise<{ client: Client; warnings: string[]; worker?: Worker; redis: { keyPrefix: string } }> {
  const redis = { ...server.options(), keyPrefix: `unserved-${++n}:` };
  const warnings: string[] = [];
  const client = new Client({ redis, logger: { ...quiet, warn: (...a: unknown[]) => warnings.push(a.map(String).join(' ')) } });
  cleanup.push(() => client.close());
  let worker: Worker | undefined;
  if (fns) {
    worker = new Worker({ port: 0, redis, logger: quiet });
    for (const fn of fns) worker.addTaskFunction(fn, (t) => t.data);
    await worker.start();
    cleanup.push(() => worker!.stop());
  }
  return { client, warnings, worker, redis };
}

describe('a Client queuing work for a function no live worker serves, while workers run', () => {
  it('warns once per name, naming what the workers serve; the task is queued all the same', async () => {
    const { client, warnings } = await swarm(['resize', 'report']);
    const id = await client.submit('resise', { w: 1 });
    await client.submit('resise', { w: 2 });
    await client.submit('resize', { w: 3 });
    await client.close();
    expect(warnings).toEqual(['submit: no live worker serves function "resise": the task waits until one that does starts; is the name right? (served: "report", "resize")']);
    const reader = new Client({ redis: { ...server.options(), keyPrefix: `unserved-${n}:` } });
    cleanup.push(() => reader.close());
    expect(await reader.get(id)).toMatchObject({ state: 'QUEUED', function: 'resise' });
  });

  it('submitMany and schedule say it too, for each name not served', async () => {
    const { client, warnings } = await swarm(['resize']);
    await client.submitMany([
      { fn: 'resize', data: 1 },
      { fn: 'thumb', data: 2 },
      { fn: 'thumb', data: 3 },
    ]);
    await client.schedule('nightly', { every: 60_000 }, 'reprot', {});
    await client.close();
    expect(warnings).toEqual([
      'submitMany: no live worker serves function "thumb": the task waits until one that does starts; is the name right? (served: "resize")',
      'schedule "nightly": no live worker serves function "reprot": the task waits until one that does starts; is the name right? (served: "resize")',
    ]);
  });

  it("a worker that stopped serves nothing: its functions' tasks are warned of", async () => {
    const { client, warnings, worker } = await swarm(['resize']);
    const other = new Worker({ port: 0, redis: { ...server.options(), keyPrefix: `unserved-${n}:` }, logger: quiet });
    other.addTaskFunction('report', (t) => t.data);
    await other.start();
    cleanup.push(() => other.stop());
    await worker!.stop();
    await client.submit('resize', 1);
    await client.close();
    expect(warnings).toEqual(['submit: no live worker serves function "resize": the task waits until one that does starts; is the name right? (served: "report")']);
  });
});

describe('a Client queuing work while no worker runs', () => {
  it('says nothing: a producer may start before its workers', async () => {
    const { client, warnings } = await swarm();
    await client.submit('resise', 1);
    await client.submitMany([{ fn: 'thumb', data: 1 }]);
    await client.close();
    expect(warnings).toEqual([]);
  });

  it('looks again at a later call, 10 s on, once workers run: a producer started with its workers is told of its misspelt name', async () => {
    const { client, warnings, redis } = await swarm();
    await client.submit('resise', 1);
    const worker = new Worker({ port: 0, redis, logger: quiet });
    worker.addTaskFunction('resize', (t) => t.data);
    await worker.start();
    cleanup.push(() => worker.stop());
    // (within the 10 s: not looked at again, a read per call would be one per submit)
    await client.submit('resise', 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(warnings).toEqual([]);
    await new Promise((r) => setTimeout(r, 10_000));
    await client.submit('resise', 3);
    await client.submit('resise', 4);
    await client.close();
    expect(warnings).toEqual(['submit: no live worker serves function "resise": the task waits until one that does starts; is the name right? (served: "resize")']);
  }, 30_000);
});
