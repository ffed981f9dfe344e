/**
 * A stop() while start() has not started the worker machine yet: start() first opens the
 * metrics server (metricsPort), and the machine starts after it. A stop then is queued for the
 * machine. When the metrics server cannot listen, start() rejects and the machine never starts:
 * the stop used to wait for it to end, for ever.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ListenError, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
/** what `p` came to within `ms`: 'resolved', its error, or 'pending' */
const within = (p: Promise<unknown>, ms: number) =>
  Promise.race([p.then(() => 'resolved' as const, (e: unknown) => e), new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms).unref())]);

describe('stop() while start() opens the metrics server', () => {
  it('returns when the metrics server cannot listen (start() rejects with the ListenError)', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => blocker.close(r)));
    const metricsPort = (blocker.address() as { port: number }).port;
    const worker = new Worker({ redis: server.options(), port: 0, metricsPort, logger: quiet });
    worker.addTaskFunction('noop', async () => {});
    const started = within(worker.start(), 5000);
    const stopped = within(worker.stop(), 5000);
    expect(await started).toBeInstanceOf(ListenError);
    expect(await stopped).toBe('resolved');
    expect(worker.state).toBe('idle');
  });

  it('stops the worker once the metrics server listens (start() rejects: stopped while starting)', async () => {
    const o = server.options();
    const worker = new Worker({ redis: o, port: 0, metricsPort: 0, logger: quiet });
    worker.addTaskFunction('noop', async () => {});
    const started = within(worker.start(), 5000);
    const stopped = within(worker.stop(), 5000);
    expect(await stopped).toBe('resolved');
    expect(((await started) as Error).message).toMatch(/stopped while starting/);
    expect(worker.state).toBe('stopped');
    const admin = server.client();
    cleanup.push(async () => admin.disconnect());
    await until(async () => (await admin.smembers(`${o.keyPrefix}workers`)).length === 0 || undefined, 'no worker listed', 3000);
  });
});

describe('start() again after the metrics server could not listen', () => {
  it('starts the worker once the port is free (its connections were never made, so not closed either)', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const metricsPort = (blocker.address() as { port: number }).port;
    const o = server.options();
    const worker = new Worker({ redis: o, port: 0, metricsPort, logger: quiet });
    cleanup.push(() => worker.stop());
    worker.addTaskFunction('noop', async () => {});
    expect(await within(worker.start(), 5000)).toBeInstanceOf(ListenError);
    await new Promise((r) => blocker.close(r));
    expect(await within(worker.start(), 5000)).toBe('resolved');
    const admin = server.client();
    cleanup.push(async () => admin.disconnect());
    expect(await admin.smembers(`${o.keyPrefix}workers`)).toEqual([worker.address]);
    expect(await within(worker.stop(), 5000)).toBe('resolved');
    expect(await admin.smembers(`${o.keyPrefix}workers`)).toEqual([]);
  });
});
