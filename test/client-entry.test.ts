/**
 * An entry whose id is in `new-task:queued` (written by Client.submit) is read by a claim without
 * being decoded only when nothing in it could say more than its id and function
 * (src/lua/lib/client-entry.lua). Each entry here sits under such an id, as a hand-written or
 * edited entry could, and says more: an option, a second id, an escaped key. Each must be read
 * as JSON.parse reads it, exactly as the same entry under an id Client never wrote is.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import { keysFor } from './properties/harness.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { pushEntries, recorder, recordingWorker } from './helpers/order.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

/** a worker of concurrency 1 for f, started before anything is pushed */
async function setup() {
  const o = server.options();
  const rec = recorder();
  const w = recordingWorker(o, 'f', rec);
  cleanup.push(() => w.stop());
  await w.start();
  return { o, rec };
}

/** push `entries` (oldest first) with each id marked queued first, as Client.submit marks its own */
async function pushAsClient(keyPrefix: string, entries: [string, string][]): Promise<void> {
  await redis.sadd(keysFor(keyPrefix).queued, ...entries.map(([id]) => id));
  await pushEntries(redis, keyPrefix, entries.map(([, e]) => e));
}

const entry = (id: string, fields: string) => `{"id":"${id}","function":"f","data":{}${fields}}`;

describe('an entry under an id Client marked queued', () => {
  it('with "priority" and "group" follows them: groups take turns in the order they came, each by priority', async () => {
    const { o, rec } = await setup();
    const entries: [string, string][] = [
      ['a1', entry('a1', ',"group":"A"')],
      ['a2', entry('a2', ',"group":"A","priority":2')],
      ['n1', entry('n1', '')],
      ['b1', entry('b1', ',"group":"B"')],
      ['a3', entry('a3', ',"priority":1000,"group":"A"')],
      ['b2', entry('b2', ',"group":"B","priority":1000')],
    ];
    await pushAsClient(o.keyPrefix, entries);
    await rec.started(entries.length);
    expect(rec.ids()).toEqual(['a3', 'n1', 'b2', 'a2', 'b1', 'a1']);
  });

  it('with a key spelled by an escape ("\\u0070riority") follows it as JSON.parse reads it', async () => {
    const { o, rec } = await setup();
    const entries: [string, string][] = [
      ['e1', entry('e1', '')],
      ['e2', entry('e2', ',"\\u0070riority":5')],
      ['e3', entry('e3', '')],
    ];
    await pushAsClient(o.keyPrefix, entries);
    await rec.started(3);
    expect(JSON.parse(entries[1]![1]).priority).toBe(5);
    expect(rec.ids()).toEqual(['e2', 'e1', 'e3']);
    expect(await redis.hget(keysFor(o.keyPrefix).task('e2'), 'priority')).toBe('5');
  });

  it('with an option Client.submit refuses is parked bad_option, and the entries around it run', async () => {
    const { o, rec } = await setup();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const entries: [string, string][] = [
      ['ok-1', entry('ok-1', '')],
      ['bad-priority', entry('bad-priority', ',"priority":1001')],
      ['bad-attempts', entry('bad-attempts', ',"attempts":0')],
      ['bad-group', entry('bad-group', ',"group":""')],
      ['ok-2', entry('ok-2', '')],
    ];
    await pushAsClient(o.keyPrefix, entries);
    await rec.started(2);
    await until(async () => (await c.deadLetters()).length >= 3, 'three entries parked', 10_000, 20);
    const parked = await c.deadLetters();
    expect(parked.map((d) => [d.id, d.reason]).sort()).toEqual([
      ['bad-attempts', 'bad_option'],
      ['bad-group', 'bad_option'],
      ['bad-priority', 'bad_option'],
    ]);
    expect(rec.ids()).toEqual(['ok-1', 'ok-2']);
  });

  it('with "manual_end" is kept after its end, as the flag asks', async () => {
    const { o, rec } = await setup();
    await pushAsClient(o.keyPrefix, [['m1', entry('m1', ',"manual_end":true')]]);
    await rec.started(1);
    expect(await redis.hget(keysFor(o.keyPrefix).task('m1'), 'manual_end')).toBe('1');
  });

  it('with a second "id" runs under the id JSON.parse reads (the last), never under the first', async () => {
    const { o, rec } = await setup();
    const raw = `{"id":"first","function":"f","data":{},"id":"second"}`;
    await pushAsClient(o.keyPrefix, [['first', raw]]);
    await rec.started(1);
    expect(JSON.parse(raw).id).toBe('second');
    expect(rec.ids()).toEqual(['second']);
  });

  it('that says nothing more runs, in the order pushed', async () => {
    const { o, rec } = await setup();
    const entries: [string, string][] = Array.from({ length: 20 }, (_, i) => [`p${i}`, entry(`p${i}`, `,"queued_at":${i}`)]);
    await pushAsClient(o.keyPrefix, entries);
    await rec.started(entries.length);
    expect(rec.ids()).toEqual(entries.map(([id]) => id));
  });
});
