/**
 * A Redis at its maxmemory answers, and refuses every write: the worker's heartbeat and the
 * monitor's sweep fail each round, and each went round its outage states every second or so. A
 * 10 s OOM was 11 "Redis unreachable" lines a worker and 10 a monitor, each followed by "Redis is
 * back" / "Redis answers again", for a Redis that answered all along. Now it is said once each,
 * as the refusal it is, and its end once it stayed away; the task running meanwhile ends once
 * memory is freed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';
import { levelledLogger as levelled } from './helpers/collecting-logger.js';

let server: RedisServer | undefined;
afterAll(async () => {
  await server?.stop();
});

describe('a Redis at its maxmemory, as the logs say it', () => {
  it('is said once by the worker and once by the monitor, as a refusal, not as unreachable', async () => {
    server = await startRedis();
    const admin = server.client();
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    const o = server.options();
    const w = levelled();
    const m = levelled();
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    const worker = new Worker({ redis: o, port: 0, heartbeatInterval: 250, logger: w.logger });
    worker.addTaskFunction('hold', async () => {
      await held;
      return 'done';
    });
    const monitor = new Monitor({ redis: o, taskTimeout: 4000, checkTaskInterval: 250, logger: m.logger });
    const client = new Client({ redis: o });
    try {
      await worker.start();
      await monitor.start();
      const id = await client.submit('hold');
      await until(async () => (await client.get(id))?.state === 'RUNNING', 'the task to run');
      await admin.config('SET', 'maxmemory', '1');
      await new Promise((r) => setTimeout(r, 6000));
      release();
      await new Promise((r) => setTimeout(r, 500));
      await admin.config('SET', 'maxmemory', '0');
      expect(await client.wait(id, { timeout: 15_000 })).toMatchObject({ outcome: 'succeeded', result: 'done' });
      // its end said once, after it stayed away (5 s)
      await until(() => w.lines.some((l) => l.level === 'info' && l.text.startsWith('Redis is back')) && m.lines.some((l) => l.level === 'info' && l.text.startsWith('Redis answers again')), 'the ends to be said', 10_000);
      await new Promise((r) => setTimeout(r, 1000));
      expect(w.lines.filter((l) => l.level === 'info' && l.text.startsWith('Redis is back'))).toHaveLength(1);
      expect(m.lines.filter((l) => l.level === 'info' && l.text.startsWith('Redis answers again'))).toHaveLength(1);

      for (const [who, lines] of [['worker', w.at('warn')], ['monitor', m.at('warn')]] as const) {
        expect(lines.filter((l) => /^Redis unreachable/.test(l)), `${who}: ${JSON.stringify(lines)}`).toEqual([]);
        expect(lines.filter((l) => /^Redis refuses this \w+'s calls \(OOM /.test(l)), `${who}: ${JSON.stringify(lines)}`).toHaveLength(1);
        // (no line said twice at WARN)
        expect(new Set(lines).size, `${who}: ${JSON.stringify(lines)}`).toBe(lines.length);
      }
    } finally {
      release();
      await admin.config('SET', 'maxmemory', '0');
      await worker.stop();
      await monitor.stop();
      await client.close();
    }
  }, 50_000);

  it('a stop that cannot hand a task back says Redis refused it, not that Redis did not answer', async () => {
    server ??= await startRedis();
    const admin = server.client();
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    const o = server.options();
    const w = levelled();
    const worker = new Worker({ redis: o, port: 0, stopGrace: 200, abortTimeout: 1000, logger: w.logger });
    // (ignores its signal: still running when the stop's grace ends, so handed back)
    let started = false;
    worker.addTaskFunction('stubborn', () => ((started = true), new Promise(() => {})));
    const client = new Client({ redis: o });
    try {
      await worker.start();
      const id = await client.submit('stubborn');
      // (its function called: RUNNING in Redis, its claim's reply may still be on its way, and a
      // stop hands such a claim back apart, saying so at WARN, not with the halted tasks' line)
      await until(() => started, 'the task to run');
      await admin.config('SET', 'maxmemory', '1');
      await worker.stop();
      const said = w.lines.filter((l) => l.level === 'error' && l.text.startsWith('could not hand back'));
      expect(said.map((l) => l.text)).toEqual([expect.stringMatching(new RegExp(`^could not hand back 1 task\\(s\\) within abortTimeout \\(1000 ms\\), Redis refusing \\(OOM command not allowed.*: "${id}"$`))]);
    } finally {
      await admin.config('SET', 'maxmemory', '0');
      await client.close();
    }
  }, 30_000);

  it('a second refusal after the first was over is said again; Redis killed after refusing is said unreachable', async () => {
    server ??= await startRedis();
    const admin = () => server!.client();
    await admin().config('SET', 'maxmemory-policy', 'noeviction');
    const o = server.options();
    const w = levelled();
    const m = levelled();
    const worker = new Worker({ redis: o, port: 0, heartbeatInterval: 250, logger: w.logger });
    worker.addTaskFunction('f', async () => 'done');
    const monitor = new Monitor({ redis: o, taskTimeout: 4000, checkTaskInterval: 250, logger: m.logger });
    const refusals = () => w.at('warn').filter((l) => /^Redis refuses this worker's calls \(OOM /.test(l)).length;
    try {
      await worker.start();
      await monitor.start();
      for (const round of [1, 2]) {
        await admin().config('SET', 'maxmemory', '1');
        await until(() => refusals() === round, `refusal ${round} said`, 10_000);
        await admin().config('SET', 'maxmemory', '0');
        await until(() => w.lines.filter((l) => l.level === 'info' && l.text.startsWith('Redis is back')).length === round, `its end ${round} said`, 15_000);
      }
      // refusing, then killed: the outage is Redis gone, not the refusal said a moment ago
      await admin().config('SET', 'maxmemory', '1');
      await until(() => refusals() === 3, 'refused a third time', 10_000);
      await server.kill();
      await until(() => w.at('warn').some((l) => l.startsWith('Redis unreachable')), 'the worker to say Redis unreachable', 15_000);
      await until(() => m.at('warn').some((l) => l.startsWith('Redis unreachable')), 'the monitor to say Redis unreachable', 15_000);
      await server.start();
      await until(() => w.lines.filter((l) => l.level === 'info' && l.text.startsWith('Redis is back')).length === 3, 'its end said', 20_000);
    } finally {
      await worker.stop();
      await monitor.stop();
    }
  }, 90_000);
});
