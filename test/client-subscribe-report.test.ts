/**
 * A subscribe handler that throws is reported once and the others still get the event, whatever
 * it threw and whatever the logger does: the subscriber's `message` listener runs inside
 * ioredis's reply parser, where a throw would be an uncaught exception, the end of the process.
 * A value the logger cannot read (a revoked Proxy: tslog's isError reads its prototype and
 * throws) and a logger whose warn throws both made the listener throw.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Logger } from 'tslog';
import { Client, type LoggerLike } from '../src/index.js';
import { redisPerFile } from './helpers/suite.js';
import type { RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s: RedisServer, r: Redis) => {
  server = s;
  redis = r;
});

const revoked = (): object => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
};

let uncaught: unknown[] = [];
const onUncaught = (e: unknown) => uncaught.push(e);
beforeEach(() => {
  uncaught = [];
  process.on('uncaughtException', onUncaught);
});
afterEach(() => {
  process.off('uncaughtException', onUncaught);
});

async function twoEvents(logger: LoggerLike, throwing: () => void): Promise<string[]> {
  const o = server.options();
  const c = new Client({ redis: o, logger });
  cleanup.push(() => c.close());
  const seen: string[] = [];
  const bad = c.subscribe('t', throwing);
  const good = c.subscribe('t', (ev) => void seen.push(ev.event));
  await Promise.all([bad.ready, good.ready]);
  for (const event of ['first', 'second']) await redis.publish(`${o.keyPrefix}task-t-events`, JSON.stringify({ event, data: null, at: Date.now() }));
  const until = Date.now() + 2000;
  while (seen.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  return seen;
}

describe('a subscribe handler that throws', () => {
  it('a value the logger cannot read (a revoked Proxy): the other handler still gets every event, no uncaught exception', async () => {
    const seen = await twoEvents(new Logger({ type: 'hidden' }), () => {
      throw revoked();
    });
    expect(uncaught).toEqual([]);
    expect(seen).toEqual(['first', 'second']);
  });

  it('with a logger whose warn throws: the other handler still gets every event, no uncaught exception', async () => {
    const logger: LoggerLike = {
      debug() {},
      info() {},
      error() {},
      warn() {
        throw new Error('log sink down');
      },
    };
    const seen = await twoEvents(logger, () => {
      throw new Error('handler bug');
    });
    expect(uncaught).toEqual([]);
    expect(seen).toEqual(['first', 'second']);
  });
});
