/**
 * The scripts run as one function library (src/scripts.ts): its helpers are defined once, at
 * load, and live across calls, so what a helper remembers within a call must be forgotten before
 * the next (lib/call-state.lua); and a Redis that lost the library (FUNCTION FLUSH, a restart
 * without persistence, a replica promoted before it had it) gets it again, the calls that found
 * it missing sent again, in pipelines too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { claim, claimArgs, claimKeys, parseClaim, submit, submitCallArgs } from '../src/effects/queue.js';
import { setLimit } from '../src/effects/limits.js';
import { execPipeline, library, loadLibrary, pipeScript, scriptPipeline } from '../src/scripts.js';
import { Client, Worker } from '../src/index.js';
import { redisPerFile } from './helpers/suite.js';
import type { RedisServer } from './helpers/redis-server.js';
import { keysFor, requestFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const entry = (id: string, fn = 'f') => JSON.stringify({ id, function: fn });

async function libraries(): Promise<string[]> {
  const list = (await redis.function('LIST')) as unknown[][];
  return list.map((lib) => String(lib[lib.indexOf('library_name') + 1]));
}

describe('the script library', () => {
  it('reads Redis clock anew in every call: the time one call read is not the next call time', async () => {
    const keys = keysFor('clock:');
    await submit(redis, keys, 'a', entry('a'));
    const first = await claim(redis, keys, requestFor('w:1', 1, 10_000, ['f']));
    await new Promise((r) => setTimeout(r, 40));
    await submit(redis, keys, 'b', entry('b'));
    const second = await claim(redis, keys, requestFor('w:1', 1, 10_000, ['f']));
    expect(first.claimed.map((t) => t.id)).toEqual(['a']);
    expect(second.claimed.map((t) => t.id)).toEqual(['b']);
    expect(second.now - first.now).toBeGreaterThanOrEqual(35);
  });

  it('reads the limits anew in every call: a claim that saw no limit leaves nothing to the next', async () => {
    const limited = keysFor('limited:');
    const free = keysFor('free:');
    await setLimit(redis, limited, { function: 'f' }, { concurrency: 1 });
    for (const id of ['a', 'b']) await submit(redis, limited, id, entry(id));
    await submit(redis, free, 'x', entry('x'));
    expect((await claim(redis, limited, requestFor('w:1', 5, 10_000, ['f']))).claimed.map((t) => t.id)).toEqual(['a']);
    // (this claim learns that its swarm has no limit at all: kept past the call, the next claim
    // would skip the limit of its own)
    expect((await claim(redis, free, requestFor('w:1', 5, 10_000, ['f']))).claimed.map((t) => t.id)).toEqual(['x']);
    expect((await claim(redis, limited, requestFor('w:1', 5, 10_000, ['f']))).claimed).toEqual([]);
  });

  it('is loaded again when Redis lost it (FUNCTION FLUSH): a running worker and a client go on, nothing lost', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    const w = new Worker({ port: 0, redis: o, fetchTaskInterval: 200, logger: quiet });
    cleanup.push(
      () => c.close(),
      () => w.stop(),
    );
    w.addTaskFunction('f', (t) => t.data);
    await w.start();
    expect(await c.wait(await c.submit('f', 1), { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 1 });
    for (let round = 2; round <= 4; round++) {
      await redis.function('FLUSH');
      expect(await libraries()).toEqual([]);
      // the submit finds the library missing, and so does the idle worker's next wait-and-claim
      expect(await c.wait(await c.submit('f', round), { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: round });
      expect(await libraries()).toEqual([library().name]);
    }
  });

  it('sends a pipeline script that Redis did not find again once the library is loaded, in order, beside the commands that ran', async () => {
    const keys = keysFor('pipe:');
    await loadLibrary(redis);
    await redis.function('FLUSH');
    const pipe = scriptPipeline(redis);
    pipe.ping();
    pipeScript(pipe, 'submit', [keys.queued, keys.newQueue], [...submitCallArgs(keys, 'all'), 'a', entry('a'), '', '', 0, '', '', '']);
    const request = requestFor('w:1', 5, 10_000, ['f']);
    pipeScript(pipe, 'claim', claimKeys(keys, request), claimArgs(keys, request));
    pipe.echo('after');
    const replies = await execPipeline(pipe);
    expect(replies.map(([e]) => e)).toEqual([null, null, null, null]);
    expect(replies[0]![1]).toBe('PONG');
    expect(replies[1]![1]).toEqual([1]);
    // the claim, sent again after the submit, found the task the submit queued
    expect(parseClaim(replies[2]![1]).claimed.map((t) => t.id)).toEqual(['a']);
    expect(replies[3]![1]).toBe('after');
  });

  it('lets two versions live side by side: each is named by its code', async () => {
    await loadLibrary(redis);
    const other = library().code.replace(/taskswarm_[0-9a-f]+/g, 'taskswarm_000000000000').replace(/ts_[0-9a-f]+_/g, 'ts_000000000000_');
    await redis.function('LOAD', other);
    expect((await libraries()).sort()).toEqual([library().name, 'taskswarm_000000000000'].sort());
    await redis.function('DELETE', 'taskswarm_000000000000');
    expect(library().name).toMatch(/^taskswarm_[0-9a-f]{12}$/);
  });
});

describe('the helpers of src/lua/lib', () => {
  it('register every value they keep across a call to be forgotten before the next (lib/call-state.lua)', () => {
    const dir = new URL('../src/lua/lib/', import.meta.url);
    const kept: string[] = [];
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.lua'))) {
      const text = readFileSync(new URL(f, dir), 'utf8');
      const forgotten = [...text.matchAll(/onEachCall\(function\(\)([\s\S]*?)end\)/g)].map((m) => m[1]).join('\n');
      // a top-level variable (not a function, not a CONSTANT) is state that lives across calls
      // (every name of a `local a, b = ...` at the top level); but a memo of a pure function
      // (a key's name from its parts), said so on its line, may: what it keeps is true in any call;
      // and so may a cache of what Redis held, said so on its line, that every use checks against
      // Redis first (lib/plain-window.lua)
      for (const [, names, rest] of text.matchAll(/^local (?!function)([A-Za-z_][\w, ]*?)\s*(?:=|$)(.*)$/gm)) {
        if (/-- memo: a pure function's results, bounded$/.test(rest!)) continue;
        if (/-- cache: checked against Redis at every use, bounded$/.test(rest!)) continue;
        for (const name of names!.split(',').map((n) => n.trim())) {
          if (name === name.toUpperCase() || name === 'forgetters') continue;
          if (!new RegExp(`\\b${name}\\s*[=,]`).test(forgotten)) kept.push(`${f}: ${name}`);
        }
      }
    }
    expect(kept).toEqual([]);
  });
});
