/**
 * What a newcomer met calling the library from a plain script with a mistake in it: the
 * refusal must name the value as it was given, so the mistake shows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ConfigError } from '../src/index.js';
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

describe('client.wait with a number given as a string', () => {
  // (shown bare, "got 100" read as a valid value refused: the quotes are the mistake)
  it.each(['timeout', 'pollInterval', 'goneAfter'])('%s: a ConfigError that shows the string in quotes', async (option) => {
    const refused = await client.wait('x', { [option]: '100' } as never).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toMatch(new RegExp(`^wait: ${option} must be a number of ms between \\d+ and \\d+, got "100"$`));
  });
});
