/**
 * `submit --wait` when Redis stops answering the command's Client after the check before the
 * command (a proxy holds the replies on the Client's connections; the check's probe still
 * answers): it subscribes before it submits, and a subscription Redis does not answer held it
 * for good, printing nothing. It now waits the client's patience, as any call does, and ends
 * with one line, exit 1, nothing submitted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startRedis } from './helpers/redis-server.js';
import { startProxy } from './helpers/tcp-proxy.js';
import { runProcess } from './helpers/cli.js';
import { CLIENT_PATIENCE_MS } from '../src/client.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

describe('submit --wait with its Client\'s connections stalled', () => {
  it('ends at the client\'s patience with one line, nothing submitted, not hang', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const proxy = await startProxy('127.0.0.1', server.port);
    cleanup.push(() => proxy.close());
    // (every connection the command's Client makes, named task-swarm:...: the check's probe, unnamed, still answers)
    proxy.hold((hello) => /task-swarm:/.test(hello));
    const t0 = performance.now();
    const r = await runProcess(['submit', 'nobody', '1', '--wait', '--wait-timeout', '2000', '--key-prefix', 'sw:'], { REDIS_URL: `redis://127.0.0.1:${proxy.port}` }, 25_000);
    const took = performance.now() - t0;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^task-swarm: cannot follow task ".+"'s events: Redis did not answer the subscription within 10 s; nothing was submitted$/);
    expect(took).toBeLessThan(CLIENT_PATIENCE_MS + 5000);
    expect(await server.client().keys('sw:*')).toEqual([]);
  }, 40_000);
});
