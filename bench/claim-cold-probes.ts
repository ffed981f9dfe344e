/**
 * Where an idle worker's claim spends its cold time in Redis, command by command: the claim a
 * real pickup sends (caught with MONITOR from one Worker and one Client) is replayed after 5 ms
 * of quiet, 200 times, against the function library with a probe before each `redis.call` and at
 * the function's entry and exit (Redis's TIME, microseconds). Prints the claim's cold cost (INFO
 * commandstats, the probes included) and, for each step, the median gap before it: the Lua and
 * the command before it, cold. The probes add a TIME each, so the gaps are upper bounds.
 *
 *   node --import tsx bench/claim-cold-probes.ts
 */
import { drainRedis } from './lib/drain-redis.js';
import { monitorRedis } from '../test/helpers/monitor.js';
import { library } from '../src/scripts.js';
process.env.TASK_SWARM_LOG = 'silent';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const { port, admin, close } = await drainRedis(0, 'probe');
await admin.function('FLUSH');
const lib = await import('../src/index.js');
const redis = { host: '127.0.0.1', port };
const client = new lib.Client({ redis });
const worker = new lib.Worker({ host: '127.0.0.1', port: 0, redis, concurrency: 1 });
let started: (() => void) | undefined;
worker.addTaskFunction('probe', async () => { started?.(); return null; });
for (let f = 1; f < 4; f++) worker.addTaskFunction(`other${f}`, async () => null);
await worker.start();
await client.submit('probe', -1);
await sleep(300);
const seen: string[][] = [];
const monitor = await monitorRedis({ host: '127.0.0.1', port }, (args) => seen.push(args));
await sleep(50);
const ran = new Promise<void>((r) => (started = r));
await client.submit('probe', 1);
await ran;
await sleep(100);
monitor.stop();
await worker.stop(); await client.close();
const submit = seen.find((a) => /_submit$/.test(a[1] ?? ''))!;
const claim = seen.find((a) => /_claim$/.test(a[1] ?? ''))!;
// the probed library
const L = library();
let code = L.code.replace(/redis\.call\(/g, 'PC(').replace(/redis\.pcall\(/g, 'PPC(');
const prelude = `
local PT = {}
local function PROBE(label) local t = redis.call('TIME') PT[#PT+1] = label .. ' ' .. t[1] .. '.' .. t[2] end
local function PC(...) PROBE((...)) return redis.call(...) end
local function PPC(...) PROBE((...)) return redis.pcall(...) end
`;
code = code.replace('-- Task Swarm: the scripts', prelude + '\n-- Task Swarm: the scripts');
code = code.replace(/callback = function\(KEYS, ARGV\) beginCall\(\) return (script_\w+)\(KEYS, ARGV\) end/g, (_m, s) => `callback = function(KEYS, ARGV) PT = {} PROBE('enter') beginCall() local r = ${s}(KEYS, ARGV) PROBE('exit') redis.call('RPUSH', 'probes', unpack(PT)) return r end`);
if (!(await admin.call('FUNCTION', 'LOAD', 'REPLACE', code))) throw new Error('load');
const rows: Record<string, number[]> = {};
const totals: number[] = [];
const fcallUs = async () => Number(/cmdstat_fcall:calls=\d+,usec=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? NaN);
for (let i = 0; i < 200; i++) {
  const id = `replay-${i}-${Date.now()}`;
  const s = submit.slice(1); s[6] = id; s[7] = s[7]!.replace(/"id":"[^"]+"/, `"id":"${id}"`);
  await sleep(5);
  await admin.call('FCALL', ...s);
  await admin.del('probes');
  const c = claim.slice(1); c[17] = `replay-${i}-${Date.now()}`;
  await sleep(5);
  await admin.config('RESETSTAT');
  await admin.call('FCALL', ...c);
  totals.push(await fcallUs());
  const p = await admin.lrange('probes', 0, -1);
  // (TIME's seconds and microseconds, as one count of microseconds)
  const us = (line: string) => {
    const [sec, micro] = line.split(' ')[1]!.split('.');
    return Number(sec) * 1e6 + Number(micro);
  };
  let prev = us(p[0]!);
  p.forEach((line, j) => {
    const label = line.split(' ')[0]!;
    const t = us(line);
    const key = `${String(j).padStart(2, '0')} ${label}`;
    (rows[key] ??= []).push(t - prev);
    prev = t;
  });
  await admin.del('new-task', 'probes');
}
console.log('claim cold, commandstats µs (median):', median(totals));
for (const [k, v] of Object.entries(rows)) console.log(k.padEnd(30), 'gap before it µs:', median(v));
close();
