/**
 * lib/strict-json.lua decides, inside the claim, whether an entry cjson decoded is JSON as
 * JSON.parse reads it. Its fast path (plainJson: a few string.find over the whole text) may
 * only ever say yes to what the full scan (scanJsonProblem) accepts; it is checked here on
 * generated text, above all the lenient forms cjson accepts (NaN, Infinity, hex, +1, 01, 1., raw
 * control characters inside strings) dropped into valid JSON, run in a real Redis.
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

// (with what it includes: lib/quote.lua)
const LIB = `#!lua name=tsstrictjsontest
${readFileSync(new URL('../src/lua/lib/quote.lua', import.meta.url), 'utf8')}
${readFileSync(new URL('../src/lua/lib/strict-json.lua', import.meta.url), 'utf8')}
redis.register_function('tsstrictjson_check', function(_, texts)
  local out = {}
  for i, raw in ipairs(texts) do
    local decoded = pcall(cjson.decode, raw)
    out[i] = { decoded and 1 or 0, plainJson(raw) and 1 or 0, scanJsonProblem(raw) or '' }
  end
  return out
end)`;

type Verdict = { decoded: boolean; plain: boolean; problem: string };
async function judge(texts: string[]): Promise<Verdict[]> {
  await redis.function('LOAD', 'REPLACE', LIB);
  const rows = (await redis.fcall('tsstrictjson_check', 0, ...texts)) as [number, number, string][];
  return rows.map(([d, p, problem]) => ({ decoded: d === 1, plain: p === 1, problem }));
}

/** what a lenient decoder takes and JSON.parse refuses, or JSON.parse takes in other spellings */
const LENIENT = ['NaN', 'Infinity', '-Infinity', '0x1F', '+1', '01', '-01', '1.', '.5', '1e5', '-0', '0', '1.5', 'true', 'null', ' 1', '1 ', '\t2', '"a\\"b"', '"\\u0041"', '"a\u0001b"', '"tab\there"', '"nl\nx"'];

/** valid JSON text with, maybe, one lenient token in place of a value */
const text = fc
  .tuple(fc.jsonValue({ maxDepth: 3 }), fc.option(fc.constantFrom(...LENIENT), { nil: undefined }), fc.nat())
  .map(([v, swap, at]) => {
    const json = JSON.stringify({ id: 'x', function: 'f', data: v });
    if (swap === undefined) return json;
    const values = [...json.matchAll(/-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*"|true|false|null/g)];
    const m = values[at % values.length]!;
    return json.slice(0, m.index) + swap + json.slice(m.index! + m[0].length);
  });

describe('strict JSON: the fast path', () => {
  it('says an entry is plain only when the full scan finds nothing wrong', async () => {
    const texts = fc.sample(text, { numRuns: 3000, seed: 7 });
    const verdicts = await judge(texts);
    const wrong = texts.filter((_, i) => verdicts[i]!.decoded && verdicts[i]!.plain && verdicts[i]!.problem !== '');
    expect(wrong).toEqual([]);
    // (and the generator reaches both sides: lenient texts the scan refuses, plain texts it takes)
    expect(verdicts.filter((v) => v.decoded && v.problem !== '').length).toBeGreaterThan(100);
    expect(verdicts.filter((v) => v.plain).length).toBeGreaterThan(100);
  });

  it('refuses each lenient form cjson accepts, in a key, a value, an array and nested', async () => {
    // (the last ones put a raw control character next to an escaped quote, where a pass that
    // pairs quotes without reading escapes would pair them wrongly)
    const forms = ['NaN', 'Infinity', '-Infinity', '0x1F', '+1', '01', '-01', '1.', '"a\u0001b"', '"tab\there"', '"\\"\u0001"', '"\u0001\\""', '"\\",1,"\u0002"'];
    const texts = forms.flatMap((f) => [`{"id":"x","function":"f","data":${f}}`, `{"id":"x","function":"f","data":[1,${f},2]}`, `{"id":"x","function":"f","data":{"a":{"b":${f}}}}`]);
    const verdicts = await judge(texts);
    const accepted = texts.filter((_, i) => verdicts[i]!.decoded && (verdicts[i]!.plain || verdicts[i]!.problem === ''));
    expect(accepted).toEqual([]);
  });

  it('takes the fast path for the entries Client writes: ids, names, integers and strings', async () => {
    const texts = [
      JSON.stringify({ id: 'V1StGXR8_Z5jdHi6B-myT', function: 'noop', data: { i: 123 } }),
      JSON.stringify({ id: 'a', function: 'resize', data: { url: 'https://x/y.png', sizes: [64, 128, -1, 0] } }),
      JSON.stringify({ id: 'b', function: 'f', data: 'text', attempts: 3, timeout: 5000 }),
    ];
    expect((await judge(texts)).map((v) => v.plain)).toEqual([true, true, true]);
  });
});
