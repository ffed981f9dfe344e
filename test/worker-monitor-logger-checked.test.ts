/**
 * A `logger` that is no logger (a number, `{}`, `console.log` passed where `console` was meant):
 * `new Client` refuses it at once, a ConfigError naming Client.logger. `new Worker` and `new
 * Monitor` take it, and `start()` then throws a plain TypeError ("this.log.info is not a
 * function"), while the timers it started throw "log.debug is not a function" as uncaught
 * exceptions, which end a process that has no handler for them. They must refuse it in their
 * constructors as the Client does, with a ConfigError naming the option.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, Monitor, Worker } from '../src/index.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
const uncaught: unknown[] = [];
const keep = (e: unknown) => void uncaught.push(e);

beforeAll(async () => {
  server = await startRedis();
  process.on('uncaughtException', keep);
});
afterAll(async () => {
  process.off('uncaughtException', keep);
  await server.stop();
});
afterEach(() => {
  uncaught.length = 0;
});

const NOT_LOGGERS: [string, unknown][] = [
  ['a number', 5],
  ['an empty object', {}],
  ['a function (console.log)', () => {}],
];

describe('a logger that is no logger', () => {
  it.each(NOT_LOGGERS)('new Worker refuses %s with a ConfigError naming logger', async (_what, logger) => {
    let made: Worker | undefined;
    try {
      const e = (() => {
        try {
          made = new Worker({ redis: server.options(), port: 0, logger: logger as never });
          return undefined;
        } catch (x) {
          return x;
        }
      })();
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as Error).message).toMatch(/logger/);
    } finally {
      if (made) {
        made.addTaskFunction('f', async () => 1);
        await made.start().catch(() => {});
        await new Promise((r) => setTimeout(r, 300));
        await made.stop().catch(() => {});
      }
    }
    expect(uncaught).toEqual([]);
  });

  it.each(NOT_LOGGERS)('new Monitor refuses %s with a ConfigError naming logger', async (_what, logger) => {
    let made: Monitor | undefined;
    try {
      const e = (() => {
        try {
          made = new Monitor({ redis: server.options(), logger: logger as never });
          return undefined;
        } catch (x) {
          return x;
        }
      })();
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as Error).message).toMatch(/logger/);
    } finally {
      if (made) {
        await made.start().catch(() => {});
        await new Promise((r) => setTimeout(r, 300));
        await made.stop().catch(() => {});
      }
    }
    expect(uncaught).toEqual([]);
  });
});
