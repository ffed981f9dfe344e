/**
 * A db the server does not have: ioredis's SELECT is refused at connect and the connection
 * stays on db 0. Every component says so with a ConfigError naming the db and Redis's answer,
 * and nothing is written to, or taken from, db 0: not at start, nor when a server comes back
 * (restarted with another config, a replica promoted) without the db.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Client, ConfigError, Monitor, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { freePort, spawnRedis } from '../tools/redis-process.js';
import { redisPerFile } from './helpers/suite.js';
import { expectOneLine, runMain } from './helpers/cli.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const REFUSED_5 = /database 5 cannot be used: SELECT 5 was refused \(ERR DB index is out of range\)/;
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

  it('a url whose path is no database number (/abc, /1.5) is refused up front: a ConfigError, one CLI line naming the path', async () => {
    for (const path of ['/abc', '/1.5', '/-1', '/2147483648']) {
      const url = `${server.url}${path}`;
      expect(() => new Client({ redis: { url } }), path).toThrow(ConfigError);
      expect(() => new Client({ redis: { url } }), path).toThrow(`redis.url's path ${JSON.stringify(path)} is no database number`);
      const r = await runMain(['status', '--redis-url', url]);
      expectOneLine(r, 2, new RegExp(`^task-swarm: --redis-url's path "${path.replace('.', '\\.')}" is no database number: give a whole number from 0 to 2147483647`));
    }
    expect(() => new Client({ redis: { url: `${server.url}?db=x` } })).toThrow(`redis.url's db parameter "x" is no database number`);
    // what a number there selects is still taken
    const ok = new Client({ redis: { url: `${server.url}/3` } });
    cleanup.push(() => ok.close());
    expect(ok.config.db).toBe(3);
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

describe('a server that comes back with fewer databases under a running worker and monitor', () => {
  it('has nothing written to db 0: they wait, say why, and carry on once the server has the db again; the task runs once', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'task-swarm-db-'));
    let proc = await spawnRedis({ port, dir });
    const restart = async (databases: number) => {
      await new Promise((r) => (proc.once('exit', r), proc.kill('SIGKILL')));
      proc = await spawnRedis({ port, dir, args: ['--databases', String(databases)] });
    };
    cleanup.push(async () => {
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    const o = { host: '127.0.0.1', port, db: 5 };
    const errors: string[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (m: string) => errors.push(m) };
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 200, logger });
    const m = new Monitor({ redis: o, logger });
    const c = new Client({ redis: o });
    cleanup.push(() => c.close(), () => m.stop(), () => w.stop());
    let runs = 0;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    w.addTaskFunction('f', async () => {
      runs++;
      await released;
      return 'done';
    });
    await w.start();
    await m.start();
    const id = await c.submit('f', 1);
    await until(() => w.running.includes(id), 'the task running');

    await restart(2);
    // (a while of reconnects, each refused: the worker's ENDs, claims and re-assertion and the
    // monitor's sweeps would have gone to db 0)
    await new Promise((r) => setTimeout(r, 2000));
    const admin = new Redis({ port });
    cleanup.push(async () => admin.disconnect());
    expect(await admin.keys('*')).toEqual([]);
    await until(() => errors.filter((e) => REFUSED_5.test(e)).length >= 2, 'the worker and the monitor saying why they wait');
    await expect(c.get(id)).rejects.toThrow(REFUSED_5);
    expect(w.running).toEqual([id]);

    // the db is there again (and the data gone, no persistence): the worker re-asserts its task
    await restart(16);
    // (the client's calls are refused until its connection has come back and selected the db)
    await until(() => c.get(id).then(() => true, () => false), 'the client served again');
    release();
    expect(await c.wait(id, { timeout: 15_000 })).toMatchObject({ state: 'END', outcome: 'succeeded', result: 'done' });
    expect(runs).toBe(1);
    expect(await admin.keys('*')).toEqual([]);
  }, 40_000);
});
