/**
 * An idle worker's pickup, two checkouts in one process and on one redis-server, taking turns
 * task by task (A B B A ...), so that the machine's drift, which moves a whole pickup by half
 * between runs of bench/pickup-stages.ts minutes apart, falls on both alike. Each checkout has
 * its own Client and Worker (concurrency 1, four functions, as the bench's children), under a
 * key prefix of its own; each task is submitted after 5 ms of quiet, and between two of one
 * checkout's pickups the other's code runs, as in a process that does other work.
 *
 * Prints, per checkout, the medians (ms) of
 *   write: `Client.submit` called → its command written to the socket,
 *   total: → the task function called,
 * and the median of the per-pair ratios B / A of each.
 *
 *   node --import tsx bench/pickup-ab.ts <checkout A> <checkout B> [--rounds=400] [--port=P]
 *
 * Both checkouts must be built (dist/). With --port it uses that redis-server (FLUSHALLed:
 * never give it a Redis that holds anything you want), else it starts its own.
 */
import net from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { drainRedis } from './lib/drain-redis.js';
import { runMain } from './lib/run-main.js';

const args = process.argv.slice(2);
const dirs = args.filter((a) => !a.startsWith('--'));
if (dirs.length !== 2) {
  console.error('usage: pickup-ab.ts <checkout A> <checkout B> [--rounds=400] [--port=P]');
  process.exit(2);
}
const opt = new Map(args.filter((a) => a.startsWith('--')).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const rounds = Number(opt.get('rounds') ?? 400);
process.env.TASK_SWARM_LOG = 'silent';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

// the first socket write after `t0`: the producer's submit (only one checkout is at work at a time)
let t0 = 0;
let firstWrite: number | undefined;
const write = net.Socket.prototype.write;
net.Socket.prototype.write = function (this: net.Socket, ...a: unknown[]) {
  if (t0 && firstWrite === undefined) firstWrite = performance.now() - t0;
  return (write as (...x: unknown[]) => boolean).apply(this, a);
} as typeof net.Socket.prototype.write;

interface Side {
  dir: string;
  prefix: string;
  client: { submit(fn: string, data?: unknown): Promise<string>; close(): Promise<void> };
  worker: { stop(): Promise<void> };
  started?: (t: number) => void;
  write: number[];
  total: number[];
}

async function side(dir: string, prefix: string, port: number): Promise<Side> {
  const lib = (await import(pathToFileURL(join(resolve(dir), 'dist/src/index.js')).href)) as typeof import('../src/index.js');
  const redis = { host: '127.0.0.1', port, keyPrefix: prefix };
  const s = { dir: resolve(dir), prefix, write: [], total: [] } as unknown as Side;
  s.client = new lib.Client({ redis });
  const worker = new lib.Worker({ host: '127.0.0.1', port: 0, redis, concurrency: 1 });
  worker.addTaskFunction('probe', async () => {
    s.started?.(performance.now() - t0);
    return null;
  });
  for (let f = 1; f < 4; f++) worker.addTaskFunction(`other${f}`, async () => null);
  await worker.start();
  s.worker = worker;
  await s.client.submit('probe', -1);
  return s;
}

async function pickup(s: Side, admin: import('ioredis').Redis, i: number, record: boolean): Promise<void> {
  const ran = new Promise<number>((r) => (s.started = r));
  firstWrite = undefined;
  t0 = performance.now();
  const submitted = s.client.submit('probe', i);
  const total = await ran;
  const w = firstWrite ?? NaN;
  t0 = 0;
  await submitted;
  if (record) {
    s.write.push(w);
    s.total.push(total);
  }
  // its END written (the worker waits on the queue again), then the quiet
  while ((await admin.llen(`${s.prefix}tasks:ended`)) < i + 2) await sleep(1);
  await sleep(5);
}

async function main() {
  const { port, admin, close } = await drainRedis(Number(opt.get('port') ?? 0), 'pickup-ab');
  try {
    await admin.function('FLUSH');
    const a = await side(dirs[0]!, 'a:', port);
    const b = await side(dirs[1]!, 'b:', port);
    await sleep(300);
    const warm = Math.min(100, rounds >> 2);
    for (let i = 0; i < rounds + warm; i++) {
      // (A B, then B A: neither always follows the other)
      const order = i % 2 === 0 ? [a, b] : [b, a];
      for (const s of order) await pickup(s, admin, i, i >= warm);
    }
    for (const s of [a, b]) {
      await s.worker.stop();
      await s.client.close();
    }
    const ms = (xs: number[]) => Math.round(median(xs) * 1000) / 1000;
    const ratio = (k: 'write' | 'total') => Math.round(median(a[k].map((x, i) => b[k][i]! / x)) * 1000) / 1000;
    for (const s of [a, b]) console.log(JSON.stringify({ dir: s.dir, rounds, ms: { write: ms(s.write), total: ms(s.total) } }));
    console.log(JSON.stringify({ ratioBtoA: { write: ratio('write'), total: ratio('total') } }));
  } finally {
    close();
  }
}

runMain(main);
