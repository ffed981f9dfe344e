/**
 * A caller's mistake is a TaskSwarmError naming it (README: "Every error a caller can meet is a
 * TaskSwarmError with a code"), never a TypeError from inside the client:
 * - submitMany of an array with a hole ([, task]): map skipped the hole, and a later loop read
 *   `.id` of undefined;
 * - retryDead(null) / purgeDead(undefined): `letter.key` read of null;
 * - a client closed before its first call, asked to read: it said Redis could not be reached
 *   ("nothing was sent"), where a closed client's calls are a StateError;
 * - control with a message that is no control and that JSON cannot write (a BigInt, a cycle):
 *   the refusal's own message was made with JSON.stringify, which threw its TypeError instead.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, StateError, TaskSwarmError } from '../src/index.js';
import { redisPerFile } from './helpers/suite.js';
import type { RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
const cleanup = redisPerFile((s: RedisServer, _r: Redis) => {
  server = s;
});

function client(): Client {
  const c = new Client({ redis: server.options() });
  cleanup.push(() => c.close());
  return c;
}

const kind = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof TaskSwarmError ? `${e.constructor.name} ${e.code}` : `not a TaskSwarmError: ${String(e)}`),
  );

describe('caller mistakes are TaskSwarmErrors', () => {
  it('submitMany with a hole in its array: an InvalidTaskError naming the index, nothing written', async () => {
    const c = client();
    // eslint-disable-next-line no-sparse-arrays
    const tasks = [, { fn: 'f', data: 1 }] as unknown as { fn: string }[];
    await expect(c.submitMany(tasks)).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: expect.stringContaining('submitMany[0]') });
  });

  it('manualEnd that is not a boolean (the text "no" read as true): a ConfigError naming it', async () => {
    const c = client();
    await expect(c.submit('f', 1, { manualEnd: 'no' as unknown as boolean })).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringMatching(/manualEnd must be true or false/) });
  });

  it('retryDead and purgeDead of no letter at all: a TaskSwarmError, not a TypeError', async () => {
    const c = client();
    expect(await kind(c.retryDead(null as unknown as string))).toMatch(/^\w+Error ERR_/);
    expect(await kind(c.purgeDead(undefined as unknown as string))).toMatch(/^\w+Error ERR_/);
  });

  it('a number where an id or a count goes is shown as itself: NaN and Infinity, not null', async () => {
    const c = client();
    await expect(c.get(NaN as unknown as string)).rejects.toThrow(/got NaN$/);
    await expect(c.cancel(Infinity as unknown as string)).rejects.toThrow(/got Infinity$/);
    await expect(c.deadLetters({ limit: NaN })).rejects.toThrow(/got NaN$/);
  });

  it('wait with a misspelt option (timout): a ConfigError naming it, at once, not a wait with no timeout', async () => {
    const c = client();
    const t0 = Date.now();
    await expect(c.wait('never-submitted', { timout: 100 } as never)).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining('wait: unknown option "timout"') });
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('deadLetters with a misspelt option (limt): a ConfigError naming it, not the default page', async () => {
    const c = client();
    await expect(c.deadLetters({ limt: 1 } as never)).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining('deadLetters: unknown option "limt"') });
  });

  it('a client closed before its first call: a read is a StateError, not "cannot reach Redis"', async () => {
    for (const call of [(c: Client) => c.get('x'), (c: Client) => c.stats(), (c: Client) => c.deadLetters(), (c: Client) => c.control('x', 'stop')]) {
      const c = new Client({ redis: server.options() });
      await c.close();
      await expect(call(c), String(call)).rejects.toBeInstanceOf(StateError);
    }
  });

  it('control with a message JSON cannot write (a BigInt, a cycle): an InvalidTaskError naming what it is, not a TypeError', async () => {
    const c = client();
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    await expect(c.control('x', 5n as never)).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: expect.stringMatching(/control must be .* got a bigint/) });
    await expect(c.control('x', cycle as never)).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: expect.stringMatching(/control must be .* got an object/) });
  });

  it('a BigInt or a cycle where a group, a limit or a function name goes: a ConfigError naming what it is, not a TypeError', async () => {
    const c = client();
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    await expect(c.submit('f', 1, { group: 5n as never })).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining('submit: group must be a string of 1 to 128 bytes of well-formed Unicode, got 5n') });
    await expect(c.setLimit({ function: 'f' }, { concurrency: 2n as never })).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining('got 2n') });
    await expect(c.setLimit(cycle as never, null)).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining('got an object JSON cannot write') });
    await expect(c.pause(cycle as never)).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining('pause: the function must be a non-empty string, got an object JSON cannot write') });
  });

  it('pause or resume of a function name holding a lone surrogate: a ConfigError, not a pause of the function named U+FFFD', async () => {
    const c = client();
    await expect(c.pause('f\ud800')).rejects.toMatchObject({ code: 'ERR_CONFIG', message: 'pause: the function name must be well-formed Unicode (it holds a lone surrogate), got "f\\ud800"' });
    await expect(c.resume('f\ud800')).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining('resume: the function name must be well-formed Unicode') });
    await c.submit('f\ufffd', null, { id: 'replacement-char' });
    expect((await c.get('replacement-char'))?.state).toBe('QUEUED');
    expect(await c.resume('f\ufffd')).toBe(false);
  });
});
