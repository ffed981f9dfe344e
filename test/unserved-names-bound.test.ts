/**
 * A Client looks at what the workers serve for its first 1,000 function names only (a producer
 * that makes names up as it goes costs no read, nor a warning, past them: docs/semantics.md). The
 * bound was checked before the names of one call were taken: a submitMany of 3,000 names no
 * worker serves logged 3,000 warnings, and the Client kept all 3,000 names.
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker, type LoggerLike } from '../src/index.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => (server = s));
const quiet: LoggerLike = { debug() {}, info() {}, warn() {}, error() {} };

describe('the names a Client looks at, one submitMany of many', () => {
  it('are its first 1,000: no more warnings than that', async () => {
    const redis = server.options();
    const worker = new Worker({ port: 0, redis, logger: quiet });
    worker.addTaskFunction('resize', (t) => t.data);
    await worker.start();
    cleanup.push(() => worker.stop());
    const warned: string[] = [];
    const client = new Client({ redis, logger: { ...quiet, warn: (m: unknown) => warned.push(String(m)) } });
    cleanup.push(() => client.close());
    await client.submitMany(Array.from({ length: 3000 }, (_, i) => ({ fn: `f${i}`, data: i })));
    await client.submit('one-more', 1);
    await client.close();
    expect(warned).toHaveLength(1000);
    expect(warned[0]).toMatch(/^submitMany: no live worker serves function "f0"/);
    expect(warned.at(-1)).toMatch(/"f999"/);
  }, 20_000);
});
