/**
 * `task-swarm wait <id>` of a task RUNNING on a worker that died (SIGKILL, the machine gone) in
 * a swarm with no monitor: only a monitor takes such a task back, so it never ends, and the wait
 * printed "task <id> is RUNNING; waiting for its end" and then nothing, for as long as the user
 * waits. A task that cannot start is explained ("waits, QUEUED: no live worker serves function
 * ..."); one that cannot end must be too: its worker has stopped renewing its lease, and no
 * monitor runs to take it back. `task-swarm cancel <id>` of it says "running: stop sent, it
 * ends stopped", status 0: no worker is there to stop it, and it does not end.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { runMain } from './helpers/cli.js';
import { killedAsItRan } from './helpers/queued-again.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A task RUNNING on a worker process SIGKILLed as it ran it, in a swarm of keys under `keyPrefix`
 * with no monitor, its lease gone stale: a client of the swarm, and the task's id.
 */
async function runningOnDeadWorker(keyPrefix: string): Promise<{ client: Client; id: string }> {
  const options = { ...server.options(), keyPrefix };
  const client = new Client({ redis: options });
  cleanup.push(() => client.close());
  const id = await killedAsItRan(options, client, cleanup, { ms: 600_000, heartbeatInterval: 200 });
  // (its lease goes stale: a few heartbeats missed)
  await sleep(1500);
  return { client, id };
}

describe('wait for a task whose worker died, with no monitor', () => {
  it('says why the task does not end, not only that it is RUNNING', async () => {
    const { id } = await runningOnDeadWorker('dead-worker:');
    const r = await runMain(['wait', id, '--timeout', '6000', '--key-prefix', 'dead-worker:'], { REDIS_URL: server.url });
    expect(r.code).toBe(1);
    const said = r.stderr.split('\n').filter((l) => l && !/did not end within/.test(l));
    expect(said.join('\n')).toMatch(/monitor/i);
    expect(await redis.exists(`dead-worker:task-${id}`)).toBe(1);
  }, 40_000);

  it('cancel does not promise an end that no one will bring', async () => {
    const { client, id } = await runningOnDeadWorker('dead-worker-cancel:');
    const r = await runMain(['cancel', id, '--key-prefix', 'dead-worker-cancel:'], { REDIS_URL: server.url });
    await sleep(3000);
    const t = await client.get(id);
    // (either it ended as said, or the line did not say it would)
    if (t?.state !== 'END') expect(r.stdout + r.stderr).not.toMatch(/it ends stopped/);
    // and it says why it may not end
    expect(r.stderr).toMatch(/no monitor runs: should its worker be gone, nothing takes the task back/);
  }, 40_000);
});
