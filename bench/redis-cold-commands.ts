/**
 * What a command costs Redis when it is the first of its kind after a quiet spell, as a pickup's
 * are: one script per variant, sent after 5 ms of quiet, its time read from INFO commandstats,
 * the variants interleaved so that the machine's drift falls on all alike. Each variant does
 * what its name says to keys that do not exist (the one key written is deleted after each round):
 *
 *   empty:         the script alone
 *   same-1 / 5:    one EXISTS; five EXISTS
 *   distinct-2..5: two to five different commands (EXISTS, LLEN, HMGET, SISMEMBER, HINCRBY), one each
 *   decode:        one cjson.decode of a task entry's size
 *
 * The slope from same-5 to distinct-5 is the cost of a command type Redis has not run lately:
 * a script's time is set less by how many calls it makes than by how many kinds.
 *
 *   node --import tsx bench/redis-cold-commands.ts [--rounds=200] [--port=P]
 */
import { drainRedis } from './lib/drain-redis.js';
import { runMain } from './lib/run-main.js';

const opt = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const rounds = Number(opt.get('rounds') ?? 200);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const CALLS = [
  "redis.call('EXISTS', KEYS[1])",
  "redis.call('LLEN', KEYS[1] .. ':l')",
  "redis.call('HMGET', KEYS[1] .. ':h', 'a', 'b')",
  "redis.call('SISMEMBER', KEYS[1] .. ':s', 'a')",
  // (a write: the round deletes its key after reading the time)
  "redis.call('HINCRBY', KEYS[1] .. ':c', 'seq', 1)",
];
const VARIANTS: Record<string, string> = {
  empty: 'return 1',
  'same-1': `${CALLS[0]} return 1`,
  'same-5': `for i = 1, 5 do ${CALLS[0]} end return 1`,
  'distinct-2': `${CALLS.slice(0, 2).join(' ')} return 1`,
  'distinct-3': `${CALLS.slice(0, 3).join(' ')} return 1`,
  'distinct-5': `${CALLS.join(' ')} return 1`,
  decode: 'local e = cjson.decode(ARGV[1]) return 1',
};
const ENTRY = JSON.stringify({ id: 'LIu582JZ8chMCO_Y8Xe7n', function: 'probe', data: 1, queued_at: 1796439117337 });

async function main() {
  const { admin, close } = await drainRedis(Number(opt.get('port') ?? 0), 'redis-cold-commands');
  try {
    const us: Record<string, number[]> = Object.fromEntries(Object.keys(VARIANTS).map((k) => [k, []]));
    for (let r = 0; r < rounds + 10; r++) {
      for (const [name, src] of Object.entries(VARIANTS)) {
        await sleep(5);
        await admin.config('RESETSTAT');
        await admin.eval(src, 1, 'cold', ENTRY);
        const t = Number(/cmdstat_eval:calls=\d+,usec=(\d+)/.exec(await admin.info('commandstats'))?.[1]);
        // (the first ten rounds warm up the connection and the scripts' cache)
        if (r >= 10) us[name]!.push(t);
        await admin.del('cold:c');
      }
    }
    const med = Object.fromEntries(Object.entries(us).map(([k, v]) => [k, median(v)]));
    console.log(JSON.stringify({ rounds, medianUs: med, perKindUs: Math.round(((med['distinct-5']! - med['same-5']!) / 4) * 10) / 10 }));
  } finally {
    close();
  }
}

runMain(main);
