/**
 * A stop whose hand-back Redis did not answer hands its tasks back from memory once Redis is
 * back. A logger that throws (an application's, given as `logger`) as the worker says so does not
 * turn that into an unhandled rejection (which ends a Node process), nor keep the worker listed
 * in `workers` after its stop.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, until } from './helpers/redis-server.js';
import { buildKeys } from '../src/keys.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const lines: string[] = [];
const log = (k: string) => (m: string) => {
  lines.push(`${k} ${m}`);
  if (m.startsWith('Redis answers again')) throw new Error('the log sink is full');
};
const throwing = { debug() {}, info: log('info'), warn: log('warn'), error: log('error') };

describe('a stop whose hand-back Redis did not answer, with a logger that throws', () => {
  it('ends without an unhandled rejection, and leaves `workers`', async () => {
    const unhandled: unknown[] = [];
    const hear = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', hear);
    cleanup.push(() => process.off('unhandledRejection', hear));
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 2500, stopGrace: 500, abortTimeout: 3000, logger: throwing });
    let runs = 0;
    // heeds its abort late: the worker is still releasing when Redis is back
    w.addTaskFunction('long', ({ signal }) => new Promise<void>((resolve) => ((runs += 1), signal.addEventListener('abort', () => setTimeout(resolve, 2000)))));
    cleanup.push(() => w.stop());
    await w.start();
    const c = new Client({ redis: o });
    const id = await c.submit('long');
    await until(() => runs === 1, 'running');
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'RUNNING in Redis');
    await c.close();
    const stopped = w.stop();
    await new Promise((r) => setTimeout(r, 200));
    await server.kill();
    await until(() => lines.some((l) => /^warn handingBack: /.test(l)), 'the hand-back failed');
    await server.start();
    await stopped;
    await new Promise((r) => setTimeout(r, 100));
    expect(unhandled.map(String)).toEqual([]);
    const r = server.client();
    const k = buildKeys({ ...(w.config.redis as Parameters<typeof buildKeys>[0]) });
    expect(await r.sismember(k.workerSet, w.address)).toBe(0);
  }, 30_000);
});
