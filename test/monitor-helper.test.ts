/**
 * The tests' MONITOR (test/helpers/monitor.ts) sees every command Redis runs once it has
 * started, each argument as it was sent (quotes, backslashes, control characters, UTF-8), and a
 * command run right after MONITOR's reply is one more line, not an error (ioredis's `monitor()`
 * threw "Command queue state error" from its socket's data handler then, which failed
 * whichever test it happened in).
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { monitorRedis } from './helpers/monitor.js';
import type { RedisServer } from './helpers/redis-server.js';
import { until } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe("the tests' MONITOR", () => {
  it('reads back each argument as it was sent', async () => {
    const seen: string[][] = [];
    const watch = await monitorRedis(server, (args) => seen.push(args));
    try {
      const odd = ['say "hi"', 'back\\slash', 'line\nbreak\ttab\r', 'tenant-€-ü', ''];
      await redis.call('ECHO', odd.join('|'));
      await until(() => seen.some((a) => a[0]?.toLowerCase() === 'echo'), 'the ECHO seen');
      expect(seen.find((a) => a[0]?.toLowerCase() === 'echo')).toEqual(['ECHO', odd.join('|')]);
    } finally {
      watch.stop();
    }
  });

  it('sees the commands run at the moment it starts, as lines, with no error', async () => {
    const busy = server.client();
    let running = true;
    let sent = 0;
    const load = (async () => {
      while (running) {
        await busy.ping();
        sent++;
      }
    })();
    try {
      for (let i = 0; i < 30; i++) {
        let pings = 0;
        const watch = await monitorRedis(server, (args) => {
          if (args[0]?.toLowerCase() === 'ping') pings++;
        });
        await until(() => pings > 0, 'a ping seen');
        watch.stop();
      }
      expect(sent).toBeGreaterThan(30);
    } finally {
      running = false;
      await load;
      busy.disconnect();
    }
  });
});
