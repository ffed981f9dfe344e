/**
 * A logger given by the user that throws (a `debug` its library does not have, a transport that
 * fails): its lines are dropped, never thrown into the library. It went up through a machine's
 * transition: start() rejected with the logger's own error, or the worker's process ended, or a
 * task machine died with its task left RUNNING.
 */
import { describe, expect, it, vi } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const throwing = (what: string) => () => {
  throw new Error(`${what} not supported`);
};

describe('a logger that throws', () => {
  it('loses its lines, not the tasks: start, run, stop and the workers set are as with any logger', async () => {
    const o = server.options();
    const said: string[] = [];
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      said.push(String(chunk));
      return true;
    });
    cleanup.push(async () => write.mockRestore());
    const logger = { debug: throwing('debug'), info: throwing('info'), warn: throwing('warn'), error: throwing('error') };
    const worker = new Worker({ redis: o, port: 0, heartbeatInterval: 200, logger });
    worker.addTaskFunction('f', async (task) => {
      task.emit('step', 1);
      return (task.data as number) * 2;
    });
    const monitor = new Monitor({ redis: o, taskTimeout: 2000, checkTaskInterval: 200, logger });
    const client = new Client({ redis: o, logger });
    cleanup.push(() => client.close());
    await worker.start();
    await monitor.start();
    // (a function no worker serves: the client's warning, thrown by its logger)
    await client.submit('nobody-serves-this', 0);
    const ids = await Promise.all([1, 2, 3].map((n) => client.submit('f', n)));
    for (const [i, id] of ids.entries()) expect(await client.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: 2 * (i + 1) });
    await worker.stop();
    await monitor.stop();
    const redis = server.client();
    expect(await redis.smembers(`${o.keyPrefix}workers`)).toEqual([]);
    write.mockRestore();
    // each component says once per level that its logger threw
    expect(said.filter((l) => /^task-swarm worker: the logger's info\(\) threw \(info not supported\); the line is dropped/.test(l))).toHaveLength(1);
    expect(said.filter((l) => l.startsWith('task-swarm client: the logger'))).toHaveLength(1);
  });
});
