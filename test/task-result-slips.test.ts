/**
 * A task function's slips that JSON would hide: a Promise returned unawaited (Promise.all
 * forgotten), an Error returned (whole) rather than thrown, a generator function registered (its
 * body never runs). Each was written as `{}`, and the task read `succeeded` with its work undone: a
 * task that is as good as lost. Now each ends failed with a message naming the slip, as a Map
 * result does; a generator function is refused when it is added. And the same name added twice
 * with another function is said (the first was left unrun, without a word).
 */
import { describe, expect, it } from 'vitest';
import { Client, ConfigError, InvalidTaskError, Worker } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
import { collectingLogger } from './helpers/collecting-logger.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

function* steps() {
  yield 1;
}

describe("a task function's slips, which JSON would write as {}", () => {
  it('end the task failed, naming the slip, not succeeded with {}', async () => {
    const o = server.options();
    const worker = new Worker({ redis: o, port: 0 });
    worker.addTaskFunction('returns-an-error', async () => new Error('disk full'));
    worker.addTaskFunction('forgot-promise-all', async () => [1, 2].map(async (n) => n * 2));
    worker.addTaskFunction('returns-a-generator', async () => steps());
    worker.addTaskFunction('nested-promise', async () => ({ total: 3, upload: Promise.resolve('url') }));
    const client = new Client({ redis: o });
    cleanup.push(() => worker.stop(), () => client.close());
    await worker.start();
    const expected: [string, RegExp][] = [
      ['returns-an-error', /^the task function returned an Error \(Error: disk full\) rather than throwing it/],
      ['forgot-promise-all', /a Promise \(at "0"\) \(not awaited/],
      ['returns-a-generator', /a generator object/],
      ['nested-promise', /a Promise \(at "upload"\)/],
    ];
    for (const [fn, message] of expected) {
      const id = await client.submit(fn);
      const t = await client.wait(id, { timeout: 10_000 });
      expect(t.outcome, fn).toBe('failed');
      expect(t.error?.message, fn).toMatch(message);
    }
  });

  it('a generator function is refused when added', () => {
    const worker = new Worker({ redis: server.options(), port: 0 });
    expect(() => worker.addTaskFunction('gen', steps as never)).toThrow(ConfigError);
    expect(() => worker.addTaskFunction('gen', steps as never)).toThrow(/generator function \(function\*\)/);
  });

  it('data holding a Promise is refused at submit, naming where; an Error inside data is data (its fields, as JSON writes them)', async () => {
    const client = new Client({ redis: server.options() });
    cleanup.push(() => client.close());
    await expect(client.submit('f', { when: Promise.resolve(1) })).rejects.toThrow(/a Promise \(at "when"\)/);
    await expect(client.submit('f', { when: Promise.resolve(1) })).rejects.toThrow(InvalidTaskError);
    // (an Error with fields of its own, as Node's socket errors have, was data before, and stays so)
    await expect(client.submit('f', { err: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), retry: null })).resolves.toEqual(expect.any(String));
  });

  it('the same name added again with another function is said, and the later one runs', async () => {
    const logged = collectingLogger();
    const worker = new Worker({ redis: server.options(), port: 0, logger: logged.logger });
    const same = async () => 'same';
    worker.addTaskFunction('resize', same);
    // (the same function again, its cap changed: nothing to say)
    worker.addTaskFunction('resize', same, { concurrency: 2 });
    expect(logged.lines).toEqual([]);
    worker.addTaskFunction('resize', async () => 'thumbnail');
    expect(logged.lines).toEqual(['addTaskFunction("resize"): another function was added under this name before; this one replaces it (is the name right?)']);
  });

  it('a progress update() refused and not awaited is said once, and the task goes on', async () => {
    const logged = collectingLogger();
    const o = server.options();
    const worker = new Worker({ redis: o, port: 0, logger: logged.logger });
    worker.addTaskFunction('bad-progress', async (task) => {
      // (a BigInt JSON cannot carry; not awaited, twice)
      void task.update({ done: 1n });
      void task.update({ done: 2n });
      return 'went on';
    });
    const client = new Client({ redis: o });
    cleanup.push(() => worker.stop(), () => client.close());
    await worker.start();
    const id = await client.submit('bad-progress');
    expect(await client.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: 'went on' });
    expect(logged.lines.filter((l) => l.includes('update() refused its progress'))).toHaveLength(1);
  });
});
