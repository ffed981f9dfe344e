/**
 * A worker's start() waits for its control subscription before it claims anything (a stop sent
 * to a task it ran would otherwise go unheard), for as long as that takes: here a subscriber
 * connection whose replies a proxy holds, so it never becomes ready. Meanwhile it says, at
 * growing intervals, what it waits for, claims nothing, and goes on once the connection is made.
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { startProxy } from './helpers/tcp-proxy.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

describe('a worker whose subscriber connection does not connect', () => {
  it('waits in start(), says what for, claims nothing, and starts once it connects', async () => {
    const proxy = await startProxy(server.host, server.port);
    cleanup.push(() => proxy.close());
    proxy.hold((hello) => hello.includes(':subscriber'));
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error: (m: string) => void warnings.push(m) };
    const o = server.options();
    const w = new Worker({ port: 0, redis: { ...o, host: '127.0.0.1', port: proxy.port }, logger });
    const ran: string[] = [];
    w.addTaskFunction('f', async (t) => void ran.push(t.id));
    const c = new Client({ redis: o });
    cleanup.push(
      () => c.close(),
      async () => {
        proxy.heal();
        await w.stop();
      },
    );
    let started = false;
    const starting = w.start().then(() => void (started = true));
    await c.submit('f', null, { id: 'queued-meanwhile' });

    const notice = /^start\(\) has waited \d+ s for its control subscription \(subscriber connection \w+.*\); no task is claimed until then$/;
    await until(() => warnings.some((m) => notice.test(m)), 'a notice of what start() waits for', 15_000);
    expect(started).toBe(false);
    expect(ran).toEqual([]);
    expect((await c.get('queued-meanwhile'))?.state).toBe('QUEUED');

    proxy.heal();
    await starting;
    expect((await c.wait('queued-meanwhile', { timeout: 10_000 })).outcome).toBe('succeeded');
    expect(ran).toEqual(['queued-meanwhile']);
    // (no notice once it has started)
    const said = warnings.filter((m) => notice.test(m)).length;
    await new Promise((r) => setTimeout(r, 5_500));
    expect(warnings.filter((m) => notice.test(m))).toHaveLength(said);
  }, 40_000);
});
