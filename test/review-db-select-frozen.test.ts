/**
 * A Client on a valid db (1) whose SELECT, sent at connect, goes unanswered past the client's
 * patience (Redis frozen as the connection is made), then answered: the db exists and the
 * connection is on it, so later calls work. A SELECT failed for want of an answer was taken for
 * Redis's refusal, and every later call failed with a ConfigError saying the server has fewer
 * databases (src/db-select.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { startRedis } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a Client on db 1 whose connect met a frozen Redis', () => {
  it('works once Redis answers again: its calls are not refused as a database the server lacks', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    server.freeze();
    cleanup.push(() => server.thaw());
    const c = new Client({ redis: server.options({ db: 1 }) });
    cleanup.push(() => c.close());
    const first = await c.submit('x', 1).then(
      () => 'ran',
      (e: unknown) => `${(e as Error).name}: ${(e as Error).message}`,
    );
    // (a call made into the freeze fails at its patience, as it should)
    expect(first).toMatch(/RedisUnavailableError|no answer|cannot reach/);
    server.thaw();
    await sleep(1000);
    const later = await c.submit('x', 2).then(
      (id) => `ok ${id.length > 0}`,
      (e: unknown) => `${(e as Error).name}: ${(e as Error).message}`,
    );
    expect(later).toBe('ok true');
  }, 40_000);
});
