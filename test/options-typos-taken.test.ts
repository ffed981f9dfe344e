/**
 * Keys the library does not know, taken without a word where the rest of the API refuses them
 * (submit's options, wait, deadLetters, drawId, setLimit name an unknown key):
 * - `worker.addTaskFunction('resize', fn, { concurency: 2 })`: the cap the user meant is not
 *   set, and the function runs up to the worker's whole concurrency;
 * - `client.control(id, { event_name: 'pause', evnt: {...} })`: the message goes out with no
 *   event, the payload meant for the task lost.
 * Each must be a ConfigError or InvalidTaskError naming the key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, TaskSwarmError, Worker } from '../src/index.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let client: Client;

beforeAll(async () => {
  server = await startRedis();
  client = new Client({ redis: server.options() });
});
afterAll(async () => {
  await client.close();
  await server.stop();
});

const thrown = (f: () => unknown) => {
  try {
    f();
    return undefined;
  } catch (e) {
    return e as Error;
  }
};

describe('an unknown key', () => {
  it('addTaskFunction options { concurency } is refused, naming it', () => {
    const w = new Worker({ port: 0 });
    const e = thrown(() => w.addTaskFunction('resize', async () => 1, { concurency: 2 } as never));
    expect(e).toBeInstanceOf(TaskSwarmError);
    expect(e?.message).toMatch(/concurency/);
  });

  it('a control message { event_name, evnt } is refused, naming it', async () => {
    const id = await client.submit('resize', 1);
    const e = await client.control(id, { event_name: 'pause', evnt: { at: 3 } } as never).then(
      () => undefined,
      (x: unknown) => x as Error,
    );
    expect(e).toBeInstanceOf(TaskSwarmError);
    expect(e?.message).toMatch(/evnt/);
  });
});
