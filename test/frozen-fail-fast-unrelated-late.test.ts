/**
 * The freeze rule (src/outage-guard.ts) notes the oldest call written as stalled when some call
 * is past its patience. A call past its patience need not be that one, nor written on this
 * connection at all: a handshake call (CLIENT SETNAME) of a connection that closed before it
 * was ready is dropped by ioredis unanswered and unsettled, and reaches its deadline 10 s later,
 * when the connection made since is up and answering. The call then in flight, written a moment
 * before, was noted as stalled, and each call made until its answer came was refused at once,
 * "no answer for 10.0 s (frozen …); nothing was sent", from a Redis that answered every call
 * within 2 s. A call made then is written and answered.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { clientThroughProxy } from './helpers/client-down.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a call past its patience that is not the oldest call written', () => {
  it('a handshake call of a connection closed before it was ready does not make a healthy connection refuse calls', async () => {
    const { proxy, c } = await clientThroughProxy(cleanup);
    const redis = (c as unknown as { redis: Redis }).redis;
    // (a submit records the swarm's layout: a read then is one call)
    await c.submit('nobody-serves-this', 0, { id: 'before' });
    expect(await c.get('nothing')).toBeNull();

    // the connection dropped; the next one's handshake is held unanswered, then that one dropped too
    const connected = new Promise<number>((r) => redis.once('connect', () => r(performance.now())));
    proxy.reset();
    await sleep(50);
    proxy.heal();
    proxy.hold(() => true);
    const heldAt = await connected;
    await sleep(500);
    proxy.reset();
    await sleep(50);
    proxy.heal();
    await new Promise((r) => redis.once('ready', r));
    expect(await c.get('nothing')).toBeNull();

    // a slow link (1 s each way) from just before that handshake call's deadline: a call is in flight then
    await sleep(heldAt + 9_600 - performance.now());
    proxy.delay(1000);
    const inFlight = c.get('first').catch((e: unknown) => e);
    await sleep(heldAt + 10_400 - performance.now());
    const t0 = performance.now();
    const later = await c.get('later').then(
      (v) => ({ v }),
      (e: unknown) => ({ e }),
    );
    expect(later).toEqual({ v: null });
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(await inFlight).toBeNull();
  }, 40_000);
});
