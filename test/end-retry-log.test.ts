/**
 * While Redis is away, a task's END is tried again every half second: the worker logs the first
 * failure, then at most one line every few seconds with the count of tries since, not one per try.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

describe('an END that keeps failing while Redis is down', () => {
  it('is logged once, then at most once every few seconds with a count', async () => {
    const server: RedisServer = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (m: unknown) => warnings.push(String(m)) };
    const w = new Worker({ port: 0, redis: o, logger });
    cleanup.push(() => w.stop());
    let release!: () => void;
    w.addTaskFunction('hold', () => new Promise<string>((r) => (release = () => r('done'))));
    await w.start();
    const c = new Client({ redis: o });
    const id = await c.submit('hold');
    // (its function called, `release` set: RUNNING in Redis, its claim's reply may still be on its way)
    await until(() => release !== undefined, 'RUNNING');
    await c.close();

    await server.kill();
    // (back before the worker stops: a stop with Redis away waits out its timeouts)
    cleanup.push(() => server.start());
    release();
    const ending = () => warnings.filter((m) => m.startsWith(`task "${id}":`) && /write its end/.test(m));
    await until(() => ending().length >= 1, 'the first failure logged', 10_000);
    // 7.5 s: several tries (each 500 ms after the last failed), one and a half report periods (5 s)
    await new Promise((r) => setTimeout(r, 7500));
    const lines = ending();
    expect(lines[0]).toMatch(/could not write its end, retrying/);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(3);
    expect(lines[1]).toMatch(/still could not write its end \(\d+ more tries failed\), retrying/);
    expect(Number(/\((\d+) more/.exec(lines[1]!)![1])).toBeGreaterThanOrEqual(1);
  }, 40_000);
});
