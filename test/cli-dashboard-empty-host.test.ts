/**
 * `task-swarm dashboard --host ""` (as `--host "$DASHBOARD_HOST"` with the variable unset
 * gives): Node's listen takes an empty host as every interface, and the dashboard came up at
 * http://[::]:<port>/, open to every network the machine is on, where its help says "anything but
 * loopback exposes the swarm to that network" and the default is 127.0.0.1. `worker --host ""`
 * and `monitor --metrics-host ""` refuse the same value ("empty host"); the dashboard must too,
 * with one line and status 2, and listen nowhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOneLine, runProcess } from './helpers/cli.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server.stop();
});

describe('dashboard --host given empty', () => {
  it('is refused in one line, as worker --host "" is, and nothing listens', async () => {
    // (as a process: a dashboard that started runs until the timeout's signal)
    const r = await runProcess(['dashboard', '--host', '', '--port', '0', '--read-only', '--key-prefix', 'dash-empty:'], { REDIS_URL: server.url }, 10_000);
    expect(r.stdout).not.toMatch(/dashboard at/);
    expectOneLine({ ...r, code: r.code ?? -1 }, 2, /--host/);
  }, 20_000);
});
