/**
 * redis.durable on the producer's side, with a replica of the test's own frozen (SIGSTOP): what
 * a NotDurableError names must be exactly what the submit queued (a caller trusts it: "these
 * are queued, resubmit them if you must"), concurrent submits must not wait for one another's
 * WAIT, and a WAIT that ioredis sent again on a new connection still covers the submit.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client, DuplicateTaskError, NotDurableError } from '../src/index.js';
import { startReplicatedPair, type ReplicatedPair } from './helpers/replicated-pair.js';
import { until } from './helpers/redis-server.js';

let pair: ReplicatedPair;
let prefixes = 0;
const cleanup: (() => Promise<unknown>)[] = [];
beforeAll(async () => {
  pair = await startReplicatedPair();
});
afterEach(async () => {
  pair.thaw();
  while (cleanup.length) await cleanup.pop()!();
});
afterAll(async () => pair?.close());

function client(extra: Record<string, unknown> = {}): { c: Client; prefix: string } {
  const prefix = `submit${++prefixes}:`;
  const c = new Client({ redis: { host: '127.0.0.1', port: pair.primaryPort, keyPrefix: prefix, durable: 1, durableTimeout: 400, ...extra } });
  cleanup.push(() => c.close());
  return { c, prefix };
}

const queuedIds = async (prefix: string) => (await pair.primaryAdmin.lrange(`${prefix}new-task`, 0, -1)).map((e) => (JSON.parse(e) as { id: string }).id);

describe('redis.durable: submit', () => {
  it('refuses a batch holding a taken id with DuplicateTaskError, not a NotDurableError naming tasks it did not queue', async () => {
    const { c, prefix } = client();
    await c.submit('f', 0, { id: 'taken' }); // replicated: the replica is up
    pair.freeze();
    const err = await c.submitMany([{ fn: 'f', data: 1, options: { id: 'taken' } }, { fn: 'f', data: 2, options: { id: 'fresh' } }]).catch((e: unknown) => e);
    expect(await queuedIds(prefix)).toEqual(['taken']); // all or nothing: "fresh" is not queued
    expect(err).toBeInstanceOf(DuplicateTaskError);
  });

  it('names the task a dedupe key resolved to, as submit would have returned it', async () => {
    const { c } = client();
    const holder = await c.submit('f', 0, { key: 'k' });
    pair.freeze();
    const err = await c.submit('f', 1, { key: 'k' }).catch((e: unknown) => e);
    // nothing new was written: no replica can be missing a write of this call
    if (err instanceof NotDurableError) expect(err.taskIds).toEqual([holder]);
    else expect(err).toBe(holder);
  });

  it('gives every one of several concurrent submits its answer within about durableTimeout, not one WAIT after another', async () => {
    const { c } = client();
    await c.stats();
    pair.freeze();
    const t0 = Date.now();
    const done = await Promise.all(Array.from({ length: 5 }, (_, i) => c.submit('f', i).then(() => Date.now() - t0, (e: unknown) => (e instanceof NotDurableError ? Date.now() - t0 : e))));
    for (const ms of done) expect(typeof ms).toBe('number');
    expect(Math.max(...(done as number[]))).toBeLessThan(2 * 400);
  });

  it('still waits for the replica when ioredis sends the WAIT again after a reconnect (the new connection\'s setup moved its write offset past the submit)', async () => {
    const { c, prefix } = client({ durableTimeout: 1500 });
    await c.stats();
    pair.freeze();
    const t0 = Date.now();
    const submitted = c.submit('f', 1).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    // the WAIT is blocked on the primary: drop that connection under it
    const list = async () => String(await pair.primaryAdmin.client('LIST')).split('\n');
    const line = await until(async () => (await list()).find((l) => l.includes('cmd=wait') && l.includes('flags=b')), 'the WAIT under way', 2000);
    const killedAt = Date.now() - t0;
    await pair.primaryAdmin.client('KILL', 'ID', /\bid=(\d+)/.exec(line)![1]!);
    const out = await submitted;
    // frozen all along: nothing acknowledged the task, and the WAIT sent again waited for it
    expect(out).toBeInstanceOf(NotDurableError);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(killedAt + 1400);
    expect(await queuedIds(prefix)).toHaveLength(1);
  });

  it('answers a submit whose WAIT is cut short by close() with NotDurableError naming it (it is queued), and close() returns at once', async () => {
    const { c, prefix } = client({ durableTimeout: 5000 });
    await c.stats();
    pair.freeze();
    const submitted = c.submit('f', 1).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    const list = async () => String(await pair.primaryAdmin.client('LIST')).split('\n');
    await until(async () => (await list()).find((l) => l.includes('cmd=wait') && l.includes('flags=b')), 'the WAIT under way', 2000);
    const t0 = Date.now();
    await c.close();
    expect(Date.now() - t0).toBeLessThan(3000);
    const out = await submitted;
    expect(out).toBeInstanceOf(NotDurableError);
    const ids = await queuedIds(prefix);
    expect(ids).toHaveLength(1);
    expect((out as NotDurableError).taskIds).toEqual(ids);
    expect((out as NotDurableError).acknowledged).toBe(0);
  });
});
