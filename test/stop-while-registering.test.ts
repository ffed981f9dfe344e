/**
 * A stop() while the worker is still registering. The registration is a few commands, one per
 * partition, sent one after another; a stop used to deregister at once, beside them, so a
 * registration sent after the deregistration listed the worker again once it had gone: a peer
 * nobody answers for, counted against every partition check until a monitor pruned it. A slow
 * link (every chunk held 300 ms each way, by a proxy) makes the window wide, and MONITOR on
 * Redis says when a partition's registration has run: the stop comes then, while the next
 * partitions' are still to be sent (or before any, or before the last).
 */
import { describe, expect, it } from 'vitest';
import { Worker } from '../src/index.js';
import { startProxy } from './helpers/tcp-proxy.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { traces, watchRegistrations } from './helpers/registrations.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const PARTITIONS = 3;

describe('stop() while the worker registers', () => {
  // (0: stopped as start() is called, before any registration; k: once the k-th partition's has run)
  it.each([0, 1, PARTITIONS - 1])('leaves no trace of the worker in Redis, stopped after %i registrations', async (after) => {
    const proxy = await startProxy('127.0.0.1', server.port);
    cleanup.push(async () => proxy.close());
    const registrations = await watchRegistrations(server);
    cleanup.push(() => registrations.close());
    const registered = registrations.added;

    proxy.delay(300);
    const worker = new Worker({ redis: { host: '127.0.0.1', port: proxy.port, keyPrefix: '{swarm}:', partitions: PARTITIONS }, port: 0, logger: quiet });
    worker.addTaskFunction('noop', async () => {});
    const started = worker.start().then(
      () => 'started',
      (e: Error) => e.message,
    );
    if (after > 0) await until(() => registered.size >= after, `${after} partition(s) registered`, 20_000);
    expect(registered.size).toBeLessThan(PARTITIONS);
    await worker.stop();
    expect(await started).toMatch(/stopped while starting/);

    // what was on its way through the slow link has landed by now
    await new Promise((r) => setTimeout(r, 1500));
    expect(await traces(server, worker.address)).toEqual([]);
  }, 60_000);
});
