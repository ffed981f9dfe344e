/**
 * A monitor says what Redis going away means for it, and when Redis answers again: an operator
 * reading its log during an outage learns that it waits (and why), and that it is back, with
 * what it holds then: everything for a grace when Redis came back as another server (it may have
 * lost data), only the tasks live when it was lost when it is the same one.
 */
import { expect, it } from 'vitest';
import { Monitor } from '../src/index.js';
import { startRedis, until } from './helpers/redis-server.js';

async function watched(run: (m: Monitor, lines: string[], server: Awaited<ReturnType<typeof startRedis>>) => Promise<void>) {
  const server = await startRedis();
  const lines: string[] = [];
  const logger = { debug() {}, info: (m: string) => lines.push(`INFO ${m}`), warn: (m: string) => lines.push(`WARN ${m}`), error: (m: string) => lines.push(`ERROR ${m}`) };
  const m = new Monitor({ redis: server.options(), logger, taskTimeout: 1000, checkTaskInterval: 100 });
  try {
    await m.start();
    await run(m, lines, server);
  } finally {
    await m.stop();
    server.thaw();
    await server.stop();
  }
}

it('logs Redis unreachable with what it decides, then Redis restarted answering again with the grace', async () => {
  await watched(async (_m, lines, server) => {
    await server.kill();
    // no worker to ask: it counts as Redis down for everyone (not a failed quorum of "0 of 0")
    await until(() => lines.some((l) => l === 'WARN Redis unreachable; no worker known to ask: waits for Redis, down for everyone'), 'the unreachable line', 10_000);
    await server.start();
    const grace = 'INFO Redis answers again, another server or one that names none (it may have lost data): nothing is requeued or fired for 1000 ms (taskTimeout), while the workers heartbeat and re-assert their tasks';
    await until(() => lines.includes(grace), 'the line saying Redis answers', 10_000);
    expect(lines.filter((l) => l.startsWith('INFO Redis answers again'))).toEqual([grace]);
  });
});

it('Redis frozen and thawed is the same server: the line says what it holds, and there is no grace', async () => {
  await watched(async (m, lines, server) => {
    server.freeze();
    // (a sweep unanswered for its command timeout, 5 s, is Redis lost)
    await until(() => lines.some((l) => l.startsWith('WARN Redis unreachable')), 'the unreachable line', 15_000);
    server.thaw();
    const held = 'INFO Redis answers again, the same server: a task whose lease was live when it was lost is not requeued for 1000 ms (taskTimeout), while its worker heartbeats';
    await until(() => lines.includes(held), 'the line saying Redis answers', 10_000);
    expect(lines.filter((l) => l.startsWith('INFO Redis answers again'))).toEqual([held]);
    expect(m.state).toMatchObject({ active: expect.any(String) });
  });
});
