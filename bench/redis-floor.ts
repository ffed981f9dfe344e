/**
 * The Redis floor of the seed path: what a claim and an END of a seed task cost Redis when a
 * script makes only the `redis.call`s they need (per claimed task: RPOP, the holder's HMGET, the
 * routing number, the RUNNING write, the task set, the lease index and `queued`; per END: the
 * fence's HMGET, the END write, the lease index, `ended` and the `end` event), and nothing else:
 * no validation, no ordering, no receipts, no limits. It is what Task Swarm's scripts cost
 * beyond their Redis commands (bench/analysis.md), run with the same CLI as bench/seed-drain.ts
 * so that bench/seed-instructions.ts can count its instructions:
 *
 *   node --import tsx bench/seed-instructions.ts . --drain=bench/redis-floor.ts --concurrency=1,10
 *
 * (the checkout argument is ignored). Its function library is loaded under its own name, on the
 * redis-server it is given; it FLUSHALLs it first.
 */
import { Redis } from 'ioredis';
import { redisCpuUs } from './lib/drain-redis.js';
import { runMain } from './lib/run-main.js';

const opt = new Map(process.argv.slice(3).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const port = Number(opt.get('port'));
const n = Number(opt.get('n') ?? 2000);
const batch = Number(opt.get('concurrency') ?? 1);

const LIBRARY = `#!lua name=taskswarm_floor
local function claimAndEnd(KEYS, ARGV)
  local Q, taskSet, leases, queued, ended = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
  local t = redis.call('TIME')
  local now = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
  local ends = tonumber(ARGV[1])
  for i = 2, 1 + 2 * ends, 2 do
    local id, lease = ARGV[i], ARGV[i + 1]
    local key = 'task:' .. id
    local h = redis.call('HMGET', key, 'state', 'lease', 'function', 'group', 'key', 'retry_lease', 'cancelling', 'attempt')
    if h[1] == 'RUNNING' and h[2] == lease then
      redis.call('HSET', key, 'state', 'END', 'update', now, 'end', now, 'outcome', 'succeeded', 'result', 'null')
      redis.call('ZREM', leases, id)
      redis.call('RPUSH', ended, id)
      redis.call('PUBLISH', key .. '-events', '{"event":"end","data":{"id":' .. cjson.encode(id) .. ',"outcome":"succeeded","result":null,"attempt":1,"worker":"w"},"at":' .. now .. '}')
    end
  end
  local out = {}
  for _ = 1, tonumber(ARGV[2 + 2 * ends]) do
    local raw = redis.call('RPOP', Q)
    if not raw then break end
    local task = cjson.decode(raw)
    local id = task.id
    local key = 'task:' .. id
    redis.call('HMGET', key, 'state', 'attempt', 'claims', 'member', 'unrouted')
    local seq = redis.call('HINCRBY', Q .. ':counts', 'seq', '1')
    redis.call('HSET', key, 'state', 'RUNNING', 'start', now, 'update', now, 'worker', 'w', 'lease', '1:w', 'attempt', '1', 'claims', '1', 'data', raw, 'function', task['function'], 'member', string.format('%014d', seq) .. ':' .. id, 'score', now)
    redis.call('SADD', taskSet, id)
    redis.call('ZADD', leases, now, id)
    redis.call('SREM', queued, id)
    out[#out + 1] = id
    out[#out + 1] = raw
    out[#out + 1] = 1
    out[#out + 1] = '1:w'
  end
  return out
end
redis.register_function('taskswarm_floor_claim', claimAndEnd)`;

async function main() {
  const r = new Redis({ port, host: '127.0.0.1' });
  try {
    await r.flushall();
    await r.function('LOAD', 'REPLACE', LIBRARY);
    const keys = ['new-task', 'tasks', 'tasks:leases', 'new-task:queued', 'tasks:ended'];
    for (let i = 0; i < n; ) {
      const p = r.pipeline();
      for (let j = 0; j < 500 && i < n; j++, i++) {
        const id = `floor-${i}-${'x'.repeat(12)}`;
        p.lpush('new-task', JSON.stringify({ id, function: 'noop', data: { i }, queued_at: Date.now() }));
        p.sadd('new-task:queued', id);
      }
      await p.exec();
    }
    if (opt.has('fill-only')) return;
    // each call ends what the one before claimed and claims up to `batch`, as a worker's
    // end-and-claim-next does
    const cpu0 = await redisCpuUs(r);
    const t0 = performance.now();
    let held: string[] = [];
    for (let done = 0; done < n; ) {
      const reply = (await r.fcall('taskswarm_floor_claim', keys.length, ...keys, held.length / 2, ...held, batch)) as (string | number)[];
      done += held.length / 2;
      held = [];
      for (let i = 0; i < reply.length; i += 4) held.push(String(reply[i]), String(reply[i + 3]));
      if (reply.length === 0 && held.length === 0) break;
    }
    // (the drain's Redis CPU per task, as bench/seed-drain.ts reports it: the floor's worker does
    // nothing but call, so its rate is Redis's alone)
    const drainMs = performance.now() - t0;
    console.log(JSON.stringify({ drain: 'floor', n, concurrency: batch, drainMs: Math.round(drainMs), rate: Math.round(n / (drainMs / 1000)), redisCpuUsPerTask: Math.round(((await redisCpuUs(r)) - cpu0) / n) }));
  } finally {
    r.disconnect();
  }
}

runMain(main);
