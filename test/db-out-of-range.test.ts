/**
 * A db the server does not have: ioredis's SELECT is refused at connect and the connection
 * stays on db 0. Every component says so with a ConfigError naming the db and Redis's answer,
 * and nothing is written to, or taken from, db 0.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, ConfigError, Monitor, Worker } from '../src/index.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { expectOneLine, runMain } from './helpers/cli.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const REFUSED = /database 99 cannot be used: SELECT 99 was refused \(ERR DB index is out of range\)/;

describe('a redis.db the server does not have', () => {
  it('fails a client call with a ConfigError, and writes nothing to db 0', async () => {
    const o = server.options({ db: 99 });
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const submit = c.submit('echo', 1);
    await expect(submit).rejects.toBeInstanceOf(ConfigError);
    await expect(submit).rejects.toThrow(REFUSED);
    await expect(c.stats()).rejects.toThrow(REFUSED);
    await expect(c.get('any')).rejects.toThrow(REFUSED);
    await expect(c.wait('any', { timeout: 5000 })).rejects.toThrow(REFUSED);
    expect(await redis.keys(`${o.keyPrefix}*`)).toEqual([]);
  });

  it('fails a client call the same with the db in a url', async () => {
    const keyPrefix = server.options().keyPrefix;
    const c = new Client({ redis: { url: `${server.url}/99`, keyPrefix } });
    cleanup.push(() => c.close());
    await expect(c.submit('echo', 1)).rejects.toThrow(REFUSED);
    expect(await redis.keys(`${keyPrefix}*`)).toEqual([]);
  });

  it('fails Worker.start() and Monitor.start(), which take nothing from db 0', async () => {
    const ok = server.options();
    const c = new Client({ redis: ok });
    cleanup.push(() => c.close());
    // a task in db 0 under the same prefix: a worker there would run it
    const id = await c.submit('echo', 1);
    const o = { ...ok, db: 99 };
    let ran = false;
    const w = new Worker({ port: 0, redis: o });
    cleanup.push(() => w.stop());
    w.addTaskFunction('echo', async () => {
      ran = true;
    });
    await expect(w.start()).rejects.toThrow(REFUSED);
    const m = new Monitor({ redis: o });
    cleanup.push(() => m.stop());
    await expect(m.start()).rejects.toThrow(REFUSED);
    expect(ran).toBe(false);
    expect((await c.get(id))?.state).toBe('QUEUED');
  });

  it('is one line from the CLI', async () => {
    const r = await runMain(['--redis-url', `${server.url}/99`, 'status']);
    expectOneLine(r, r.code, REFUSED);
    expect(r.code).not.toBe(0);
  });
});
