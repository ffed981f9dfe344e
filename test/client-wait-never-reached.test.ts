/**
 * A Client given a wrong address (a port nothing listens on) and asked to wait for a task, with
 * a timeout: the wait rejects with `task "x" did not end within 2000 ms`, the words of a task
 * that is slow, when Redis never answered once. `get` on the same Client says "cannot reach
 * Redis at ...". The wait's error must say that Redis was not reached (and why), so that the
 * mistake, the address, is what the user goes to look at.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** a port that was free a moment ago: nothing listens on it */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

describe('Client.wait against a Redis it never reached', () => {
  it('rejects naming Redis as what was not there, not as a task that did not end', async () => {
    const port = await closedPort();
    const c = new Client({ redis: { host: '127.0.0.1', port }, logger: quiet });
    try {
      const e = await c.wait('some-task', { timeout: 2000 }).then(
        () => undefined,
        (x: unknown) => x as Error,
      );
      expect(e).toBeInstanceOf(Error);
      expect(e!.message).toMatch(new RegExp(`Redis.*127\\.0\\.0\\.1:${port}`));
      expect(e!.message).toMatch(/ECONNREFUSED|not reach|no answer|never answered/);
    } finally {
      await c.close();
    }
  }, 20_000);
});
