/**
 * The CLI against a Redis that accepts connections and never answers (frozen by SIGSTOP, or a
 * link gone silent): every command ends, with one line that says so, instead of hanging.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_PATIENCE_MS } from '../src/client.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';
import { expectOneLine, runMain } from './helpers/cli.js';
import { startProxy } from './helpers/tcp-proxy.js';

let server: RedisServer;

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  server.thaw();
  await server.stop();
});

describe('task-swarm against a Redis that does not answer', () => {
  it('a frozen Redis: the first check gives up after 3 s, with one line naming the server', async () => {
    server.freeze();
    try {
      for (const argv of [['status'], ['submit', 'render', '{"frame":1}']]) {
        const started = performance.now();
        const r = await runMain([...argv, '--key-prefix', 'silent1:'], { REDIS_URL: server.url });
        const took = performance.now() - started;
        expectOneLine(r, 1, new RegExp(`^task-swarm: cannot reach Redis at (?:redis://)?127\\.0\\.0\\.1:${server.port}: no answer within 3 s$`, 'm'));
        expect(took).toBeGreaterThan(2500);
        expect(took).toBeLessThan(6000);
      }
    } finally {
      server.thaw();
    }
  }, 40_000);

  it("a Redis that answers the first check, then not the command's calls: the command ends after the client's patience, with one line", async () => {
    const proxy = await startProxy('127.0.0.1', server.port);
    try {
      // (the check's connection has no name; the client's command connection is named *:command)
      proxy.hold((hello) => hello.includes(':command'));
      const started = performance.now();
      const r = await runMain(['status', '--key-prefix', 'silent2:'], { REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
      const took = performance.now() - started;
      expectOneLine(r, 1, /^task-swarm: cannot reach Redis at .+: no connection within \d+ s/m);
      expect(r.stderr).not.toMatch(/unexpected error/);
      expect(took).toBeLessThan(CLIENT_PATIENCE_MS + 10_000);
    } finally {
      await proxy.close();
    }
  }, 60_000);
});
