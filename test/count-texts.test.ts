/**
 * The counts claim.lua and finish-claim.lua are given (max, rotation, acknowledgements, each
 * function's room, finish-claim's END count) and the counts a claim writes (attempt, claims, the
 * lease) are read and written through tables of small integers' texts (lib/fields.lua) where
 * they were read with tonumber and written with a printf. Any text outside the tables must
 * still mean what tonumber makes of it, and any count past them be written as `%d` writes it:
 * a table entry wrong, or a fallback missing, would change what a claim takes or the lease it
 * writes. Each call is run twice, in two key spaces set up alike: once with the count as the
 * worker writes it, once spelled otherwise (leading zeros, a sign, a decimal point, spaces,
 * hex, an exponent); the replies and every key must match, Redis times aside.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { redisPerFile } from './helpers/suite.js';
import { buildKeys, type Keys } from '../src/keys.js';
import { runScript } from '../src/scripts.js';

let redis: Redis;
redisPerFile((_s, r) => {
  redis = r;
});

let spaces = 0;
const keySpace = (): Keys => buildKeys({ keyPrefix: `ct${++spaces}:`, newQueue: 'new-task', taskSet: 'tasks', taskPrefix: 'task-', endQueue: 'end-task', workerSet: 'workers' });
const W = 'w1:1';
const claimKeys = (k: Keys) => [k.newQueue, k.taskSet, k.leases, k.queued, ...k.deadStore, k.claimReceipts(W), k.ended];

/** every key of a key space without its prefix, Redis times (13 digits) as T */
async function state(k: Keys, prefix: string): Promise<string> {
  const out: unknown[] = [];
  for (const key of (await redis.keys(`${prefix}*`)).sort()) {
    const t = await redis.type(key);
    let v: unknown;
    if (t === 'list') v = await redis.lrange(key, 0, -1);
    else if (t === 'set') v = (await redis.smembers(key)).sort();
    else if (t === 'zset') v = await redis.zrange(key, 0, -1, 'WITHSCORES');
    else if (t === 'hash') v = Object.entries(await redis.hgetall(key)).sort();
    else v = await redis.get(key);
    out.push([key.slice(prefix.length), t, v]);
  }
  return times(out);
}
const times = (v: unknown) => JSON.stringify(v).replace(/1\d{12}/g, 'T');

/** a queue of plain entries of f and g, and a task hash that claimed `claims` times before */
async function setUp(k: Keys, claims: string): Promise<void> {
  for (let i = 0; i < 6; i++) await redis.lpush(k.newQueue, JSON.stringify({ id: `t${i}`, function: i % 3 === 2 ? 'g' : 'f', data: i }));
  await redis.hset(k.task('old'), 'attempt', claims, 'claims', claims);
  await redis.lpush(k.newQueue, JSON.stringify({ id: 'old', function: 'f', data: 'again' }));
}

function claimArgs(k: Keys, c: { max: string; rotation: string; acks: string[]; ackCount?: string; rooms: [string, string][] }): string[] {
  return [k.taskKeyPrefix, W, c.max, '1048576', c.rotation, 'tok', '0', '1', c.ackCount ?? String(c.acks.length), ...c.acks, ...c.rooms.flat()];
}

const SPELLINGS = (n: number): string[] => [`0${n}`, `${n}.0`, `+${n}`, ` ${n}`, `${n} `, `0x${n.toString(16)}`, `${n}e0`];

describe('counts given to claim.lua, spelled otherwise than the worker writes them', () => {
  for (const [what, n] of [
    ['max', 3],
    ['max', 64],
    ['rotation', 1],
    ['room', 2],
    ['room', 70],
    ['acks', 1],
  ] as const) {
    it(`${what} ${n}: the same claim as written plainly`, async () => {
      for (const spelt of SPELLINGS(n)) {
        const a = keySpace();
        const b = keySpace();
        const run = async (k: Keys, text: string) => {
          await setUp(k, '5');
          await redis.hset(k.claimReceipts(W), 'acked', '[]');
          const c = {
            max: what === 'max' ? text : '2',
            rotation: what === 'rotation' ? text : '0',
            acks: what === 'acks' ? ['acked'] : [],
            ackCount: what === 'acks' ? text : undefined,
            rooms: [
              ['f', what === 'room' ? text : '2'],
              ['g', '1'],
            ] as [string, string][],
          };
          return times(await runScript(redis, 'claim', claimKeys(k), claimArgs(k, c)));
        };
        const plain = await run(a, String(n));
        const other = await run(b, spelt);
        expect(other, `${what} spelt ${JSON.stringify(spelt)}`).toBe(plain);
        expect(await state(b, `ct${spaces}:`), `${what} spelt ${JSON.stringify(spelt)}`).toBe(await state(a, `ct${spaces - 1}:`));
      }
    });
  }

  it("finish-claim's END count: the same ENDs and claim as written plainly", async () => {
    for (const spelt of SPELLINGS(4)) {
      const a = keySpace();
      const b = keySpace();
      const run = async (k: Keys, text: string) => {
        await setUp(k, '0');
        const first = (await runScript(redis, 'claim', claimKeys(k), claimArgs(k, { max: '1', rotation: '0', acks: [], rooms: [['f', '1']] }))) as string[];
        const [id, , , lease] = first.slice(6, 10);
        return times(await runScript(redis, 'finish-claim', claimKeys(k), [text, id!, lease!, 'succeeded', '"r"', ...claimArgs(k, { max: '2', rotation: '0', acks: [], rooms: [['f', '2']] })]));
      };
      const plain = await run(a, '4');
      const other = await run(b, spelt);
      expect(other, `n spelt ${JSON.stringify(spelt)}`).toBe(plain);
      expect(await state(b, `ct${spaces}:`)).toBe(await state(a, `ct${spaces - 1}:`));
    }
  });
});

describe('counts a claim writes, at the edge of the table of their texts and past it', () => {
  for (const [before, attempt, lease] of [
    ['62', '63', '63'],
    ['63', '64', '64'],
    ['64', '65', '65'],
    ['99999999999', '100000000000', '100000000000'],
    ['x', '1', '1'],
    ['1.5', '2', '2'],
    ['-1', '0', '0'],
    ['-3', '-2', '-2'],
    ['007', '8', '8'],
    ['', '1', '1'],
  ] as const) {
    it(`a hash that counted ${JSON.stringify(before)}: attempt ${attempt}, lease ${lease}.tok:${W}`, async () => {
      const k = keySpace();
      await redis.hset(k.task('old'), 'attempt', before, 'claims', before);
      await redis.lpush(k.newQueue, JSON.stringify({ id: 'old', function: 'f', data: 1 }));
      const r = (await runScript(redis, 'claim', claimKeys(k), claimArgs(k, { max: '1', rotation: '0', acks: [], rooms: [['f', '1']] }))) as string[];
      expect(r.slice(6, 10)).toEqual(['old', JSON.stringify({ id: 'old', function: 'f', data: 1 }), attempt, `${lease}.tok:${W}`]);
      expect(await redis.hmget(k.task('old'), 'attempt', 'claims', 'lease', 'state')).toEqual([attempt, lease, `${lease}.tok:${W}`, 'RUNNING']);
    });
  }
});
