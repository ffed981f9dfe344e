/**
 * A task's history is bounded: past 64 KiB its oldest records are dropped, whole, as each new one
 * is appended. Every END that retries a task rewrites its whole history in one Lua step (decoded,
 * then written), Redis blocked meanwhile: a task of 1,000 attempts whose function threw 1 KiB
 * errors grew a history of about 1 MB, rewritten at each retry. What is left is the latest
 * attempts, consecutive, their numbers saying which they are.
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const HISTORY_MAX_BYTES = 65536;

describe("a task's history", () => {
  it('keeps its latest attempts within 64 KiB, each whole and in order, where it grew by each retry', { timeout: 60_000 }, async () => {
    const o = server.options();
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 1 });
    const c = new Client({ redis: o });
    cleanup.push(() => c.close(), () => w.stop());
    // (a message of 3,000 bytes: with its stack, which repeats it, each record is about 6.5 KB,
    // and 60 attempts would make about 380 KB)
    w.addTaskFunction('flaky', async (t) => {
      throw Object.assign(new Error(`${'x'.repeat(3000)} attempt ${t.attempt}`), { code: 'E_FLAKY' });
    });
    await w.start();
    const id = await c.submit('flaky', null, { attempts: 60 });
    const end = await c.wait(id, { timeout: 50_000 });
    expect(end).toMatchObject({ outcome: 'failed', attempt: 60 });

    const stored = await server.client().hget(`${o.keyPrefix}task-${id}`, 'history');
    expect(Buffer.byteLength(stored!)).toBeLessThanOrEqual(HISTORY_MAX_BYTES);
    const records = JSON.parse(stored!) as { attempt: number; outcome: string; error: { message: string; code: string } }[];
    // the latest, consecutive, up to the one before the last (the last is the hash's own fields)
    const attempts = records.map((r) => r.attempt);
    expect(attempts.at(-1)).toBe(59);
    expect(attempts[0]).toBeGreaterThan(1);
    expect(attempts).toEqual(Array.from({ length: attempts.length }, (_, i) => attempts[0]! + i));
    for (const r of records) expect(r).toMatchObject({ outcome: 'failed', error: { code: 'E_FLAKY', message: expect.stringMatching(new RegExp(`attempt ${r.attempt}$`)) } });
    // and get() reads it as it always has, the final attempt added
    const t = await c.get(id);
    expect(t!.history!.map((r) => r.attempt)).toEqual([...attempts, 60]);
  });
});
