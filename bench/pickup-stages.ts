/**
 * An idle worker's pickup, stage by stage, for one checkout: one Worker (concurrency 1, four
 * functions, as the bench's children) and one Client in this process; a task is submitted after
 * 5 ms of quiet, `rounds` times. Prints the medians of
 *   write:  `Client.submit` called → its command written to the socket,
 *   reply:  → the first bytes of the worker's answer (Redis: submit.lua, the block's end, the claim),
 *   start:  → the task function called,
 * then Redis's own cost of the two scripts on the path, cold: the captured submit and claim are
 * sent again (MONITOR caught them) with 5 ms of quiet before each, and INFO commandstats read
 * after each.
 *
 *   node --import tsx bench/pickup-stages.ts <checkout dir> [--rounds=300] [--port=P] [--entry=dist/src/index.js] [--windows=FILE]
 *
 * --windows writes each pickup's stage boundaries (process.hrtime, ns) to FILE as JSON, for a
 * CPU profile of the same run (`node --cpu-prof`) to be split by stage: bench/profile-windows.ts.
 *
 * With --port it uses that redis-server (FLUSHALLed: never give it a Redis that holds anything
 * you want), else it starts its own.
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { drainRedis } from './lib/drain-redis.js';
import { monitorRedis } from '../test/helpers/monitor.js';
import { runMain } from './lib/run-main.js';

const [dirArg, ...rest] = process.argv.slice(2);
if (!dirArg || dirArg.startsWith('--')) {
  console.error('usage: pickup-stages.ts <checkout dir> [--rounds=300] [--port=P] [--entry=dist/src/index.js]');
  process.exit(2);
}
const opt = new Map(rest.map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const rounds = Number(opt.get('rounds') ?? 300);
process.env.TASK_SWARM_LOG = 'silent';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

// the first write and the first read of a socket, after `t0`
let t0 = 0;
let firstWrite: number | undefined;
let firstRead: number | undefined;
// the same moments on the clock a CPU profile's samples are timed by (--windows)
let t0Hr = 0n;
let writeHr = 0n;
let readHr = 0n;
let startHr = 0n;
// (the producer's socket, told by its first write: its own reply is not the worker's answer)
const producer = new WeakSet<net.Socket>();
const write = net.Socket.prototype.write;
net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
  if (t0 && firstWrite === undefined) {
    firstWrite = performance.now() - t0;
    writeHr = process.hrtime.bigint();
    producer.add(this);
  }
  return (write as (...a: unknown[]) => boolean).apply(this, args);
} as typeof net.Socket.prototype.write;
const emit = net.Socket.prototype.emit;
net.Socket.prototype.emit = function (this: net.Socket, event: string | symbol, ...args: unknown[]) {
  if (event === 'data' && t0 && firstRead === undefined && firstWrite !== undefined && !producer.has(this)) {
    firstRead = performance.now() - t0;
    readHr = process.hrtime.bigint();
  }
  return (emit as (...a: unknown[]) => boolean).apply(this, [event, ...args]);
};

async function main() {
  const { port, admin, close } = await drainRedis(Number(opt.get('port') ?? 0), 'pickup-stages');
  try {
    await admin.function('FLUSH');
    const lib = (await import(pathToFileURL(join(resolve(dirArg!), opt.get('entry') ?? 'dist/src/index.js')).href)) as typeof import('../src/index.js');
    const redis = { host: '127.0.0.1', port };
    const client = new lib.Client({ redis });
    let started: ((t: number) => void) | undefined;
    const worker = new lib.Worker({ host: '127.0.0.1', port: 0, redis, concurrency: 1 });
    worker.addTaskFunction('probe', async () => {
      startHr = process.hrtime.bigint();
      started?.(performance.now() - t0);
      return null;
    });
    for (let f = 1; f < 4; f++) worker.addTaskFunction(`other${f}`, async () => null);
    await worker.start();
    await client.submit('probe', -1);
    await sleep(300);

    // what Redis is sent for one pickup, for the replay below
    const seen: string[][] = [];
    const monitor = await monitorRedis({ host: '127.0.0.1', port }, (args) => seen.push(args));
    await sleep(50);

    const stages = { write: [] as number[], reply: [] as number[], start: [] as number[] };
    const windows: string[][] = [];
    for (let i = 0; i < rounds; i++) {
      const ran = new Promise<number>((r) => (started = r));
      firstWrite = firstRead = undefined;
      t0 = performance.now();
      t0Hr = process.hrtime.bigint();
      const submitted = client.submit('probe', i);
      const start = await ran;
      t0 = 0;
      await submitted;
      windows.push([t0Hr, writeHr, readHr, startHr].map(String));
      stages.write.push(firstWrite ?? NaN);
      stages.reply.push((firstRead ?? NaN) - (firstWrite ?? NaN));
      stages.start.push(start - (firstRead ?? NaN));
      while ((await admin.llen('tasks:ended')) < i + 2) await sleep(1);
      // (once the first pickup has ended: its MONITOR lines have been read by then)
      if (i === 0) monitor.stop();
      await sleep(5);
    }
    await worker.stop();
    await client.close();
    if (opt.get('windows')) writeFileSync(opt.get('windows')!, JSON.stringify(windows));

    // Redis alone: the captured submit and claim, sent again cold (the claim with a token of its own)
    const submit = seen.find((a) => /_submit$/.test(a[1] ?? ''));
    const claim = seen.find((a) => /_claim$/.test(a[1] ?? ''));
    const cold = { submit: [] as number[], claim: [] as number[] };
    const fcallUs = async () => Number(/cmdstat_fcall:calls=\d+,usec=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? NaN);
    if (submit && claim) {
      for (let i = 0; i < Math.min(rounds, 200); i++) {
        const id = `replay-${i}-${Date.now()}`;
        const s = submit.slice(1);
        s[6] = id;
        s[7] = s[7]!.replace(/"id":"[^"]+"/, `"id":"${id}"`);
        await sleep(5);
        await admin.config('RESETSTAT');
        await admin.call('FCALL', ...s);
        cold.submit.push(await fcallUs());
        const c = claim.slice(1);
        c[17] = `replay-${i}-${Date.now()}`;
        await sleep(5);
        await admin.config('RESETSTAT');
        await admin.call('FCALL', ...c);
        cold.claim.push(await fcallUs());
        await admin.del('new-task');
      }
    }
    const ms = (xs: number[]) => Math.round(median(xs) * 1000) / 1000;
    console.log(
      JSON.stringify({
        dir: resolve(dirArg!),
        rounds,
        ms: { write: ms(stages.write), reply: ms(stages.reply), start: ms(stages.start), total: ms(stages.write.map((w, i) => w + stages.reply[i]! + stages.start[i]!)) },
        redisColdUs: cold.submit.length ? { submit: median(cold.submit), claim: median(cold.claim) } : 'not captured',
      }),
    );
  } finally {
    close();
  }
}

runMain(main);
