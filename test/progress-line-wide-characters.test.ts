/**
 * The progress line `wait` redraws on a terminal fits the terminal in columns, not in UTF-16
 * units: a task id of wide characters (Japanese, Chinese, Korean; most emoji) took two columns a
 * character while the line was cut as if each took one, so it wrapped and every redraw stacked
 * another line; and a cut could fall inside an emoji, writing half of it (a lone surrogate).
 */
import type { Redis } from 'ioredis';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { Worker, type Client } from '../src/index.js';
import { fitColumns } from '../src/cli/progress.js';
import { cliSwarm, runMain } from './helpers/cli.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;
let n = 0;
const cleanup: (() => Promise<unknown>)[] = [];
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
});
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

/** the columns a line takes: wide characters two (the ones these tests use) */
const columns = (line: string) => [...line].reduce((sum, ch) => sum + (/[\u3040-\u30ff\u4e00-\u9fff\u{1f300}-\u{1faff}]/u.test(ch) ? 2 : 1), 0);

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

async function waitOnNarrowTerminal(id: string): Promise<string[]> {
  const s = cliSwarm(server, redis, `wide${++n}:`);
  cleanup.push(() => s.client.close());
  const w = new Worker({ port: 0, redis: { ...server.options(), keyPrefix: s.prefix }, logger: quiet });
  w.addTaskFunction('steps', async (t) => {
    await new Promise((resolve) => t.on('go', resolve));
    for (const pct of [25, 50, 75, 100]) await t.update({ pct });
    return 'done';
  });
  await w.start();
  cleanup.push(() => w.stop());
  expect((await s.run('submit', 'steps', '--id', id)).code).toBe(0);
  await until(async () => (await s.client.get(id))?.state === 'RUNNING', 'the task to run');
  const waiting = runMain(['wait', id, '--key-prefix', s.prefix], { REDIS_URL: server.url }, { columns: 40 });
  const channel = `${s.prefix}task-${id}-events`;
  await until(async () => ((await redis.pubsub('NUMSUB', channel)) as [string, number])[1] > 0, 'the CLI to follow the task');
  await (s.client as Client).control(id, { event_name: 'go' });
  const r = await waiting;
  expect(r.code, r.stderr).toBe(0);
  const draws = r.stderr.split('\r\x1b[2K').filter(Boolean).map((d) => d.replace(/\n$/, ''));
  // (the progress lines: each starts with its clock time; cut short, the id fills the rest)
  const progress = draws.filter((d) => /^\d\d:\d\d:\d\d\.\d{3} /.test(d));
  expect(progress).toHaveLength(4);
  return progress;
}

describe('the progress line on a terminal 40 columns wide', () => {
  it('an id of wide characters: each drawn line fits in 39 columns', async () => {
    for (const draw of await waitOnNarrowTerminal('進捗タスク'.repeat(6))) expect(columns(draw), draw).toBeLessThanOrEqual(39);
  });

  it('an id of emoji: each drawn line fits, and holds no half of one', async () => {
    for (const draw of await waitOnNarrowTerminal(`x${'🙂'.repeat(30)}`)) {
      expect(columns(draw), draw).toBeLessThanOrEqual(39);
      expect(draw, draw).not.toMatch(LONE_SURROGATE);
    }
  });

  it('fitColumns keeps whole characters within the width', () => {
    expect(fitColumns('ab進捗cd', 4)).toBe('ab進');
    expect(fitColumns('ab進捗cd', 3)).toBe('ab');
    expect(fitColumns('a🙂🙂', 4)).toBe('a🙂');
    expect(fitColumns('plain', 10)).toBe('plain');
  });
});
