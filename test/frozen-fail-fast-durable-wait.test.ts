/**
 * redis.durable with a durableTimeout longer than the Client's patience (nothing caps it): the
 * WAIT after a submit holds the connection for durableTimeout while the replicas do not answer,
 * Redis itself answering. Each call made on the Client from the patience on was refused at once
 * as if Redis were frozen, "no answer for 10.x s (frozen …); nothing was sent". It waits its
 * turn behind the WAIT, as before the freeze rule, and is answered.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT_PATIENCE_MS } from '../src/client.js';
import { Client } from '../src/index.js';
import { startRedis } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a WAIT for replicas longer than the patience, Redis answering', () => {
  it('a read made while the WAIT is held is answered, not refused as a frozen Redis', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const c = new Client({ redis: server.options({ durable: 1, durableTimeout: CLIENT_PATIENCE_MS + 3000 }) });
    cleanup.push(() => c.close());
    expect(await c.get('nothing')).toBeNull();
    // (no replica: the WAIT runs its whole durableTimeout)
    const submitted = c.submit('nobody-serves-this', 1, { id: 'a' }).catch((e: unknown) => e);
    await sleep(CLIENT_PATIENCE_MS + 500);
    const read = await c.get('a').then(
      (v) => ({ v }),
      (e: unknown) => ({ e: String(e) }),
    );
    expect(read).toMatchObject({ v: { state: 'QUEUED' } });
    await submitted;
  }, 40_000);
});
