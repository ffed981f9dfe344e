/**
 * A start() that fails once the worker is registered somewhere: the registration is a few
 * commands (one per partition), then the peer list is read, and a fault there (the link silent
 * past a command's timeout, here) fails start(). The worker had listed itself, and it left
 * without undoing it: listed in `workers`, seen, serving its functions, for a monitor to prune,
 * counted against every partition check meanwhile, as a stop while registering used to leave it
 * (test/stop-while-registering.test.ts). A stop() as the start fails returns once the worker has
 * left, not while its deregistration is on its way.
 */
import { describe, expect, it } from 'vitest';
import { RedisUnavailableError, Worker } from '../src/index.js';
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

/**
 * A worker starting through a slow link (150 ms each way), with what Redis runs of its
 * registration watched; `onState` hears its states. Once every partition's registration has
 * run, the link goes silent past a command's timeout (1 s at this heartbeatInterval): the last
 * registration's reply, or the peer list's, does not come in time; then the link is back.
 */
async function startFailingOnceRegistered(onState?: (worker: Worker, state: unknown) => void) {
  const proxy = await startProxy('127.0.0.1', server.port);
  cleanup.push(async () => proxy.close());
  const registrations = await watchRegistrations(server);
  cleanup.push(() => registrations.close());
  proxy.delay(150);
  const worker = new Worker({ redis: { host: '127.0.0.1', port: proxy.port, keyPrefix: '{swarm}:', partitions: PARTITIONS }, port: 0, heartbeatInterval: 300, logger: quiet });
  worker.addTaskFunction('noop', async () => {});
  if (onState) worker.on('state', (v: unknown) => onState(worker, v));
  const started = worker.start().then(
    () => 'started',
    (e: Error) => e,
  );
  await until(() => registrations.added.size >= PARTITIONS, 'every partition registered', 20_000);
  proxy.partition();
  setTimeout(() => proxy.heal(), 1500);
  return { worker, started };
}

describe('start() failing once the worker has registered', () => {
  it('leaves no trace of the worker in Redis once the link is back', async () => {
    const { worker, started } = await startFailingOnceRegistered();
    cleanup.push(() => worker.stop());
    expect(await started).toBeInstanceOf(RedisUnavailableError);

    await new Promise((r) => setTimeout(r, 2000));
    expect(await traces(server, worker.address)).toEqual([]);
  }, 60_000);

  it('a stop() meanwhile returns once the worker has left, not before', async () => {
    // stopped as the start fails, while it leaves
    let stopped: Promise<void> | undefined;
    const { worker, started } = await startFailingOnceRegistered((w, v) => {
      if (v === 'failed') stopped = w.stop();
    });
    await until(() => stopped !== undefined, 'the stop', 10_000);
    await stopped;
    expect(await traces(server, worker.address)).toEqual([]);
    expect(await started).toBeInstanceOf(RedisUnavailableError);
  }, 60_000);
});
