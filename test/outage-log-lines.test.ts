/**
 * What an operator reads at WARN through a Redis outage: the outage, once per component, in
 * this library's words. An idle worker's wait always has a claim on its way, cut by the outage:
 * one that took nothing is not news (it was "recovered 1 claim(s) whose replies were lost" from
 * every idle worker after every outage); one that took a task is, naming the task. The calls an
 * outage cuts are said at INFO, not each at WARN in ioredis's words after a machine state.
 */
import { describe, expect, it } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { proxyToRedis } from './helpers/tcp-proxy.js';
import { redisPerFile } from './helpers/suite.js';
import { levelledLogger as levelled } from './helpers/collecting-logger.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

// a line that begins with a machine state ("connected.waiting: ...", "active.sweeping: ...")
const STATE_FIRST = /^[a-z]+(\.[a-zA-Z]+)+: /;

describe('log lines through a Redis outage', () => {
  it.each([
    ['killed and started again', async () => {
      await server.kill();
      return () => server.start();
    }],
    // (past the calls' patience, 10 s: the monitor's sweep then fails as "Command timed out")
    ['frozen for 12 s', async () => {
      server.freeze();
      await new Promise((r) => setTimeout(r, 12_000));
      return async () => server.thaw();
    }],
  ] as const)('say the outage and its end, and neither a claim that took nothing nor each call cut (Redis %s)', async (_how, outage) => {
    const o = server.options();
    const w = levelled();
    const m = levelled();
    const worker = new Worker({ redis: o, port: 0, heartbeatInterval: 200, logger: w.logger });
    worker.addTaskFunction('f', async () => 'done');
    const monitor = new Monitor({ redis: o, taskTimeout: 2000, checkTaskInterval: 300, logger: m.logger });
    cleanup.push(() => worker.stop(), () => monitor.stop());
    await worker.start();
    await monitor.start();
    // idle: the worker waits on Redis with its claim on its way
    await new Promise((r) => setTimeout(r, 300));

    const end = await outage();
    await until(() => w.at('warn').some((l) => l.startsWith('Redis unreachable')), 'the worker to say the outage');
    await end();
    await until(() => w.at('info').some((l) => l.startsWith('Redis is back')), 'the worker to say Redis is back', 15_000);
    await until(() => m.at('info').some((l) => l.startsWith('Redis answers again')), 'the monitor to say Redis answers again', 15_000);

    // the worker still works
    const client = new Client({ redis: o });
    cleanup.push(() => client.close());
    const id = await client.submit('f');
    expect((await client.wait(id, { timeout: 10_000 })).result).toBe('done');

    expect(w.at('warn').filter((l) => l.startsWith('Redis unreachable'))).toHaveLength(1);
    expect(m.at('warn').filter((l) => l.startsWith('Redis unreachable'))).toHaveLength(1);
    for (const l of [...w.at('warn'), ...m.at('warn'), ...w.at('error'), ...m.at('error')]) {
      expect(l).not.toMatch(/claim\(s\) whose replies were lost/);
      expect(l).not.toMatch(STATE_FIRST);
    }
  });

  it('warn of a claim whose reply was lost after it took a task, naming the task, and run it once more', async () => {
    const o = server.options();
    const proxy = await proxyToRedis(server, cleanup);
    const w = levelled();
    const runs: string[] = [];
    const worker = new Worker({ redis: { ...o, port: proxy.port }, port: 0, heartbeatInterval: 200, logger: w.logger });
    worker.addTaskFunction('f', async (task) => void runs.push(task.id));
    cleanup.push(() => worker.stop());
    await worker.start();
    await new Promise((r) => setTimeout(r, 300));

    // the worker's claim runs at Redis and takes the task; its reply is cut on its way back
    proxy.delay(400);
    const client = new Client({ redis: o });
    cleanup.push(() => client.close());
    const id = await client.submit('f');
    await new Promise((r) => setTimeout(r, 200));
    expect(await client.get(id)).toMatchObject({ state: 'RUNNING' });
    proxy.reset();
    await new Promise((r) => setTimeout(r, 100));
    proxy.heal();

    expect(await client.wait(id, { timeout: 15_000 })).toMatchObject({ outcome: 'succeeded' });
    expect(w.at('warn')).toContainEqual(`recovered 1 claim(s) whose replies were lost; 1 task(s) they took went back to the queue: "${id}"`);
    expect(runs).toEqual([id]);
  });
});
