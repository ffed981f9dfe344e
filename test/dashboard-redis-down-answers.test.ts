/**
 * The dashboard while its Redis is down: every read of the API answers 503 with the words the
 * Client's calls use (`cannot reach Redis at <server>: ...`), never a 500 carrying ioredis's
 * own "Reached the max retries per request limit ... Refer to maxRetriesPerRequest", which names
 * neither the server nor the cause and reads as a fault of the dashboard. Once Redis is back it
 * answers again.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createDashboard } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s: RedisServer, _r: Redis) => {
  server = s;
});

const READS = ['api/overview', 'api/tasks?list=running', 'api/tasks?list=queued', 'api/tasks?list=delayed', 'api/tasks?list=ended'];

describe('dashboard with Redis down', () => {
  it('each read is a 503 naming the server, then a 200 once Redis is back', async () => {
    const d = createDashboard({ redis: server.options() });
    cleanup.push(() => d.close());
    const url = await d.listen(0);
    // every read served once, so each connection the dashboard reads through is open
    for (const path of READS) expect((await fetch(url + path)).status, path).toBe(200);

    await server.kill();
    try {
      for (const path of READS) {
        const r = await fetch(url + path);
        const body = (await r.json()) as { error?: string; code?: string };
        expect({ path, status: r.status, body }).toEqual({
          path,
          status: 503,
          body: { error: expect.stringMatching(new RegExp(`^cannot reach Redis at redis://127\\.0\\.0\\.1:${server.port}: `)), code: 'ERR_REDIS_UNAVAILABLE' },
        });
      }
    } finally {
      await server.start();
    }
    for (const path of READS) await until(async () => (await fetch(url + path)).status === 200 || undefined, `${path} answered again`, 15_000, 200);
  }, 90_000);
});
