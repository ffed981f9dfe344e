/**
 * A task's events on a channel the Redis user may not read (an ACL without it): `subscribe`
 * must say so (its `ready` rejects with a ConfigError naming the refusal, and the refusal is
 * logged), never resolve as if the handler would hear the task, and never leave an unhandled
 * rejection behind for a caller who did not read `ready` (a dashboard page following the task
 * included), nor for ioredis's own resubscribe when the channels are taken away later (it ended
 * a Client process). `wait` on such a task still answers, from its polls. A channel the user may
 * read is unaffected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ConfigError, createDashboard, Worker } from '../src/index.js';
import { spawnClient } from './helpers/processes.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

let redis: RedisServer;
const user = { username: 'events-limited', password: 'limited-pw' };
beforeAll(async () => {
  redis = await startRedis();
  // every key and command, and only the channels holding "good"
  await redis.client().call('ACL', 'SETUSER', user.username, 'on', `>${user.password}`, '~*', 'resetchannels', '&*good*', '+@all');
});
afterAll(async () => redis?.stop());

function keeping(lines: string[]) {
  const keep = (...a: unknown[]) => void lines.push(a.map(String).join(' '));
  return { debug: () => {}, info: () => {}, warn: keep, error: keep };
}

describe('subscribe to a channel Redis refuses', () => {
  it('rejects ready with a ConfigError naming the refusal, and logs it', async () => {
    const logs: string[] = [];
    const c = new Client({ redis: redis.options(user), logger: keeping(logs) });
    try {
      const heard: string[] = [];
      const off = c.subscribe('bad-1', (e) => heard.push(e.event));
      const err = await off.ready.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/refused SUBSCRIBE .*bad-1.*NOPERM/);
      expect(logs.some((l) => /refused SUBSCRIBE .*bad-1/.test(l))).toBe(true);
      off();
    } finally {
      await c.close();
    }
  });

  it('leaves no unhandled rejection when ready is never read, and a readable channel still hears its events', async () => {
    const c = new Client({ redis: redis.options(user), logger: keeping([]) });
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      c.subscribe('bad-2', () => {});
      const heard: string[] = [];
      const good = c.subscribe('good-2', (e) => heard.push(e.event));
      await good.ready;
      // published by the task's own channel name, as a worker would
      const channel = `${(c as unknown as { keysOf(id: string): { events(id: string): string } }).keysOf('good-2').events('good-2')}`;
      expect(channel).toContain('good-2');
      await redis.client().publish(channel, JSON.stringify({ event: 'progress', data: { id: 'good-2' }, at: 1 }));
      await until(() => heard.length > 0, 'the event heard');
      await new Promise((r) => setTimeout(r, 200)); // (and nothing more)
      expect(heard).toEqual(['progress']);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await c.close();
    }
  });

  it("tells a dashboard page following a task whose channel is refused why, and leaves no unhandled rejection", async () => {
    const d = createDashboard({ redis: redis.options(user) });
    const url = await d.listen(0);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    const ac = new AbortController();
    try {
      const res = await fetch(`${url}api/task/bad-dash/stream`, { signal: ac.signal });
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
      expect(text).toMatch(/^event: refused\ndata: \{"error":".*bad-dash.*"\}\n\n$/);
      const admin = redis.client();
      expect(JSON.stringify(await admin.call('ACL', 'LOG'))).toContain('bad-dash');
      await new Promise((r) => setTimeout(r, 200)); // (a rejection is reported after its tick)
      expect(unhandled).toEqual([]);
      // and it stops asking for the task's states, which no one here could hear (each ask is
      // a round trip: asks at 0.5, 1.5, 3.5 s ... for as long as the page stayed open)
      await admin.config('RESETSTAT');
      await new Promise((r) => setTimeout(r, 2000));
      expect(await admin.info('commandstats')).not.toMatch(/cmdstat_(exec|exists|sismember|publish):/);
      ac.abort();
    } finally {
      ac.abort();
      process.off('unhandledRejection', onUnhandled);
      await d.close();
    }
  });

  it('still answers wait() for a task on a refused channel, from its polls', async () => {
    const opts = redis.options(user);
    const c = new Client({ redis: opts, logger: keeping([]) });
    // the worker as the default user (its events and control channels are its to use)
    const { username: _u, password: _p, ...asDefault } = opts;
    const w = new Worker({ redis: asDefault, host: '127.0.0.1', port: 0, logger: keeping([]) });
    w.addTaskFunction('f', async () => 7);
    try {
      await w.start();
      const id = await c.submit('f', null, { id: 'bad-3' });
      const t = await c.wait(id, { timeout: 5000, pollInterval: 100 });
      expect(t.outcome).toBe('succeeded');
      expect(t.result).toBe(7);
    } finally {
      await w.stop();
      await c.close();
    }
  });

  it('taken away from a Client process that follows a task does not end it', async () => {
    // a user of its own (its channels are taken away below), with every channel at first
    const mine = { username: 'events-revoked', password: 'revoked-pw' };
    const admin = redis.client();
    await admin.call('ACL', 'SETUSER', mine.username, 'on', `>${mine.password}`, '~*', 'allchannels', '+@all');
    const p = await spawnClient({ redis: redis.options(mine), id: 'revoked-1' });
    try {
      const exited = new Promise<string>((r) => p.proc.once('exit', (code, signal) => r(`exited (${code ?? signal})`)));
      // Redis drops the subscriber connection; ioredis's SUBSCRIBE once it is back is refused
      await admin.call('ACL', 'SETUSER', mine.username, 'resetchannels');
      expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r('alive'), 2000))])).toBe('alive');
    } finally {
      await p.kill('SIGKILL');
    }
  });
});
