/**
 * A redis:// url's query parameters. ioredis takes every one as a connection option of that
 * name, as a string: `?foo=bar` was dropped without a word, and `?connectTimeout=500` went past
 * the config's checks as the text "500". A url may set what ioredis reads as a url's own (db,
 * password, username, family), each once; anything else is a ConfigError (one CLI line) naming
 * the parameter and never its value.
 */
import { describe, expect, it } from 'vitest';
import { Client, ConfigError, Monitor, Worker } from '../src/index.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { expectOneLine, runMain } from './helpers/cli.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

describe("a redis:// url's query", () => {
  it.each([
    ['an unknown parameter', '?foo=bar', /its query parameter "foo" is not one a url may set \(db, password, username, family\)/],
    ['a connection option ioredis would take as a string', '?connectTimeout=500', /its query parameter "connectTimeout" is not one a url may set/],
    ['a parameter given twice', '?db=1&db=2', /its query parameter "db" is given twice/],
    ['a family that is no IP family', '?family=5', /its family parameter must be 4 \(IPv4\), 6 \(IPv6\) or 0 \(either\), got "5"/],
  ])('%s is a ConfigError for Client, Worker and Monitor, and one CLI line', async (_, query, message) => {
    const url = `${server.url}${query}`;
    for (const make of [() => new Client({ redis: { url } }), () => new Worker({ port: 0, redis: { url } }), () => new Monitor({ redis: { url } })]) {
      expect(make).toThrow(ConfigError);
      expect(make).toThrow(message);
    }
    expectOneLine(await runMain(['status', '--redis-url', url]), 2, message);
  });

  it('never shows the value of a parameter it refuses (it may be a secret)', async () => {
    const url = `${server.url}?pasword=hunter2`;
    expect(() => new Client({ redis: { url } })).toThrow(/"pasword"/);
    expect(() => new Client({ redis: { url } })).not.toThrow(/hunter2/);
    const r = await runMain(['status', '--redis-url', url]);
    expect(r.stderr).toMatch(/"pasword"/);
    expect(r.stderr + r.stdout).not.toMatch(/hunter2/);
  });

  it('db and family are taken, and the client works through them', async () => {
    const keyPrefix = server.options().keyPrefix;
    const c = new Client({ redis: { url: `${server.url}?db=3&family=4`, keyPrefix } });
    cleanup.push(() => c.close());
    expect(c.config.db).toBe(3);
    const id = await c.submit('echo', 1);
    expect((await c.get(id))?.state).toBe('QUEUED');
  });
});
