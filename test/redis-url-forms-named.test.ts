/**
 * The Redis URL as people write it. Spaces around it (a `.env` line `REDIS_URL= redis://...`, a
 * value pasted with its leading space) are no part of it, on either side: a space before it was
 * refused as a url that "must start with redis://", which it did. And a url of no known form is
 * told every form there is, redis+cluster:// among them (the library's words left it out).
 */
import { describe, expect, it } from 'vitest';
import { Client, ConfigError } from '../src/index.js';
import { runMain } from './helpers/cli.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
redisPerFile((s) => {
  server = s;
});

describe('the Redis URL', () => {
  it.each([
    ['REDIS_URL with a space before it', (url: string) => ({ argv: [], env: { REDIS_URL: ` ${url}` } })],
    ['REDIS_URL with spaces around it', (url: string) => ({ argv: [], env: { REDIS_URL: `  ${url}\t` } })],
    ['--redis-url with a space before it', (url: string) => ({ argv: ['--redis-url', ` ${url}`], env: {} })],
  ])('%s: the command runs against that Redis', async (_what, given) => {
    const { argv, env } = given(server.url);
    const r = await runMain(['status', '--json', '--key-prefix', server.options().keyPrefix, ...argv], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ queued: 0, workers: 0 });
  });

  it('a url of no known form: a ConfigError listing every form, redis+cluster:// among them', () => {
    expect(() => new Client({ redis: { url: 'http://127.0.0.1:6379' } })).toThrow(ConfigError);
    expect(() => new Client({ redis: { url: 'http://127.0.0.1:6379' } })).toThrow(/^redis\.url must start with redis:\/\/, rediss:\/\/, redis\+sentinel:\/\/ or redis\+cluster:\/\/, got http:\/\/$/);
  });
});
