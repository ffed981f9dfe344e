/**
 * Class: what a long-lived process keeps must not grow with its calls. The command
 * connection's deadlines (src/command-deadlines.ts) list every call on its way and dropped the
 * answered ones only at the front of the list: one call never answered held every later call,
 * answered or not, until its deadline. ioredis leaves such a call whenever a connection closes
 * during its handshake (it drops the CLIENT SETNAME and the ready check's INFO it wrote, without
 * settling them), so a producer whose link to Redis was cut mid-handshake kept its next 10 s of
 * calls (the Client's patience), each with its arguments and reply: tens of MB at every cut of
 * a busy one. Here the handshake is cut for real (a TCP proxy holds Redis's replies to the new
 * connection, then closes it), and a few thousand reads follow: the list must not hold them.
 * Before the fix it held all of them.
 */
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { startProxy } from './helpers/tcp-proxy.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const CALLS = 12_000;

describe('a connection cut during its handshake', () => {
  it('leaves no call unanswered that holds the later answered ones in the deadline list', { timeout: 60_000 }, async () => {
    const proxy = await startProxy('127.0.0.1', server.port);
    cleanup.push(() => proxy.close());
    const client = new Client({ redis: { ...server.options(), port: proxy.port } });
    cleanup.push(() => client.close());
    const listed = () => (client as unknown as { unguard: { listed(): number } }).unguard.listed();
    const conn = (client as unknown as { redis: { status: string } }).redis;
    await client.get('warm-up');

    // the connection closed; the next one's handshake written, its replies held
    proxy.reset();
    proxy.heal();
    proxy.hold(() => true);
    await until(() => conn.status === 'connect', 'the new connection to be in its handshake');
    await new Promise((r) => setTimeout(r, 200));
    // cut before it was ready: ioredis drops the handshake's calls, unsettled
    proxy.reset();
    proxy.heal();
    await until(() => conn.status === 'ready', 'the connection to be ready again');

    // well within the patience (10 s), so no deadline clears the list meanwhile
    for (let i = 0; i < CALLS; i += 1000) await Promise.all(Array.from({ length: 1000 }, (_, j) => client.get(`t-${i + j}`)));
    // every call answered: what is listed is at most the handshake's lost calls, and the
    // answered ones since the last sweep (a sweep runs each time the list doubles, from 4096)
    // (before the fix: all of them, CALLS and more)
    expect(listed()).toBeLessThan(CALLS / 2);
  });
});
