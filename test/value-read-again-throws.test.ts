/**
 * A value that holds a null (so the check for NaN and the infinities reads it a second time) and
 * whose getter or toJSON throws when read again is refused with the library's own error, as one
 * that throws at its first reading is: submit and control with an InvalidTaskError, an event's
 * data with an InvalidTaskError thrown to the function, a result with a NonRetryableError (the
 * attempt fails for good). The second reading's error escaped raw (a plain Error from submit and
 * control, and a result failed as a retryable throw).
 */
import { describe, expect, it } from 'vitest';
import { Client, InvalidTaskError, NonRetryableError } from '../src/index.js';
import { formatControl, formatEvent, resultJson } from '../src/wire.js';
import { buildSubmission } from '../src/submission.js';
import { redisPerFile } from './helpers/suite.js';
import type { RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
const cleanup = redisPerFile((s: RedisServer) => {
  server = s;
});

/** `{ a: null, b: 1 }`, whose `b` can be read once */
function readOnce(): object {
  let reads = 0;
  return {
    a: null,
    get b() {
      if (++reads > 1) throw new Error('read twice');
      return 1;
    },
  };
}

describe('a value whose second reading throws', () => {
  it('as data: submit and submitMany reject with an InvalidTaskError', async () => {
    expect(() => buildSubmission('f', readOnce(), {})).toThrow(InvalidTaskError);
    const c = new Client({ redis: server.options() });
    cleanup.push(() => c.close());
    await expect(c.submit('f', readOnce())).rejects.toThrow(InvalidTaskError);
    await expect(c.submitMany([{ fn: 'f', data: readOnce() }])).rejects.toThrow(InvalidTaskError);
  });

  it("as a control message's event: refused with an InvalidTaskError", () => {
    expect(() => formatControl({ event_name: 'x', event: readOnce() })).toThrow(InvalidTaskError);
  });

  it("as an event's data: an InvalidTaskError", () => {
    expect(() => formatEvent('progress', readOnce())).toThrow(InvalidTaskError);
  });

  it('as a result: a NonRetryableError', () => {
    expect(() => resultJson(readOnce())).toThrow(NonRetryableError);
  });
});
