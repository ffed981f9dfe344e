/**
 * lib/client-entry.lua reads an entry under a queued id without decoding it. Whenever it does,
 * what it reads must be what decoding reads: cjson (claim.lua's judge) and JSON.parse (the
 * worker) find the same id and function, and no option the judge would follow (priority, group,
 * manual_end, in the entry or in its data) or check (attempts, backoff, timeout). Checked here on
 * generated entries of Client's form, with the keys the judge reads put in, spelled with escapes,
 * said twice, nested, spaced, cut short or nested past cjson's depth limit, run in a real Redis.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { redisPerFile } from './helpers/suite.js';

let redis: Redis;
redisPerFile((_, r) => {
  redis = r;
});

const lib = (name: string) => readFileSync(new URL(`../src/lua/lib/${name}.lua`, import.meta.url), 'utf8');

// for each text: { read (1/0), id, fn, decoded (1/0), cjson's id and function, and what the judge
// would follow or check: 'priority', 'group', 'manual_end', 'time' when set }
const LIB = `#!lua name=tsclientryreadtest
${lib('manual-end')}
${lib('time-options')}
${lib('client-entry')}
redis.register_function('tsclientryread_check', function(keys, texts)
  local out = {}
  for i, raw in ipairs(texts) do
    local e = clientEntry(raw, keys[1])
    local ok, task = pcall(cjson.decode, raw)
    local row = { e and 1 or 0, e and e.id or '', e and e.fn or '', 0, '', '', '' }
    if ok and type(task) == 'table' then
      row[4] = 1
      row[5] = type(task.id) == 'string' and task.id or ''
      row[6] = type(task['function']) == 'string' and task['function'] or ''
      local says = {}
      if task.priority ~= nil then says[#says + 1] = 'priority' end
      if task.group ~= nil then says[#says + 1] = 'group' end
      if wantsManualEnd(task) then says[#says + 1] = 'manual_end' end
      if task.attempts ~= nil or task.backoff ~= nil or task.timeout ~= nil then says[#says + 1] = 'time' end
      row[7] = table.concat(says, ',')
    end
    out[i] = row
  end
  return out
end)`;

interface Reading {
  raw: string;
  read: boolean;
  id: string;
  fn: string;
  decoded: boolean;
  cjsonId: string;
  cjsonFn: string;
  says: string;
}

async function readAll(texts: string[], queued: string[]): Promise<Reading[]> {
  await redis.function('LOAD', 'REPLACE', LIB);
  const key = 'client-entry-reading:queued';
  await redis.del(key);
  for (let i = 0; i < queued.length; i += 1000) await redis.sadd(key, ...queued.slice(i, i + 1000));
  const out: Reading[] = [];
  for (let i = 0; i < texts.length; i += 500) {
    const chunk = texts.slice(i, i + 500);
    const rows = (await redis.fcall('tsclientryread_check', 1, key, ...chunk)) as [number, string, string, number, string, string, string][];
    rows.forEach(([read, id, fn, decoded, cjsonId, cjsonFn, says], j) => out.push({ raw: chunk[j]!, read: read === 1, id, fn, decoded: decoded === 1, cjsonId, cjsonFn, says }));
  }
  return out;
}

const parse = (raw: string): Record<string, unknown> | undefined => {
  try {
    const v: unknown = JSON.parse(raw);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

const IDS = ['a', 'é/ü', '日本', 'x y', 'a\u0001b', 'q"uote', 'back\\slash', '</script>', '1', '\u2028'];
const FNS = ['f', 'fn/x', 'é', 'f g'];
// keys the judge reads, and near misses
// (and keys that JSON.stringify writes with an escape other than \u, which an entry read by its
// fields may hold: it spells no letter of a key the judge reads)
const KEYS = ['data', 'priority', 'group', 'manual_end', 'attempts', 'backoff', 'timeout', 'id', 'function', 'functionX', 'idx', ' id', 'trace', 'queued_at', 'ID', 'Priority', 'pri"ority', 'gr\\oup', 'time\nout', 'i\td', '"id"'];
const ESCAPED: Record<string, string> = { priority: '\\u0070riority', group: 'gr\\u006fup', id: '\\u0069d', function: 'f\\u0075nction', manual_end: 'manual\\u005fend' };

/** one key and value of the entry's tail, as text */
const member = fc
  .tuple(fc.constantFrom(...KEYS), fc.jsonValue({ maxDepth: 2 }), fc.boolean(), fc.constantFrom('', ' ', '\n'))
  .map(([k, v, escape, space]) => {
    const key = escape && ESCAPED[k] ? `"${ESCAPED[k]}"` : JSON.stringify(k);
    return `${space}${key}${space}:${space}${JSON.stringify(v ?? null)}`;
  });

/** the data: plain, holding a key the judge reads (manual_end in data counts), or a string of JSON */
const data = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v ?? null)),
  fc.constantFrom('{"manual_end":true}', '"{\\"manual_end\\":true}"', '{"x":{"priority":5}}', '"group"', '["id"]', '{"a":"\\u0067roup"}'),
  fc.integer({ min: 990, max: 1010 }).map((k) => '['.repeat(k) + ']'.repeat(k)),
);

/** an entry of Client's form (`{"id":..,"function":..,"data":..`), then a tail of members and an end */
const entry = fc
  .tuple(fc.constantFrom(...IDS), fc.constantFrom(...FNS), data, fc.array(member, { maxLength: 3 }), fc.constantFrom('}', '}', '}', '', '}}', '} x', ',}', '  }'))
  .map(([id, fn, d, members, end]) => `{"id":${JSON.stringify(id)},"function":${JSON.stringify(fn)},"data":${d}${members.map((m) => `,${m}`).join('')}${end}`);

describe('an entry read without being decoded', () => {
  it('reads the id and function cjson and JSON.parse read, and only when neither finds an option to follow', async () => {
    const texts = fc.sample(entry, { numRuns: 4000, seed: 11 });
    const queued = [...new Set(texts.map((t) => /^\{"id":"([^"\\]+)"/.exec(t)?.[1]).filter((id): id is string => id !== undefined))];
    const readings = await readAll(texts, queued);
    const wrong: { raw: string; why: string }[] = [];
    for (const r of readings) {
      if (!r.read) continue;
      const p = parse(r.raw);
      // text JSON.parse refuses: the worker parks it (docs/semantics.md); nothing more to compare
      if (!p) continue;
      if (!r.decoded) wrong.push({ raw: r.raw, why: 'read undecoded, but cjson refuses what JSON.parse reads' });
      else if (r.cjsonId !== r.id || r.cjsonFn !== r.fn) wrong.push({ raw: r.raw, why: `cjson reads ${r.cjsonId}/${r.cjsonFn}` });
      else if (r.says !== '') wrong.push({ raw: r.raw, why: `the judge would follow or check ${r.says}` });
      else if (p.id !== r.id || p.function !== r.fn) wrong.push({ raw: r.raw, why: `JSON.parse reads ${String(p.id)}/${String(p.function)}` });
    }
    expect(wrong.map((w) => ({ ...w, raw: w.raw.slice(0, 200) }))).toEqual([]);
    // (the generator reaches both sides: entries read undecoded, and entries left to the judge)
    expect(readings.filter((r) => r.read && parse(r.raw)).length).toBeGreaterThan(200);
    expect(readings.filter((r) => !r.read && r.says !== '').length).toBeGreaterThan(200);
  });

  it('is never read when its id is not queued', async () => {
    const texts = fc.sample(entry, { numRuns: 500, seed: 12 });
    const readings = await readAll(texts, []);
    expect(readings.filter((r) => r.read)).toEqual([]);
  });
});
