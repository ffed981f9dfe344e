/**
 * With redis.durable, an END batch waits for the replicas (WAIT) before its ENDs settle, and a
 * wait that falls short is logged: `END of task "x": written on the primary, but 0 of the 1
 * replica(s) ...`. Only what finish.lua wrote is waited for and named: an END refused at a key
 * it would write (damaged by hand; nothing of it written, tried again every 500 ms until the key
 * is mended), or fenced, wrote nothing a failover could lose.
 *
 * Waited for, each try of a refused END cost a WAIT of redis.durableTimeout before it could be
 * tried again, and logged the END as written on the primary, a line per try, for as long as the
 * key stayed damaged.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';
import { collectingLogger } from './helpers/collecting-logger.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('redis.durable and an END Redis refused', () => {
  it('waits for no replica and says nothing written for it; once mended, its END is waited for once', async () => {
    // (no replica: every WAIT runs its whole durableTimeout and falls short)
    const o = server.options({ durable: 1, durableTimeout: 100 });
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: { ...o, durable: 0 } });
    const log = collectingLogger();
    const w = new Worker({ port: 0, redis: o, concurrency: 2, logger: log.logger });
    cleanup.push(() => c.close(), () => w.stop());
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    w.addTaskFunction('f', async () => {
      await gate;
      return 'done';
    });
    await c.submit('f', 1, { id: 'k-1', key: 'the-key' });
    await w.start();
    await until(async () => (await c.get('k-1'))?.state === 'RUNNING', 'k-1 runs');
    await redis.rename(keys.dedupe, `${keys.dedupe}:kept`);
    await redis.set(keys.dedupe, 'not a hash');
    release();
    await until(() => log.lines.some((l) => l.includes('"k-1": could not write its end')), 'its END refused');
    // (several tries: one each 500 ms)
    await new Promise((r) => setTimeout(r, 1600));
    const written = () => log.lines.filter((l) => l.includes('END of task "k-1": written on the primary'));
    expect(written()).toEqual([]);
    expect((await c.get('k-1'))?.state).toBe('RUNNING');

    await redis.del(keys.dedupe);
    await redis.rename(`${keys.dedupe}:kept`, keys.dedupe);
    expect((await c.wait('k-1', { timeout: 5000 })).outcome).toBe('succeeded');
    await until(() => written().length === 1, 'the END written, its wait for the replica fallen short, said once');
  });
});
