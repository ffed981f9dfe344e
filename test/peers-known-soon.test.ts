/**
 * A worker lists its peers as it starts, and again every fetchWorkerInterval. Workers started
 * together list one another before each has registered: each knew no peer until its next
 * refresh (15 s by default), and cut off from Redis in that window it took itself for a lone
 * worker, which cannot tell a partition from an outage, and kept its tasks running while the
 * monitors requeued them elsewhere. Its heartbeat reads the worker set's size: a size other than
 * the one it last listed has it list its peers again at once.
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { spawnWorker } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { startProxy } from './helpers/tcp-proxy.js';
import { collectingLogger } from './helpers/collecting-logger.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

describe('a worker started before its peers registered', () => {
  it('knows them within a few heartbeats: cut off from Redis and from them, it halts its tasks', async () => {
    const o = server.options();
    const proxy = await startProxy(o.host, o.port);
    cleanup.push(() => proxy.close());
    const { lines, logger } = collectingLogger();
    const a = new Worker({ port: 0, redis: { ...o, port: proxy.port }, logger, heartbeatInterval: 100, fetchWorkerInterval: 600_000, pingTimeout: 300, abortTimeout: 500 });
    let aborted = false;
    a.addTaskFunction('hold', ({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => ((aborted = true), reject(new Error('halted'))))));
    cleanup.push(() => a.stop());
    await a.start();
    // registered after `a` listed its peers; it serves nothing `a` is given
    const b = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 100, fetchWorkerInterval: 600_000 }, [], ['other']);
    cleanup.push(() => b.kill('SIGKILL'));
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('hold', null);
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'running on a');
    // (a few of a's heartbeats)
    await new Promise((r) => setTimeout(r, 600));
    b.proc.kill('SIGSTOP');
    cleanup.push(async () => void b.proc.kill('SIGCONT'));
    proxy.partition();
    await until(() => aborted, 'its task halted', 10_000);
    expect(lines.filter((l) => /reached 0 of 1 peers/.test(l)), lines.join('\n')).toHaveLength(1);
    expect(lines.filter((l) => /no other worker known/.test(l)), lines.join('\n')).toEqual([]);
  }, 30_000);
});
