/**
 * A Redis URL whose port is some other server (a web server, an SSH daemon): the user named the
 * wrong port. What the CLI says, and what the library throws, must say that the server there is
 * not Redis, not ioredis's "Protocol error, got "<" as reply type byte. Please report this."
 * (which asks the user to report a bug to ioredis) nor its "Reached the max retries per request
 * limit (which is 2). Refer to "maxRetriesPerRequest" option for details." (an option the user
 * never set, about retries, when nothing would come of retrying).
 */
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { expectOneLine, runMain } from './helpers/cli.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
/** what ioredis says of a server that does not speak RESP, and of its own retry bound */
const INTERNALS = /Protocol error|reply type byte|Please report this|max retries per request|maxRetriesPerRequest/;

let server: Server;
let port: number;

beforeAll(async () => {
  // an HTTP server's answer to anything: a status line, then it hangs up
  server = createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('a Redis URL whose port is not Redis', () => {
  it.each([['status'], ['submit', 'render', '{}'], ['get', 'some-id']])('task-swarm %s: one line saying the server there is not Redis, no ioredis internals', async (...argv) => {
    const r = await runMain(argv, { REDIS_URL: `redis://127.0.0.1:${port}` });
    expectOneLine(r, 1, new RegExp(`^task-swarm: .*127\\.0\\.0\\.1:${port}`));
    expect(r.stderr).toMatch(/not (?:a )?Redis|not speak/i);
    expect(r.stderr).not.toMatch(INTERNALS);
  }, 20_000);

  it('Worker.start: a typed error that says the server is not Redis, no ioredis internals', async () => {
    const w = new Worker({ redis: { host: '127.0.0.1', port }, port: 0, logger: quiet });
    w.addTaskFunction('f', async () => 1);
    const e = await w.start().then(
      () => undefined,
      (x: unknown) => x as Error & { code?: string },
    );
    await w.stop();
    expect(e?.code).toBe('ERR_REDIS_UNAVAILABLE');
    expect(e?.message).toMatch(/not (?:a )?Redis|not speak/i);
    expect(e?.message).not.toMatch(INTERNALS);
  }, 30_000);

  it('Client.submit: a typed error that says the server is not Redis, no ioredis internals', async () => {
    const c = new Client({ redis: { host: '127.0.0.1', port }, logger: quiet });
    const e = await c.submit('f', 1).then(
      () => undefined,
      (x: unknown) => x as Error & { code?: string },
    );
    await c.close();
    expect(e?.code).toBe('ERR_REDIS_UNAVAILABLE');
    expect(e?.message).toMatch(/not (?:a )?Redis|not speak/i);
    expect(e?.message).not.toMatch(INTERNALS);
  }, 30_000);
});
