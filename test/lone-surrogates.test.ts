/**
 * A string holding a lone surrogate has no UTF-8 form: ioredis writes it as U+FFFD, and Redis's
 * cjson refuses its JSON escape (`"\udc00"`, which JSON.stringify writes and JSON.parse reads).
 * So wherever one could reach Redis it is refused before anything is written, with an error
 * naming what held it:
 * - data or a function name: taken, the task was parked `bad_json` unrun when it went on
 *   new-task (it ran when written whole, with a priority), a dead letter retry-dead refuses;
 * - an id given to cancel, get, control or wait: it acted on the task whose id is U+FFFD;
 * - a function name given to addTaskFunction: it was listed as a name no task has.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Logger } from 'tslog';
import { Client, ConfigError, InvalidTaskError, Worker } from '../src/index.js';
import { redisPerFile } from './helpers/suite.js';
import { runMain } from './helpers/cli.js';
import type { RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s: RedisServer, r: Redis) => {
  server = s;
  redis = r;
});

function client(): Client {
  const c = new Client({ redis: server.options() });
  cleanup.push(() => c.close());
  return c;
}

// (every key on this file's redis-server: a refused call writes none, under any prefix)
const stored = () => redis.dbsize();

describe('data holding a lone surrogate', () => {
  for (const [what, options] of [
    ['with a priority (written whole)', { priority: 1 }],
    ['with no option (pushed on new-task)', {}],
    ['delayed', { delay: 50 }],
  ] as const) {
    it(`${what}: refused by submit, nothing written`, async () => {
      const c = client();
      const before = await stored();
      await expect(c.submit('codes', 'a\udc00', options)).rejects.toThrow(InvalidTaskError);
      await expect(c.submit('codes', { deep: [{ s: '\ud800x' }] }, options)).rejects.toThrow(/lone surrogate/);
      expect(await stored()).toBe(before);
    });
  }

  it('a well-formed pair, and a backslash written before "ud800" as text, are data like any', async () => {
    const o = server.options();
    const w = new Worker({ port: 0, redis: o, logger: new Logger({ type: 'hidden' }) });
    w.addTaskFunction('echo', async (task) => task.data);
    await w.start();
    cleanup.push(() => w.stop());
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    for (const data of ['\ud83d\ude00', '\\ud800', '\\\\\ud83d\ude00\\ud800']) {
      const t = await c.wait(await c.submit('echo', data), { timeout: 5000 });
      expect({ outcome: t.outcome, result: t.result }).toEqual({ outcome: 'succeeded', result: data });
    }
  });

  it('submitMany: the index that holds one is named, and nothing of the batch is written', async () => {
    const c = client();
    const before = await stored();
    await expect(c.submitMany([{ fn: 'f', data: 1 }, { fn: 'f', data: ['\udfff'] }])).rejects.toThrow(/submitMany\[1\].*lone surrogate/);
    expect(await stored()).toBe(before);
  });

  it('task-swarm submit f \'"a\\udc00"\': one line, status 2, nothing written', async () => {
    const r = await runMain(['submit', 'codes', '"a\\udc00"', '--key-prefix', 'cli-lone:'], { REDIS_URL: server.url });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/lone surrogate/);
    expect(await redis.keys('cli-lone:*')).toEqual([]);
  });
});

describe('a function name holding a lone surrogate', () => {
  it('submit refuses it', async () => {
    await expect(client().submit('fn\ud800', null)).rejects.toThrow(/function name must be well-formed Unicode/);
  });

  it('addTaskFunction refuses it', () => {
    const w = new Worker({ port: 0, redis: server.options(), logger: new Logger({ type: 'hidden' }) });
    expect(() => w.addTaskFunction('fn\ud800', async () => 1)).toThrow(ConfigError);
  });
});

describe('an id holding a lone surrogate', () => {
  it('cancel("\\ud800") is refused and leaves the task "\\ufffd" alone', async () => {
    const c = client();
    await c.submit('nobody-serves-this', 1, { id: '\ufffd', priority: 1 });
    await expect(c.cancel('\ud800')).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
    expect((await c.get('\ufffd'))?.state).toBe('QUEUED');
  });

  it('get, control and wait of "\\udfff" are refused, not answered with the task "\\ufffd"', async () => {
    const c = client();
    await c.submit('nobody-serves-this', 1, { id: '\ufffd' });
    await expect(c.get('\udfff')).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
    await expect(c.control('\udfff', 'stop')).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
    await expect(c.wait('\udfff', { timeout: 100 })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
  });

  it('an id over 512 bytes is refused by get as by submit', async () => {
    await expect(client().get('é'.repeat(257))).rejects.toThrow(/514 bytes long, over 512/);
  });
});
