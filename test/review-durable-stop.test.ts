/**
 * redis.durable and stop: ENDs waiting for a replica that does not answer hold stop() for about
 * two durableTimeouts at most (the WAIT under way, then the one covering the ENDs written
 * behind it), not one WAIT per END batch (five in a row measured 7.5 s here, past stopGrace);
 * the tasks that ran end once on the primary, the others stay queued.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startReplicatedPair, type ReplicatedPair } from './helpers/replicated-pair.js';
import { until } from './helpers/redis-server.js';

let pair: ReplicatedPair;
beforeAll(async () => {
  pair = await startReplicatedPair();
});
afterAll(async () => pair?.close());

describe('redis.durable: stop', () => {
  it('stops within about two durableTimeouts while ENDs wait for a frozen replica, the tasks ended once', async () => {
    const redis = { host: '127.0.0.1', port: pair.primaryPort, keyPrefix: 'stop:', durable: 1, durableTimeout: 1500 };
    const w = new Worker({ port: 0, redis, concurrency: 4, stopGrace: 5000, logger: { debug() {}, info() {}, warn() {}, error() {} } });
    const c = new Client({ redis: { ...redis, durable: 0 } });
    const runs = new Map<string, number>();
    try {
      w.addTaskFunction('f', async (t) => {
        runs.set(t.id, (runs.get(t.id) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 20 * Number(t.data)));
        return t.data;
      });
      await w.start();
      await c.stats();
      pair.freeze();
      const ids = await c.submitMany(Array.from({ length: 12 }, (_, i) => ({ fn: 'f', data: i })));
      await until(() => runs.size >= 6, 'tasks running', 5000);
      const t0 = Date.now();
      await w.stop();
      const took = Date.now() - t0;
      expect(took).toBeLessThan(3 * 1500 + 1000);
      for (const id of runs.keys()) {
        expect(runs.get(id)).toBe(1);
        expect(await pair.primaryAdmin.hget(`stop:task-${id}`, 'state')).toBe('END');
      }
      // the rest are still queued (the claimed ones not started handed back), none lost
      const entries = await pair.primaryAdmin.lrange('stop:new-task', 0, -1);
      for (const id of ids) {
        if (runs.has(id)) continue;
        const state = await pair.primaryAdmin.hget(`stop:task-${id}`, 'state');
        expect(state === 'QUEUED' || entries.some((e) => e.includes(id))).toBe(true);
      }
    } finally {
      pair.thaw();
      await c.close();
    }
  }, 30_000);
});

describe('redis.durable: more replicas than the primary has', () => {
  it('warns at start that every END will wait durableTimeout, and still runs tasks', async () => {
    const redis = { host: '127.0.0.1', port: pair.primaryPort, keyPrefix: 'short:', durable: 2, durableTimeout: 200 };
    const warnings: string[] = [];
    const w = new Worker({ port: 0, redis, logger: { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} } });
    const c = new Client({ redis: { ...redis, durable: 0 } });
    try {
      w.addTaskFunction('f', (t) => t.data);
      await w.start();
      expect(warnings.find((m) => m.includes('redis.durable asks 2 replica(s)'))).toMatch(/has 1 connected: until more connect, every END waits redis\.durableTimeout \(200 ms\)/);
      const id = await c.submit('f', 3);
      expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 3 });
    } finally {
      await w.stop();
      await c.close();
    }
  });
});
