/**
 * Found in the review of issue 7 (a reply lost after Redis ran the command, the class the claim receipts
 * answer for claims): Client.submit runs submit.lua; when the connection breaks after Redis ran
 * it and before the reply arrived, ioredis resends it on reconnect (autoResendUnfulfilledCommands),
 * the resend finds its own entry and answers "taken", and submit rejects with
 * DuplicateTaskError for a task it did queue. A caller that retries with a new id runs the work
 * twice. The test failed before the fix.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, DuplicateTaskError } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { startProxy } from './helpers/tcp-proxy.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('submit whose reply is lost after Redis ran it', () => {
  it('resolves with the id it queued (or rejects with an error that does not say the id was taken by someone else)', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const proxy = await startProxy('127.0.0.1', server.port);
    const c = new Client({ redis: { ...o, port: proxy.port } });
    cleanup.push(() => proxy.close(), () => c.close());
    await c.get('warm-up'); // connected, scripts defined
    proxy.delay(400);
    const submitted = c.submit('f', { n: 1 }, { id: 'once' }).then(
      (id) => `resolved ${id}`,
      (e: Error) => `rejected ${e.name}`,
    );
    await new Promise((r) => setTimeout(r, 600)); // Redis ran it (at ~400 ms); the reply is on its way back
    proxy.reset();
    await new Promise((r) => setTimeout(r, 100));
    proxy.heal();
    const outcome = await submitted;
    expect(await redis.llen(keys.newQueue)).toBe(1); // it was queued, once
    // what the review saw: "rejected DuplicateTaskError"
    if (outcome.startsWith('resolved')) expect(outcome).toBe('resolved once');
    else expect(outcome).not.toBe(`rejected ${DuplicateTaskError.name}`);
  });
});
