/**
 * `jsonChangesInside` (src/wire.ts) walks a value where JSON.stringify goes and names the first
 * thing JSON would change without an error: it answers as JSON.stringify's own walk does (a
 * replacer that looks at each value it is handed, the way it was written before), for values
 * drawn at random from every kind the walk tells apart, and for the cases drawn by hand where the
 * two walks could part (toJSON with its key, values read through getters, proxies, holes).
 */
import { describe, expect, it } from 'vitest';
import { jsonChangesInside } from '../src/wire.js';
import { quote } from '../src/quote.js';

/** JSON.stringify's own walk: a replacer that looks at each value as JSON is about to write it */
function byStringify(v: unknown): string | undefined {
  let found: string | undefined;
  const at = (k: string) => (k === '' ? '' : ` (at ${quote(k)})`);
  JSON.stringify(v, function (this: unknown, k: string, x: unknown) {
    if (found !== undefined) return x;
    if (typeof x === 'number' && !Number.isFinite(x)) found = `the number ${x}${at(k)}, which JSON would write as null`;
    else if ((typeof x === 'function' || typeof x === 'symbol') && Array.isArray(this)) {
      found = `${typeof x === 'function' ? 'a function' : 'a Symbol'}${at(k)} inside an array, which JSON would write as null`;
    } else if (x instanceof Map && x.size > 0) found = `a Map with entries${at(k)}, which JSON would write as {}`;
    else if (x instanceof Set && x.size > 0) found = `a Set with members${at(k)}, which JSON would write as {}`;
    return x;
  });
  return found;
}

/** a seeded draw (mulberry32), so that a failure names the seed that made it */
function draws(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** a value of every kind the walk tells apart, nested up to `depth` */
function value(r: () => number, depth: number): unknown {
  const pick = Math.floor(r() * (depth > 0 ? 16 : 10));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return r() < 0.8 ? Math.floor(r() * 100) : [NaN, Infinity, -Infinity][Math.floor(r() * 3)];
    case 2:
      return `s${Math.floor(r() * 10)}`;
    case 3:
      return r() < 0.5;
    case 4:
      return undefined;
    case 5:
      return r() < 0.5 ? () => 1 : Symbol('s');
    case 6:
      return r() < 0.5 ? new Map() : new Set();
    case 7:
      return r() < 0.5 ? new Map([[1, 2]]) : new Set([1]);
    case 8:
      return new Date(Math.floor(r() * 1e12));
    case 9:
      return r() < 0.5 ? new Number(r() < 0.5 ? NaN : 3) : new String('ab');
    case 10:
    case 11: {
      const a: unknown[] = [];
      const n = Math.floor(r() * 4);
      for (let i = 0; i < n; i++) a.push(value(r, depth - 1));
      if (r() < 0.1) a.length += 1; // a hole
      return a;
    }
    case 12:
    case 13: {
      const o: Record<string, unknown> = {};
      const n = Math.floor(r() * 4);
      for (let i = 0; i < n; i++) o[`k${i}`] = value(r, depth - 1);
      return o;
    }
    case 14: {
      // a toJSON that gives another value, told the key it is asked for
      const inner = value(r, depth - 1);
      return { toJSON: (k: string) => (k === '1' ? NaN : inner) };
    }
    default: {
      const inner = value(r, depth - 1);
      return r() < 0.5 ? new Proxy(Array.isArray(inner) ? inner : [inner], {}) : { get g() { return inner; } };
    }
  }
}

describe('jsonChangesInside answers as JSON.stringify\'s own walk does', () => {
  it('for 20,000 values drawn at random', () => {
    let found = 0;
    for (let seed = 1; seed <= 20_000; seed++) {
      const v = value(draws(seed), 4);
      let json: string;
      try {
        json = JSON.stringify(v) ?? '';
      } catch {
        continue;
      }
      const want = byStringify(v);
      // (the walk runs where the text shows a trace: where it does not, nothing is there to find)
      expect(jsonChangesInside(v, `${json} null`), `seed ${seed}`).toBe(want);
      if (want !== undefined) found++;
    }
    // (the draws do reach what the walk finds, not only clean values)
    expect(found).toBeGreaterThan(2000);
  });

  it('for the cases drawn by hand', () => {
    const cases: unknown[] = [
      NaN,
      [1, [2, [3, Infinity]]],
      { a: { toJSON: () => NaN } },
      { a: [1, { toJSON: (k: string) => (k === 'b' ? 1 : -Infinity) }] },
      [() => 1],
      { f: () => 1, s: Symbol('x'), u: undefined },
      [Symbol('y')],
      { m: new Map([[1, 1]]) },
      [new Set([1])],
      { toJSON: () => ({ inner: [NaN] }) },
      // eslint-disable-next-line no-sparse-arrays -- a hole, as JSON reads one
      [, NaN],
      new Proxy([1, NaN], {}),
      { get n() { return Infinity; } },
      Object.assign(Object.create({ inherited: NaN }), { own: 1 }),
      Object.defineProperty({ shown: 1 }, 'hidden', { value: NaN, enumerable: false }),
      { [Symbol('k')]: NaN, plain: null },
      [new Number(NaN)],
    ];
    for (const v of cases) expect(jsonChangesInside(v, 'null'), JSON.stringify(v) ?? String(v)).toBe(byStringify(v));
  });

  it('reaches as deep as JSON.stringify itself does', () => {
    let v: unknown = [NaN];
    for (let i = 0; i < 3000; i++) v = [v];
    expect(jsonChangesInside(v, 'null')).toMatch(/^the number NaN \(at "0"\)/);
  });
});
