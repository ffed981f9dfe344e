/**
 * Redis Sentinel for real: a primary, a replica and three sentinels (redis-server --sentinel),
 * all on free local ports; two workers, a monitor and a producer, each a process of its own, all
 * connected through the sentinels. The primary is SIGKILLed mid-run; the sentinels promote the
 * replica. For the swarm that is a Redis that came back having perhaps lost its latest writes
 * (asynchronous replication): the workers find the new primary on their own and re-assert their
 * running tasks, the monitor grants its grace. Every task ends once, none is lost, no worker is
 * restarted. Executions are counted: a write the replica never got (a claim, an END) can make
 * a task run twice, and the test says how many did, and that each is such a write: replication
 * is asynchronous, so even with every byte the primary sent delivered, one it answered in the
 * same instant as the kill (its reply written, the replica's copy not yet) is lost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, until } from './helpers/redis-server.js';
import { nodeArgs, spawnServer, spawnSentinel, type ServerProcess } from './helpers/deployments.js';
import { spawnMonitor, spawnProducer, spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { startProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { runMain } from './helpers/cli.js';

const NAME = 'mymaster';
const TASKS = 200;
const TASK_MS = 250;

const procs: WorkerProcess[] = [];
const servers: ServerProcess[] = [];
const dirs: string[] = [];

interface Deployment {
  primary: ServerProcess;
  replica: ServerProcess;
  sentinels: ServerProcess[];
  /** the replica's link to the primary, which a test can slow down and cut */
  link: TcpProxy;
}

/**
 * A primary, a replica that replicates through a proxy (so a test can hold back what the primary
 * sends it, and cut the link with those bytes still held) and three sentinels; resolves once the
 * replica is in sync and every sentinel knows the other two and the replica (they find each
 * other through the primary's hello channel, every 2 s).
 */
async function deploy(): Promise<Deployment> {
  const dir = mkdtempSync(join(tmpdir(), 'task-swarm-sentinel-'));
  dirs.push(dir);
  const [p1, p2, ...sp] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const primary = await spawnServer(nodeArgs(p1!, dir, ['--dbfilename', 'primary.rdb']), p1!);
  servers.push(primary);
  const link = await startProxy('127.0.0.1', p1!);
  const replica = await spawnServer(nodeArgs(p2!, dir, ['--dbfilename', 'replica.rdb', '--replicaof', '127.0.0.1', String(link.port)]), p2!);
  servers.push(replica);
  const sentinels: ServerProcess[] = [];
  // (a long failover-timeout keeps the sentinels from re-pointing the replica at the primary
  // directly, around the proxy, during the test: they wait that long before they do)
  for (const port of sp) sentinels.push(await spawnSentinel(dir, port!, NAME, p1!, 60_000));
  servers.push(...sentinels);
  const admin = new Redis({ port: p2, lazyConnect: true });
  await until(async () => /master_link_status:up/.test(await admin.info('replication')), 'the replica in sync', 10_000, 50);
  admin.disconnect();
  for (const s of sentinels) {
    const c = new Redis({ port: s.port });
    await until(
      async () => {
        const flat = (await c.call('SENTINEL', 'MASTER', NAME)) as string[];
        const m = Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
        return Number(m['num-other-sentinels']) === 2 && Number(m['num-slaves']) === 1;
      },
      `sentinel ${s.port} to know the others and the replica`,
      15_000,
      100,
    );
    c.disconnect();
  }
  return { primary, replica, sentinels, link };
}

afterAll(async () => {
  for (const p of procs) await p.kill('SIGKILL');
  for (const s of servers) await s.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Outcome {
  /** ms from the kill to the producer's last wait resolved */
  took: number;
  /** ms from the kill to every task END on the promoted replica */
  settled: number;
  /** tasks that started more than once */
  twice: string[];
  /**
   * of those, the ones no lost write explains: a claim the promoted replica never got leaves its
   * task queued there, to be claimed again under the same attempt number; an END it never got
   * leaves the task RUNNING, to be requeued and ended again (ended twice). Any other re-run is
   * the swarm's: a live worker's task requeued or handed back while it ran.
   */
  unexplained: string[];
  /** tasks whose end was published more than once (an END the promoted replica never got) */
  endedTwice: string[];
}

/**
 * Two workers, a monitor and a producer (processes), TASKS tasks of TASK_MS; the primary
 * SIGKILLed once a third of them are done. With `lossMs`, the replica's link holds back what
 * the primary sends for that long before the kill and is cut with it held: the promoted replica
 * lacks the primary's last `lossMs` of writes (claims, renewals, ENDs).
 */
async function failover(d: Deployment, prefix: string, lossMs = 0): Promise<Outcome> {
  const redis = { sentinels: d.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })), name: NAME, keyPrefix: prefix };
  const workerOptions = { port: 0, redis, concurrency: 8, heartbeatInterval: 200, fetchTaskInterval: 500 };
  const workers = [await spawnWorker(workerOptions, [], ['work']), await spawnWorker(workerOptions, [], ['work'])];
  procs.push(...workers);
  const monitor = await spawnMonitor({ redis, taskTimeout: 3000, checkTaskInterval: 500 });
  procs.push(monitor);

  // Every END's event, as published by the script that writes it.
  const ends = new Map<string, number>();
  const events = new Redis({ sentinels: redis.sentinels, name: NAME });
  events.on('error', () => {});
  await events.psubscribe(`${prefix}task-*-events`);
  events.on('pmessage', (_p, channel: string, message: string) => {
    if (JSON.parse(message).event !== 'end') return;
    const id = channel.slice(`${prefix}task-`.length, -'-events'.length);
    ends.set(id, (ends.get(id) ?? 0) + 1);
  });

  const tasks = Array.from({ length: TASKS }, (_, i) => ({ id: `t${i}`, fn: 'work', data: { ms: TASK_MS } }));
  // the producer names the same sentinels by a url
  const url = `redis+sentinel://${d.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${NAME}`;
  const producer = await spawnProducer({ redis: { url, keyPrefix: prefix }, tasks, timeout: 50_000 });
  procs.push(producer);
  await producer.waitFor(/^SUBMITTED-ALL /, 20_000);
  const done = () => workers.reduce((n, w) => n + w.lines.filter((l) => l.startsWith('DONE ')).length, 0);
  await until(() => done() >= TASKS / 3, 'a third of the tasks done', 30_000, 10);
  const direct = new Redis({ port: d.primary.port });
  direct.on('error', () => {});
  if (lossMs > 0) {
    d.link.partition();
    await direct.set(`${prefix}marker`, 'written after the link was held');
    await new Promise((r) => setTimeout(r, lossMs));
  }
  const killedAt = Date.now();
  await d.primary.kill('SIGKILL');
  // What the link held back is gone with the primary. Without a loss, it holds nothing back:
  // what the primary sent before it died is still on its way through the proxy (read or not
  // yet read by this process), and it arrives, as over a real link; a reset here would drop it,
  // and with it a claim or an END the primary had answered (a task then ran twice).
  if (lossMs > 0) d.link.reset();
  direct.disconnect();

  await producer.waitFor(/^ALL-ENDED$/, 50_000);
  const took = Date.now() - killedAt;

  // The producer saw every task end, succeeded: none lost.
  expect(producer.lines.filter((l) => l.startsWith('REJECTED '))).toEqual([]);
  const endLines = producer.lines.filter((l) => l.startsWith('END '));
  expect(endLines).toHaveLength(TASKS);
  expect(endLines.filter((l) => !/ succeeded \d+$/.test(l))).toEqual([]);

  // What the promoted replica, now the primary, holds: each task ended once, succeeded.
  const now = new Redis({ sentinels: redis.sentinels, name: NAME });
  expect((await now.info('server')).match(/tcp_port:(\d+)/)![1]).toBe(String(d.replica.port));
  // the writes of the last lossMs are really gone
  if (lossMs > 0) expect(await now.get(`${prefix}marker`)).toBeNull();
  // A task whose END the replica never got is RUNNING there under a lease no worker holds: the
  // monitor requeues it (after its grace and taskTimeout) and it runs and ends again. So wait
  // for the swarm to settle, then every task must be END, succeeded.
  const states = async () => {
    const pipe = now.pipeline();
    for (const t of tasks) pipe.hmget(`${prefix}task-${t.id}`, 'state', 'outcome');
    return ((await pipe.exec()) ?? []).map(([, v], i) => ({ id: tasks[i]!.id, state: (v as string[])[0], outcome: (v as string[])[1] }));
  };
  await until(async () => (await states()).every((h) => h.state === 'END'), 'every task END on the promoted replica', 30_000, 200).catch(() => {});
  expect((await states()).filter((h) => h.state !== 'END' || h.outcome !== 'succeeded')).toEqual([]);
  const settled = Date.now() - killedAt;
  now.disconnect();
  events.disconnect();

  // Executions, from the workers' own lines: every task ran.
  const starts = new Map<string, string[]>();
  for (const w of workers) {
    for (const l of w.lines) {
      const m = /^STARTED (\S+) (\d+)/.exec(l);
      if (m) starts.set(m[1]!, [...(starts.get(m[1]!) ?? []), m[2]!]);
    }
  }
  expect(tasks.filter((t) => !starts.has(t.id))).toEqual([]);

  // No process was restarted: both workers and the monitor lived through it, and both workers
  // ran tasks after the switch, on their own.
  for (const p of [...workers, monitor]) expect({ exit: p.proc.exitCode, signal: p.proc.signalCode }).toEqual({ exit: null, signal: null });
  for (const w of workers) expect(w.lines.filter((l, i) => l.startsWith('STARTED ') && w.times[i]! > killedAt + 500).length).toBeGreaterThan(0);

  // the CLI reaches the promoted primary through the sentinels too, in both forms
  const sentinelList = d.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
  for (const [argv, env] of [
    [['status', '--json', '--key-prefix', prefix, '--redis-sentinels', sentinelList, '--redis-name', NAME], {}],
    [['status', '--json', '--key-prefix', prefix], { REDIS_URL: url }],
  ] as const) {
    const r = await runMain([...argv], env);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ queued: 0 });
  }

  const twice = [...starts].filter(([, a]) => a.length > 1).map(([id]) => id);
  const endedTwice = [...ends].filter(([, n]) => n > 1).map(([id]) => id);
  const unexplained = twice.filter((id) => new Set(starts.get(id)).size === starts.get(id)!.length && !endedTwice.includes(id));
  // what the swarm said of a re-run, for the one who reads a failure
  if (twice.length > 0) {
    const said = [...workers.flatMap((w, n) => w.lines.map((l, i) => ({ at: w.times[i]! - killedAt, who: `worker ${n}`, l }))), ...monitor.lines.map((l, i) => ({ at: monitor.times[i]! - killedAt, who: 'monitor', l }))]
      .filter(({ l }) => twice.some((id) => l.includes(id)) || /^(WARN|ERROR|REQUEUED)/.test(l))
      .sort((a, b) => a.at - b.at);
    console.log(`ran twice: ${twice.map((id) => `${id} (attempts ${starts.get(id)!.join(', ')})`).join('; ')}\n${said.map(({ at, who, l }) => `${at} ms ${who}: ${l}`).join('\n')}`);
  }
  for (const p of [producer, monitor, ...workers]) await p.kill('SIGKILL');
  return { took, settled, twice, unexplained, endedTwice };
}

describe('Sentinel: the primary SIGKILLed mid-run, the replica promoted', () => {
  it('with every write replicated: each task runs and ends once, none lost, no worker restarted', async () => {
    const r = await failover(await deploy(), 'sent1:');
    console.log(`sentinel failover, nothing lost: ${TASKS} tasks ended ${r.took} ms after the kill (all END there after ${r.settled} ms); ran twice: ${r.twice.length}; ended twice: ${r.endedTwice.length}`);
    // Nothing the link held back, so a re-run is only one of the writes the primary answered in
    // the instant of the kill, before it sent them to the replica (a CI run saw two tasks of
    // claims so lost): at most one claim or END in flight per task slot.
    expect(r.unexplained).toEqual([]);
    expect(r.twice.length).toBeLessThanOrEqual(16);
  }, 60_000);

  it("with the primary's last 300 ms of writes lost: still every task ends, none lost, no worker restarted; a task ended twice is one that ran twice", async () => {
    const r = await failover(await deploy(), 'sent2:', 300);
    // Claims the replica never got put their tasks back in the queue (the workers that ran them
    // find their leases gone and abort their copies), ENDs it never got leave their tasks
    // RUNNING until the monitor requeues them: both run a task again. What the swarm keeps is
    // one END per task (above); the END the old primary took is lost with it.
    console.log(`sentinel failover, last 300 ms lost: ${TASKS} tasks ended for the producer ${r.took} ms after the kill, all END on the promoted replica after ${r.settled} ms; ran twice: ${r.twice.length} (${r.twice.join(' ')}); ended twice (once on the lost primary): ${r.endedTwice.length}`);
    expect(r.endedTwice.every((id) => r.twice.includes(id))).toBe(true);
    expect(r.unexplained).toEqual([]);
  }, 60_000);
});
