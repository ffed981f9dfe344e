/**
 * A monitor says what Redis going away means for it, and when Redis answers again: an operator
 * reading its log during an outage learns that it waits (and why), and that it is back, with the
 * grace in which nothing is requeued.
 */
import { expect, it } from 'vitest';
import { Monitor } from '../src/index.js';
import { startRedis, until } from './helpers/redis-server.js';

it('logs Redis unreachable with what it decides, then Redis answering again with the grace', async () => {
  const server = await startRedis();
  const lines: string[] = [];
  const logger = { debug() {}, info: (m: string) => lines.push(`INFO ${m}`), warn: (m: string) => lines.push(`WARN ${m}`), error: (m: string) => lines.push(`ERROR ${m}`) };
  const m = new Monitor({ redis: server.options(), logger, taskTimeout: 1000, checkTaskInterval: 100 });
  try {
    await m.start();
    await server.kill();
    // no worker to ask: it counts as Redis down for everyone (not a failed quorum of "0 of 0")
    await until(() => lines.some((l) => l === 'WARN Redis unreachable; no worker known to ask: waits for Redis, down for everyone'), 'the unreachable line', 10_000);
    await server.start();
    await until(() => lines.some((l) => l === 'INFO Redis answers again: nothing is requeued for 1000 ms (taskTimeout), while the workers heartbeat'), 'the line saying Redis answers', 10_000);
    expect(lines.filter((l) => l.startsWith('INFO Redis answers again'))).toHaveLength(1);
  } finally {
    await m.stop();
    await server.stop();
  }
});
