/**
 * A Client in the Cluster form whose nodes cannot be reached: a Cluster that has not learnt its
 * slots holds each pipeline (a script's MULTI, an auto-pipeline's batch) until it has, and when
 * its first connection failed ioredis failed them with a bare "None of startup nodes is
 * available": no RedisUnavailableError, no server named, no cause, and no TLS hint where TLS
 * was asked of a Redis without it (the outage guard translated only the calls of its queues).
 * They are said as a call that found no connection is: never written, naming the nodes and why.
 */
import { describe, expect, it } from 'vitest';
import { Client, RedisUnavailableError } from '../src/index.js';
import { surelyNotRun } from '../src/call-fate.js';
import { freePort, startRedis } from './helpers/redis-server.js';

describe('a Client in the Cluster form, its nodes unreachable', () => {
  it('its calls reject with a RedisUnavailableError naming the nodes and why, nothing sent', async () => {
    const port = await freePort();
    const c = new Client({ redis: { cluster: [{ host: '127.0.0.1', port }], keyPrefix: '{down}:' } });
    try {
      // (the submit surely not run: held until the slots were known, it was never written)
      const submitted = await c.submit('x', 1).catch((e: unknown) => e);
      expect(surelyNotRun(submitted)).toBe(true);
      for (const call of [() => c.submit('x', 1), () => c.get('some-id'), () => c.stats()]) {
        const err = await call().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RedisUnavailableError);
        expect((err as Error).message).toMatch(new RegExp(`^cannot reach Redis at redis\\+cluster://127\\.0\\.0\\.1:${port}: none of its nodes answered.*; nothing was sent$`));
      }
    } finally {
      await c.close();
    }
  });

  it('TLS asked of a Redis without it: the error ends with the hint, to give no tls', async () => {
    const plain = await startRedis();
    const c = new Client({ redis: { cluster: [{ host: '127.0.0.1', port: plain.port }], keyPrefix: '{plain}:', tls: {} } });
    try {
      const err = await c.submit('x', 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RedisUnavailableError);
      expect((err as Error).message).toMatch(new RegExp(`^cannot reach Redis at redis\\+cluster://127\\.0\\.0\\.1:${plain.port}: .*\\(TLS was asked for: .*give no tls \\(on the command line, no --redis-tls-\\* flag\\)\\)$`));
    } finally {
      await c.close();
      await plain.stop();
    }
  });
});
