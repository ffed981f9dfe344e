/**
 * A read made before close() that is made again (READ_AGAIN: it may have passed a script sent
 * before it that found the function library missing, and the reload ended before its answer
 * was looked at, src/script-line.ts readInPlace) once close() was called is answered, as the
 * first step of a read made before close() is: the loop that makes it again checked the close
 * and rejected with a StateError, though the read was made while the client was open.
 *
 * The READ_AGAIN is forced here (the first answer of the read is replaced by it, and close()
 * called then): reached for real it needs a reload to end between a read's reply and the look
 * at it, which no test can time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { READ_AGAIN } from '../src/script-line.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

type Read = () => Promise<unknown>;

describe('a read made before close(), made again after it', () => {
  it('a get answers the task, and close() resolves', async () => {
    server = await startRedis();
    const c = new Client({ redis: server.options() });
    await c.submit('f', 0, { id: 'x' });
    const inner = c as unknown as { readMarked: (read: Read) => Promise<unknown> };
    const real = inner.readMarked.bind(c);
    let closing: Promise<void> | undefined;
    inner.readMarked = async (read: Read) => {
      if (closing) return real(read);
      await read();
      // close() called while the read is on its way; its answer says: made again
      closing = c.close();
      return READ_AGAIN;
    };
    const got = await c.get('x').then(
      (t) => t?.state ?? 'null',
      (e: unknown) => `rejected: ${String(e)}`,
    );
    await closing;
    expect(got).toBe('QUEUED');
  });
});
