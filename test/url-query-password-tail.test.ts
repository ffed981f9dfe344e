/**
 * A password holding an unencoded "?" (`redis://default:8?k3Lm$x@host:6379`) ends the url's
 * authority there: what follows, the rest of the password, the "@" and the real host, reads as
 * the url's query. The query check refused it naming the "parameter", which was the password's
 * tail, in the ConfigError, on the CLI's line and wherever a caller logs it. Such a query (one
 * holding an "@") is refused without a word of it, saying to %-encode the password; a query
 * that is fine is taken as before, an "@" in a value (an ACL user name) with it.
 */
import { describe, expect, it } from 'vitest';
import { Client, ConfigError, Monitor, Worker } from '../src/index.js';
import { resolveRedisConfig } from '../src/config.js';
import { runMain } from './helpers/cli.js';

const SECRETS = ['k3Lm', 'hunter2', 'sw0rd'];
const URLS = [
  // the password's tail as a parameter's name
  'redis://default:8?k3Lm$x@redis.example.com:6379',
  // ... as a name and a value
  'redis://default:8?hunter2=sw0rd@redis.example.com:6379',
  // ... as the value of a parameter a url may set
  'redis://default:8?family=hunter2@redis.example.com:6379',
  'redis://default:8?db=hunter2@redis.example.com:6379',
];

describe('a redis:// url whose password holds an unencoded "?"', () => {
  it.each(URLS)('%s: a ConfigError that shows none of the password', async (url) => {
    for (const make of [() => new Client({ redis: { url } }), () => new Worker({ port: 0, redis: { url } }), () => new Monitor({ redis: { url } })]) {
      let error: unknown;
      try {
        make();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toMatch(/%-encode/);
      for (const s of SECRETS) expect(message).not.toContain(s);
    }
    for (const run of [() => runMain(['status', '--redis-url', url]), () => runMain(['status'], { REDIS_URL: url })]) {
      const r = await run();
      expect(r.code).toBe(2);
      for (const s of SECRETS) expect(r.stderr + r.stdout).not.toContain(s);
    }
  });

  it('a query whose value holds an "@" is taken as before when nothing in it is refused', () => {
    const r = resolveRedisConfig({ url: 'redis://127.0.0.1:1?username=me@example.org&db=2' });
    expect(r.db).toBe(2);
  });
});
