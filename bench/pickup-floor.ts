/**
 * The floor of a pickup under the seed's contract, against Bee-Queue's pattern, with no library
 * code on either side: raw ioredis connections in one process, one redis-server, the same quiet
 * before each task (5 ms, as the latency scenario), the two alternated task by task so that the
 * machine's drift falls on both alike. Each pattern is what its library sends, cut to its Redis
 * work and one JSON.parse:
 *
 *   bee:   the producer's addJob script (the id counted, the job's hash field, LPUSH of the id);
 *          the worker's BRPOPLPUSH waiting -> active, then HGET of the job's data (a second round
 *          trip), parsed.
 *   floor: the producer's smallest submit (the id marked queued, the entry LPUSHed on
 *          `new-task`, in one script); the worker's wait as Task Swarm's (BLMOVE rotation with
 *          the claim pipelined behind it), the claim cut to the contract's writes for one task:
 *          Redis time, RPOP, the entry decoded for its id, the holder check, the hash written
 *          RUNNING under a lease, the task set, the lease index, `queued`; the entry parsed.
 *   one:   the floor's writes in one script: an idle worker claims what is queued or leaves an
 *          offer (one script), then waits on a wake list of its own; a submit that finds an offer
 *          makes the claim's writes for that worker and pushes its reply onto that list.
 *
 * Prints the medians (ms, submit call -> the parsed task in the worker's hands) of each, and
 * Redis's cold cost of each pattern's scripts (INFO commandstats). If the floor reads at or
 * above Bee-Queue's pattern, a pickup p50 at or below Bee-Queue's is out of reach for any code
 * that keeps the contract on this machine; the gap between the floor and Task Swarm's own pickup
 * (bench/pickup-stages.ts, the latency scenario) is what its code adds.
 *
 *   node --import tsx bench/pickup-floor.ts [--rounds=500] [--port=P]
 */
import net from 'node:net';
import { Redis } from 'ioredis';
import { drainRedis } from './lib/drain-redis.js';
import { runMain } from './lib/run-main.js';

const opt = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const rounds = Number(opt.get('rounds') ?? 500);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

// the stages of a pickup, as bench/pickup-stages.ts splits Task Swarm's: the producer's first
// write after t0, and the first bytes read on any other socket after it
let t0 = 0;
let firstWrite: number | undefined;
let firstRead: number | undefined;
let producerSocket: net.Socket | undefined;
const write = net.Socket.prototype.write;
net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
  if (t0 && firstWrite === undefined && this === producerSocket) firstWrite = performance.now() - t0;
  return (write as (...a: unknown[]) => boolean).apply(this, args);
} as typeof net.Socket.prototype.write;
const emit = net.Socket.prototype.emit;
net.Socket.prototype.emit = function (this: net.Socket, event: string | symbol, ...args: unknown[]) {
  if (event === 'data' && t0 && firstRead === undefined && firstWrite !== undefined && this !== producerSocket) firstRead = performance.now() - t0;
  return (emit as (...a: unknown[]) => boolean).apply(this, [event, ...args]);
};

const LIBRARY = `#!lua name=pickup_floor
redis.register_function('floor_submit', function(KEYS, ARGV)
  if redis.call('EXISTS', 'task:' .. ARGV[1]) == 1 or redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
  redis.call('SADD', KEYS[1], ARGV[1])
  redis.call('LPUSH', KEYS[2], ARGV[2])
  return 1
end)
redis.register_function('floor_claim', function(KEYS, ARGV)
  local Q, taskSet, leases, queued = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
  local t = redis.call('TIME')
  local now = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
  local raw = redis.call('RPOP', Q)
  if not raw then return {} end
  local id = cjson.decode(raw).id
  local key = 'task:' .. id
  local h = redis.call('HMGET', key, 'state', 'attempt', 'claims')
  local lease = '1:' .. ARGV[1]
  redis.call('HSET', key, 'state', 'RUNNING', 'start', now, 'update', now, 'worker', ARGV[1], 'lease', lease, 'attempt', '1', 'claims', '1', 'data', raw)
  redis.call('SADD', taskSet, id)
  redis.call('ZADD', leases, now, id)
  redis.call('SREM', queued, id)
  return { id, raw, '1', lease }
end)
-- one script for a pickup: a submit that finds an idle worker's offer claims the task for it
-- (the same writes as floor_claim) and pushes the claim's reply onto that worker's own wake list
local function claim_for(worker, id, raw, taskSet, leases)
  local t = redis.call('TIME')
  local now = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
  local key = 'task:' .. id
  local h = redis.call('HMGET', key, 'state', 'attempt', 'claims')
  local lease = '1:' .. worker
  redis.call('HSET', key, 'state', 'RUNNING', 'start', now, 'update', now, 'worker', worker, 'lease', lease, 'attempt', '1', 'claims', '1', 'data', raw)
  redis.call('SADD', taskSet, id)
  redis.call('ZADD', leases, now, id)
  redis.call('LPUSH', 'wake:' .. worker, id .. '\\n' .. lease .. '\\n' .. raw)
end
redis.register_function('one_submit', function(KEYS, ARGV)
  if redis.call('EXISTS', 'task:' .. ARGV[1]) == 1 or redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
  local worker = redis.call('RPOP', KEYS[3])
  if worker then
    claim_for(worker, ARGV[1], ARGV[2], KEYS[4], KEYS[5])
    return 2
  end
  redis.call('SADD', KEYS[1], ARGV[1])
  redis.call('LPUSH', KEYS[2], ARGV[2])
  return 1
end)
-- an idle worker's turn: claim what is queued (its reply onto the worker's wake list), or leave an offer
redis.register_function('one_claim_or_offer', function(KEYS, ARGV)
  local raw = redis.call('RPOP', KEYS[1])
  if not raw then
    redis.call('LPUSH', KEYS[4], ARGV[1])
    return 0
  end
  local id = cjson.decode(raw).id
  redis.call('SREM', KEYS[5], id)
  claim_for(ARGV[1], id, raw, KEYS[2], KEYS[3])
  return 1
end)
`;

const BEE_ADD_JOB = `
local jobId = ARGV[1]
if jobId == '' then jobId = '' .. redis.call('incr', KEYS[1]) end
if redis.call('hexists', KEYS[2], jobId) == 1 then return nil end
redis.call('hset', KEYS[2], jobId, ARGV[2])
redis.call('lpush', KEYS[3], jobId)
return jobId`;

async function main() {
  const { port, admin, close } = await drainRedis(Number(opt.get('port') ?? 0), 'pickup-floor');
  const conn = () => new Redis({ host: '127.0.0.1', port, enableAutoPipelining: false });
  const producer = conn();
  const beeWorker = conn();
  const floorWorker = conn();
  const oneWorker = conn();
  try {
    await admin.function('LOAD', 'REPLACE', LIBRARY);
    producer.defineCommand('beeAddJob', { numberOfKeys: 3, lua: BEE_ADD_JOB });
    const addJob = (data: string) => (producer as unknown as { beeAddJob(...a: string[]): Promise<unknown> }).beeAddJob('bq:id', 'bq:jobs', 'bq:waiting', '', data);

    await producer.ping();
    producerSocket = (producer as unknown as { stream: net.Socket }).stream;
    let arrived: ((ms: number) => void) | undefined;
    let stopping = false;
    // Bee-Queue's worker loop: the id moved to `active`, then its data fetched
    void (async () => {
      while (!stopping) {
        const id = await beeWorker.brpoplpush('bq:waiting', 'bq:active', 1);
        if (!id) continue;
        const data = await beeWorker.hget('bq:jobs', id);
        JSON.parse(data!);
        arrived?.(performance.now() - t0);
      }
    })().catch((e) => stopping || console.error(e));
    // the contract's floor: the wait, with the claim pipelined behind it
    void (async () => {
      while (!stopping) {
        const replies = await floorWorker.pipeline().blmove('new-task', 'new-task', 'RIGHT', 'RIGHT', 1).fcall('floor_claim', 4, 'new-task', 'tasks', 'leases', 'queued', 'w:1').exec();
        const claimed = replies?.[1]?.[1] as string[] | undefined;
        if (!claimed || claimed.length === 0) continue;
        JSON.parse(claimed[1]!);
        arrived?.(performance.now() - t0);
      }
    })().catch((e) => stopping || console.error(e));
    // one script: the worker claims-or-offers, then waits on its own wake list, pipelined
    void (async () => {
      while (!stopping) {
        const replies = await oneWorker.pipeline().fcall('one_claim_or_offer', 5, 'one-task', 'tasks', 'leases', 'offers', 'queued', 'w:2').blpop('wake:w:2', 1).exec();
        const got = replies?.[1]?.[1] as [string, string] | null | undefined;
        if (!got) continue;
        const text = got[1];
        const a = text.indexOf('\n');
        const b = text.indexOf('\n', a + 1);
        JSON.parse(text.slice(b + 1));
        arrived?.(performance.now() - t0);
      }
    })().catch((e) => stopping || console.error(e));
    await sleep(100);

    const ms = { bee: [] as number[], floor: [] as number[], one: [] as number[] };
    const stages = { bee: { write: [] as number[], reply: [] as number[] }, floor: { write: [] as number[], reply: [] as number[] }, one: { write: [] as number[], reply: [] as number[] } };
    const submit = {
      bee: (i: number) => addJob(JSON.stringify({ data: i, options: { timeout: null } })),
      floor: (i: number) => producer.fcall('floor_submit', 2, 'queued', 'new-task', `p${i}`, JSON.stringify({ id: `p${i}`, function: 'probe', data: i })),
      one: (i: number) => producer.fcall('one_submit', 5, 'queued', 'one-task', 'offers', 'tasks', 'leases', `o${i}`, JSON.stringify({ id: `o${i}`, function: 'probe', data: i })),
    };
    const order = ['bee', 'floor', 'one'] as const;
    for (let i = 0; i < 3 * rounds + 60; i++) {
      const which = order[i % 3]!;
      await sleep(5);
      const got = new Promise<number>((r) => (arrived = r));
      firstWrite = firstRead = undefined;
      t0 = performance.now();
      void submit[which](i);
      const took = await got;
      t0 = 0;
      // (the first twenty of each warm up)
      if (i >= 60) {
        ms[which].push(took);
        stages[which].write.push(firstWrite ?? NaN);
        stages[which].reply.push((firstRead ?? NaN) - (firstWrite ?? NaN));
      }
    }

    // (the workers gone: their waits would take the tasks sent below)
    stopping = true;
    beeWorker.disconnect();
    floorWorker.disconnect();
    oneWorker.disconnect();

    // Redis alone, cold: each pattern's scripts and commands sent again after 5 ms of quiet
    const usec = async (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=\\d+,usec=(\\d+)`).exec(await admin.info('commandstats'))?.[1] ?? 0);
    const cold = { bee: [] as number[], floor: [] as number[], one: [] as number[] };
    for (let i = 0; i < 200; i++) {
      await sleep(5);
      await admin.config('RESETSTAT');
      await addJob(`{"data":${i}}`);
      const id = await admin.brpoplpush('bq:waiting', 'bq:active', 1);
      await admin.hget('bq:jobs', id!);
      cold.bee.push((await usec('evalsha')) + (await usec('brpoplpush')) + (await usec('hget')));
      await sleep(5);
      await admin.config('RESETSTAT');
      await admin.fcall('floor_submit', 2, 'queued', 'new-task', `c${i}`, JSON.stringify({ id: `c${i}`, function: 'probe', data: i }));
      await admin.fcall('floor_claim', 4, 'new-task', 'tasks', 'leases', 'queued', 'w:1');
      cold.floor.push(await usec('fcall'));
      await sleep(5);
      await admin.lpush('offers', 'w:3');
      await admin.config('RESETSTAT');
      await admin.fcall('one_submit', 5, 'queued', 'one-task', 'offers', 'tasks', 'leases', `d${i}`, JSON.stringify({ id: `d${i}`, function: 'probe', data: i }));
      await admin.blpop('wake:w:3', 1);
      cold.one.push((await usec('fcall')) + (await usec('blpop')));
    }
    const r = (x: number) => Math.round(x * 1000) / 1000;
    console.log(JSON.stringify({ rounds, pickupMs: { bee: r(median(ms.bee)), floor: r(median(ms.floor)), one: r(median(ms.one)) }, stagesMs: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, { write: r(median(v.write)), reply: r(median(v.reply)) }])), redisColdUs: { bee: median(cold.bee), floor: median(cold.floor), one: median(cold.one) } }));
  } finally {
    producer.disconnect();
    beeWorker.disconnect();
    floorWorker.disconnect();
    close();
  }
}

runMain(main);
