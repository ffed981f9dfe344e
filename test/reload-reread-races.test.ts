/**
 * A reload's new run reads the task's `data` from its hash before its function is called: a
 * Redis round trip, during which the task machine is `working` again and hears control messages.
 * A stop (or another reload) heard then aborted a run whose function had not been called yet,
 * and the function was then called all the same, its signal born aborted: a function that
 * listens for `abort` (never fired for a signal aborted already) ran to its end after the stop.
 * And a re-read Redis did not answer (a silent link, past a command's timeout) failed the
 * attempt with Redis's error, while the worker kept its tasks running through the outage. The
 * re-read is made slow or silent here by a proxy that holds the worker's command connection.
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker, type Task } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { startProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { collectingLogger } from './helpers/collecting-logger.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  data: unknown;
  /** its signal was aborted when its function was called */
  bornAborted: boolean;
  /** it ran its full time, never hearing an abort */
  ranOut: boolean;
}

/**
 * A worker through a proxy running `f`: each run waits `ms` unless it hears its signal's
 * `abort` event; as the first run hears it (a reload), the proxy starts holding what Redis
 * answers on the worker's command connection, so that the new run's re-read of `data` waits.
 */
async function setup(ms: number): Promise<{ c: Client; proxy: TcpProxy; runs: Run[]; logs: string[] }> {
  const o = server.options();
  const proxy = await startProxy(server.host, server.port);
  const log = collectingLogger();
  const w = new Worker({ port: 0, redis: { ...o, host: '127.0.0.1', port: proxy.port }, abortTimeout: 4000, logger: log.logger });
  const runs: Run[] = [];
  w.addTaskFunction(
    'f',
    (t: Task) =>
      new Promise((resolve, reject) => {
        const run: Run = { data: t.data, bornAborted: t.signal.aborted, ranOut: false };
        const first = runs.push(run) === 1;
        const timer = setTimeout(() => {
          run.ranOut = true;
          resolve(t.data);
        }, ms);
        t.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          if (first) proxy.hold((hello) => hello.includes(':command'));
          reject(new Error('aborted'));
        });
      }),
  );
  const c = new Client({ redis: o });
  cleanup.push(
    () => proxy.close(),
    () => c.close(),
    async () => {
      proxy.heal();
      await w.stop();
    },
  );
  await w.start();
  return { c, proxy, runs, logs: log.lines };
}

describe("a reload's re-read of the task's data", () => {
  it('a stop heard while it is on its way ends the task stopped at once, its function not called again', async () => {
    const s = await setup(2000);
    const id = await s.c.submit('f', { n: 1 });
    await until(() => s.runs.length === 1, 'the first run');
    await s.c.control(id, 'reload');
    // the first run has heard its abort, and the re-read waits in the proxy
    await sleep(300);
    const stopped = Date.now();
    await s.c.control(id, 'stop');
    await sleep(200);
    s.proxy.heal();
    expect(await s.c.wait(id, { timeout: 10_000 })).toMatchObject({ state: 'END', outcome: 'stopped' });
    // not after a run of the function begun past the stop, nor abortTimeout later
    expect(Date.now() - stopped).toBeLessThan(1500);
    await sleep(2200);
    expect(s.runs).toEqual([{ data: { n: 1 }, bornAborted: false, ranOut: false }]);
  }, 30_000);

  it('another reload heard while it is on its way: the function is called once more, not twice', async () => {
    const s = await setup(1000);
    const id = await s.c.submit('f', { n: 1 });
    await until(() => s.runs.length === 1, 'the first run');
    await s.c.control(id, 'reload');
    await sleep(300);
    await s.c.control(id, 'reload');
    await sleep(200);
    s.proxy.heal();
    expect(await s.c.wait(id, { timeout: 10_000 })).toMatchObject({ state: 'END', outcome: 'succeeded', result: { n: 1 } });
    expect(s.runs).toEqual([
      { data: { n: 1 }, bornAborted: false, ranOut: false },
      { data: { n: 1 }, bornAborted: false, ranOut: true },
    ]);
  }, 30_000);

  it('unanswered past a command timeout (Redis silent): the function runs again on the data the worker holds, the attempt not failed by the outage', async () => {
    const s = await setup(1000);
    const id = await s.c.submit('f', { n: 1 });
    await until(() => s.runs.length === 1, 'the first run');
    await s.c.control(id, 'reload');
    // a command's timeout is max(1000, 2 × heartbeatInterval): the re-read has failed by then
    await sleep(3000);
    s.proxy.heal();
    expect(await s.c.wait(id, { timeout: 10_000 })).toMatchObject({ state: 'END', outcome: 'succeeded', result: { n: 1 } });
    expect(s.runs).toEqual([
      { data: { n: 1 }, bornAborted: false, ranOut: false },
      { data: { n: 1 }, bornAborted: false, ranOut: true },
    ]);
    expect(s.logs.some((l) => /reload could not re-read its data/.test(l))).toBe(true);
  }, 30_000);
});
