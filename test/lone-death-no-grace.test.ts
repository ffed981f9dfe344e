/**
 * A swarm whose every worker dies (one worker, or one host with all of them) while Redis and the
 * monitor stay up: "the task runs again, about taskTimeout after the last heartbeat"
 * (docs/failure-model.md), with no outage hold. The hold (lib/swarm-silence.lua) is for no
 * heartbeat and no sweep for over taskTimeout / 2, every worker overdue: an outage, not a death.
 * Once every worker is dead a monitor's sweeps are all Redis sees, so the monitor sweeps at least
 * every taskTimeout / 4 whatever its checkTaskInterval (here taskTimeout / 2, the defaults'
 * ratio: 15 s and 30 s), and its own spacing never reads as that silence.
 */
import { describe, expect, it } from 'vitest';
import { Client, Monitor } from '../src/index.js';
import { keysFor } from './properties/harness.js';
import { spawnWorker } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import type { Redis } from 'ioredis';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('the only worker SIGKILLed, Redis and the monitor up all along', () => {
  it('its task is requeued about taskTimeout after its last heartbeat, with no outage hold (checkTaskInterval = taskTimeout / 2)', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const TIMEOUT = 4000;
    const m = new Monitor({ redis: o, taskTimeout: TIMEOUT, checkTaskInterval: TIMEOUT / 2 });
    const holds: number[] = [];
    m.on('sweep', (r: { graceLeft?: number }) => {
      if (r.graceLeft) holds.push(r.graceLeft);
    });
    await m.start();
    cleanup.push(() => m.stop());
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const w = await spawnWorker({ port: 0, redis: o, concurrency: 1, heartbeatInterval: 200 });
    cleanup.push(() => w.kill());
    const id = await c.submit('sleep', { ms: 60_000 });
    await w.waitFor(new RegExp(`^STARTED ${id} 1$`), 10_000);
    // let the monitor settle into its rhythm of sweeps
    await new Promise((r) => setTimeout(r, TIMEOUT));
    await w.kill('SIGKILL');
    const lastBeat = Number(await redis.hget(keys.task(id), 'update'));
    await until(async () => (await redis.hget(keys.task(id), 'state')) === 'QUEUED', 'the task requeued', 5 * TIMEOUT);
    const requeuedAt = Number(await redis.hget(keys.task(id), 'update'));
    expect({ heldForAnOutage: holds, lateBy: requeuedAt - lastBeat - TIMEOUT < 500 ? 'on time' : requeuedAt - lastBeat - TIMEOUT }).toEqual({
      heldForAnOutage: [],
      lateBy: 'on time',
    });
  }, 60_000);
});
