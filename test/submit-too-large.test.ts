/**
 * A task larger than the workers' maxPayloadBytes was taken by `submit` and parked `too_large`
 * later, by the worker that claimed it: the producer heard nothing. A Client given a
 * maxPayloadBytes refuses it at submit, with a TaskTooLargeError naming the size and the limit,
 * nothing written; `submitMany` refuses the whole call for one such item, naming its index. The
 * size is the entry's JSON in UTF-8 bytes, as the workers count it. (A Client given none follows
 * the live workers' limits: test/payload-limit-workers.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, ConfigError, InvalidTaskError, TaskTooLargeError, Worker } from '../src/index.js';
import { WORKER_FIELDS } from '../src/config.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { cliSwarm, expectOneLine } from './helpers/cli.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

function client(extra: Record<string, unknown> = {}) {
  const o = server.options();
  const c = new Client({ redis: o, ...extra });
  cleanup.push(() => c.close());
  return { o, c };
}

/** nothing of the swarm's is in Redis under `prefix` */
async function nothingWritten(prefix: string) {
  expect(await redis.keys(`${prefix}*`)).toEqual([]);
}

describe('a task over the limit is refused at submit, nothing written', () => {
  it("given the workers' default (1 MiB): refused naming the size and the limit", async () => {
    const limit = WORKER_FIELDS.maxPayloadBytes.default;
    const { o, c } = client({ maxPayloadBytes: limit });
    const err = await c.submit('f', 'x'.repeat(limit), { id: 'big' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskTooLargeError);
    expect(err).toBeInstanceOf(InvalidTaskError);
    const bytes = Buffer.byteLength(JSON.stringify({ id: 'big', function: 'f', data: 'x'.repeat(limit) }));
    expect(err).toMatchObject({ code: 'ERR_INVALID_TASK', bytes, limit });
    expect((err as Error).message).toBe(`submit: task "big" is ${bytes} bytes as JSON, over the client's maxPayloadBytes ${limit} (a worker parks a larger entry too_large); nothing was written`);
    await nothingWritten(o.keyPrefix);
    // (and one just under it goes through)
    expect(await c.submit('f', 'x'.repeat(limit - 100), { id: 'fits' })).toBe('fits');
  });

  it("counts UTF-8 bytes, as the workers do: 600 'é' are 1200 bytes, over a limit of 1000", async () => {
    const { o, c } = client({ maxPayloadBytes: 1000 });
    const err = await c.submit('f', 'é'.repeat(600)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskTooLargeError);
    expect((err as TaskTooLargeError).bytes).toBeGreaterThan(1200);
    expect((err as Error).message).toMatch(/^submit: task ".+" is \d+ bytes as JSON, over the client's maxPayloadBytes 1000 /);
    await nothingWritten(o.keyPrefix);
  });

  it('submitMany: one item over the limit refuses the whole call, naming its index; nothing written', async () => {
    const { o, c } = client({ maxPayloadBytes: 1000 });
    const err = await c
      .submitMany([
        { fn: 'f', data: 1 },
        { fn: 'f', data: 'small' },
        { fn: 'f', data: 'x'.repeat(2000), options: { id: 'third' } },
        { fn: 'f', data: 3 },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskTooLargeError);
    expect((err as Error).message).toMatch(/^submitMany\[2\]: task "third" is \d+ bytes as JSON, over the client's maxPayloadBytes 1000 .*nothing was written$/);
    await nothingWritten(o.keyPrefix);
  });

  it('maxPayloadBytes is checked as the workers\' is: a ConfigError for one that is no size', () => {
    for (const bad of [0, -1, 1.5, '1000']) {
      expect(() => new Client({ redis: server.options(), maxPayloadBytes: bad as number }), String(bad)).toThrow(ConfigError);
    }
    expect(() => new Client({ redis: server.options(), maxPayloadBytes: 0 })).toThrow(/^Client\.maxPayloadBytes must be >= 1, got 0$/);
    expect(() => new Client({ redis: server.options(), maxPaylodBytes: 1 } as never)).toThrow(/Client: unknown option "maxPaylodBytes" \(known: maxPayloadBytes, redis, logger\)/);
  });
});

describe('a schedule whose tasks would be over the limit', () => {
  it('is refused when set, naming the size of each task it would queue; nothing written', async () => {
    const { o, c } = client({ maxPayloadBytes: 1000 });
    const err = await c.schedule('big', { every: 60_000 }, 'f', 'x'.repeat(2000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskTooLargeError);
    expect((err as Error).message).toMatch(/^schedule "big": each task it queues is \d+ bytes as JSON, over the client's maxPayloadBytes 1000 .*nothing was written$/);
    await nothingWritten(o.keyPrefix);
    // (the bytes counted are those of the task a monitor queues: one of 1000 exactly is taken)
    const base = Buffer.byteLength(JSON.stringify({ id: `schedule:fits@${new Date(0).toISOString()}`, function: 'f', data: '' }));
    expect(await c.schedule('fits', { every: 60_000 }, 'f', 'x'.repeat(1000 - base))).toMatchObject({ changed: true });
    await expect(c.schedule('fits', { every: 60_000 }, 'f', 'x'.repeat(1001 - base))).rejects.toMatchObject({ bytes: 1001, limit: 1000 });
  });
});

describe('the CLI', () => {
  it('submit --max-payload-bytes sets the limit: a larger task is one line, exit 2, nothing written', async () => {
    const cli = cliSwarm(server, redis, 'cli-too-large:');
    cleanup.push(() => cli.client.close());
    expectOneLine(await cli.run('submit', 'f', JSON.stringify('x'.repeat(300)), '--id', 'big', '--max-payload-bytes', '200'), 2, /^task-swarm: submit: task "big" is \d+ bytes as JSON, over the client's maxPayloadBytes 200 .*nothing was written$/m);
    expect(await cli.keys()).toEqual([]);
    // (raised, the same task goes in)
    const r = await cli.run('submit', 'f', JSON.stringify('x'.repeat(300)), '--id', 'big', '--max-payload-bytes', '2000');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('big\n');
  });

  it('--max-payload-bytes that is no size is refused naming the flag, not the library option', async () => {
    const cli = cliSwarm(server, redis, 'cli-too-large-0:');
    cleanup.push(() => cli.client.close());
    expectOneLine(await cli.run('submit', 'f', '1', '--max-payload-bytes', '0'), 2, /^task-swarm: --max-payload-bytes must be an integer >= 1, got "0"\n$/);
    expectOneLine(await cli.run('schedule', 'n', 'f', '1', '--every', '60000', '--max-payload-bytes', '0'), 2, /^task-swarm: --max-payload-bytes must be an integer >= 1, got "0"\n$/);
    expect(await cli.keys()).toEqual([]);
  });

  it('schedule --max-payload-bytes sets the limit schedule() checks each tick\'s task against', async () => {
    const cli = cliSwarm(server, redis, 'cli-too-large-schedule:');
    cleanup.push(() => cli.client.close());
    const data = JSON.stringify('x'.repeat(300));
    expectOneLine(await cli.run('schedule', 'big', 'f', data, '--every', '60000', '--max-payload-bytes', '200'), 2, /^task-swarm: schedule "big": each task it queues is \d+ bytes as JSON, over the client's maxPayloadBytes 200 .*nothing was written$/m);
    expect(await cli.keys()).toEqual([]);
    const r = await cli.run('schedule', 'big', 'f', data, '--every', '60000', '--max-payload-bytes', '2000');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^scheduled "big": every 60000 ms -> "f"; next /);
  });
});

describe('the client and the workers count alike', () => {
  it('a task of exactly the limit, accepted by the client, is run by a worker of the same limit (not parked)', async () => {
    const limit = 1000;
    const { o, c } = client({ maxPayloadBytes: limit });
    const w = new Worker({ port: 0, redis: o, maxPayloadBytes: limit });
    cleanup.push(() => w.stop());
    w.addTaskFunction('echo', async (t) => (t.data as string).length);
    await w.start();
    // the entry's JSON with a data string of n 'é' (2 bytes each) and one 'x' to make it even
    const entry = (n: number, x: string) => JSON.stringify({ id: 'edge', function: 'echo', data: `${'é'.repeat(n)}${x}` });
    const base = Buffer.byteLength(entry(0, ''));
    const n = Math.floor((limit - base) / 2);
    const data = `${'é'.repeat(n)}${(limit - base) % 2 ? 'x' : ''}`;
    expect(Buffer.byteLength(JSON.stringify({ id: 'edge', function: 'echo', data }))).toBe(limit);
    expect(await c.submit('echo', data, { id: 'edge' })).toBe('edge');
    expect(await c.wait('edge', { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: data.length });
    // one byte more (an id as long, a data one 'x' longer) is refused by the client
    await expect(c.submit('echo', `${data}x`, { id: 'next' })).rejects.toMatchObject({ bytes: limit + 1, limit });
  });
});
