/**
 * A value whose toJSON or getter throws something that is not an Error (undefined, null, an
 * object whose message cannot be read) while it is made JSON is refused with the library's own
 * error, as one that throws an Error is: submit and submitMany with an InvalidTaskError, control
 * and emit too, a result with a NonRetryableError. Reading the `message` of what was thrown
 * threw a raw TypeError out of submit, control and emit.
 */
import { describe, expect, it } from 'vitest';
import { Client, InvalidTaskError, NonRetryableError } from '../src/index.js';
import { formatControl, formatEvent, resultJson } from '../src/wire.js';
import { redisPerFile } from './helpers/suite.js';
import type { RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
const cleanup = redisPerFile((s: RedisServer) => {
  server = s;
});

const throwing = (thrown: unknown) => ({
  toJSON(): never {
    throw thrown;
  },
});
const THROWN: [string, unknown][] = [
  ['undefined', undefined],
  ['null', null],
  [
    'an object whose message throws',
    {
      get message(): string {
        throw new Error('unreadable');
      },
    },
  ],
];

describe('JSON of a value that throws a non-Error', () => {
  for (const [what, thrown] of THROWN) {
    it(`${what}: submit, submitMany, control and emit refuse it with an InvalidTaskError; a result with a NonRetryableError`, async () => {
      const c = new Client({ redis: server.options() });
      cleanup.push(() => c.close());
      await expect(c.submit('f', throwing(thrown))).rejects.toThrow(InvalidTaskError);
      await expect(c.submitMany([{ fn: 'f', data: { nested: throwing(thrown) } }])).rejects.toThrow(InvalidTaskError);
      await expect(c.control('any', { event_name: 'x', event: throwing(thrown) })).rejects.toThrow(InvalidTaskError);
      expect(() => formatControl({ event_name: 'x', event: throwing(thrown) })).toThrow(InvalidTaskError);
      expect(() => formatEvent('progress', throwing(thrown))).toThrow(InvalidTaskError);
      expect(() => resultJson(throwing(thrown))).toThrow(NonRetryableError);
    });
  }
});
