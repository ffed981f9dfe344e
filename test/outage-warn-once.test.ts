/**
 * A plain Redis outage (killed, or frozen) under an idle worker blocked in its wait: the WARN
 * lines it says. The wait's own line ("the wait for a task had no answer": its connection blamed)
 * is not among them, nor is any line said twice (the subscriber's silence was, at each round).
 */
import { describe, expect, it } from 'vitest';
import { Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { levelledLogger } from './helpers/collecting-logger.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('an idle worker through a Redis outage', () => {
  for (const partitions of [1, 3])
    for (const how of ['kill', 'freeze'] as const) {
      it(`${how}, ${partitions} partition(s): no wait line, each WARN said once`, async () => {
        const o = { ...server.options(), ...(partitions > 1 ? { partitions, keyPrefix: `{wol${how}}:` } : {}) };
        const { at, logger } = levelledLogger();
        const w = new Worker({ port: 0, redis: o, logger, heartbeatInterval: 200, fetchTaskInterval: 500 });
        w.addTaskFunction('f', () => 1);
        cleanup.push(() => w.stop());
        cleanup.push(async () => server.thaw());
        await w.start();
        await sleep(1200);
        if (how === 'kill') await server.kill();
        else server.freeze();
        await sleep(8000);
        if (how === 'kill') await server.start();
        else server.thaw();
        await until(() => at('info').some((l) => /Redis is back/.test(l)), 'back', 20_000);
        await sleep(1500);
        const warns = at('warn');
        expect(warns.filter((l) => /the wait for a task/.test(l))).toEqual([]);
        expect(new Set(warns).size, warns.join('\n')).toBe(warns.length);
      }, 60_000);
    }
});
