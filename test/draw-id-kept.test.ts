/**
 * A client remembers the ids it drew, so that every submit of one writes the same entry (its
 * first submit's `queued_at`), up to 10,000 of them, the oldest forgotten first. Oldest was
 * counted from the draw: an id held a while before its submit (a caller subscribing, waiting for
 * its user) could be forgotten just after its first submit, and a resubmission of the very same
 * task (a reply lost, a retry) was then refused as a duplicate. Once submitted, an id counts from
 * its submit.
 */
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { quiet } from './helpers/order.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

describe('the drawn ids a client remembers', () => {
  it('keep one from its first submit on: the same task submitted again after more draws is the same submission', async () => {
    const c = new Client({ redis: server.options(), logger: quiet });
    cleanup.push(() => c.close());
    const id = c.drawId();
    for (let i = 0; i < 9_999; i++) c.drawId();
    expect(await c.submit('f', { n: 1 }, { id })).toBe(id);
    for (let i = 0; i < 100; i++) c.drawId();
    expect(await c.submit('f', { n: 1 }, { id })).toBe(id);
  });
});
