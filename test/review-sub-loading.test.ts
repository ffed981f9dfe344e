/**
 * A Client's subscriptions while its Redis restarts and loads its AOF: the subscriber
 * connection reconnects and then waits out the load in its handshake (ioredis's ready check),
 * the time in which a SUBSCRIBE written at once put the connection in subscriber mode and lost
 * it. Subscribes and unsubscribes made during the load: each channel still subscribed is live
 * once Redis is, each one left is not, and `ready` does not come before the load ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import type { TaskEvent } from '../src/wire.js';
import { freePort, until } from './helpers/redis-server.js';

const dir = mkdtempSync(join(tmpdir(), 'task-swarm-review-sub-loading-'));
let proc: ChildProcess | undefined;
afterAll(() => {
  proc?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function redisServer(port: number, extra: string[] = []): ChildProcess {
  const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', dir, ...extra], { stdio: 'ignore' });
  proc = p;
  return p;
}
const killed = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null ? r() : (p.once('exit', () => r()), p.kill('SIGKILL'))));

describe('Client subscriptions while Redis loads its AOF', () => {
  it('each channel subscribed during the load is live after it, each left is not', async () => {
    const port = await freePort();
    let p = redisServer(port);
    // (no ready check: it would wait out the load, and tell nothing of it)
    const admin = new Redis({ port, retryStrategy: () => 50, maxRetriesPerRequest: null, enableReadyCheck: false });
    admin.on('error', () => {});
    await until(async () => (await admin.ping().catch(() => null)) === 'PONG', 'redis up', 5000);
    // enough keys that the load, slowed per key, takes seconds
    for (let b = 0; b < 20; b++) {
      const pipe = admin.pipeline();
      for (let i = 0; i < 1000; i++) pipe.set(`k${b}-${i}`, 'x');
      await pipe.exec();
    }
    const redis = { host: '127.0.0.1', port, keyPrefix: 'load:' };
    const keys = buildKeys(resolveRedisConfig(redis));
    const c = new Client({ redis });
    const got = new Map<string, TaskEvent[]>();
    const follow = (id: string) => {
      got.set(id, []);
      return c.subscribe(id, (ev) => got.get(id)!.push(ev));
    };
    try {
      await follow('before').ready;
      const leaving = follow('before-left');
      await leaving.ready;
      await killed(p);
      p = redisServer(port, ['--key-load-delay', '100']);
      const loading = async () => /loading:1/.test((await admin.info('persistence').catch((e: Error) => (/LOADING/.test(e.message) ? 'loading:1' : ''))) as string);
      await until(loading, 'redis loading', 10_000, 10);
      const sub = (c as unknown as { sub: Redis }).sub;
      await until(async () => sub.status === 'connect', 'the subscriber in its handshake', 10_000, 5);
      const during = Array.from({ length: 10 }, (_, i) => follow(`during-${i}`));
      leaving();
      const brief = follow('during-left');
      let readyWhileLoading = 0;
      for (const s of during) void s.ready.then(async () => (await loading()) && readyWhileLoading++);
      await new Promise((r) => setTimeout(r, 100));
      brief();
      expect(await loading()).toBe(true);
      await Promise.all(during.map((s) => s.ready));
      const live = ['before', ...during.map((_, i) => `during-${i}`)];
      for (const id of [...live, 'before-left', 'during-left']) await admin.publish(keys.events(id), JSON.stringify({ event: 'progress', data: id }));
      await until(async () => live.every((id) => got.get(id)!.length === 1), 'every live channel got its event', 5000).catch(() => {});
      expect(live.filter((id) => got.get(id)!.length !== 1)).toEqual([]);
      expect(got.get('before-left')).toEqual([]);
      expect(got.get('during-left')).toEqual([]);
      const numsub = (await admin.pubsub('NUMSUB', keys.events('before-left'), keys.events('during-left'))) as (string | number)[];
      expect([numsub[1], numsub[3]].map(Number)).toEqual([0, 0]);
      expect(readyWhileLoading).toBe(0);
    } finally {
      await c.close();
      admin.disconnect();
    }
  }, 60_000);
});
