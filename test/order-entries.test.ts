/**
 * Entries pushed to new-task by hand, in the seed's form, with "priority" and "group" (issue 9):
 * they follow the rules tasks submitted through Client follow (priority within a group, groups
 * take turns), and one whose priority or group Client.submit would refuse is parked with reason
 * bad_option, alone: the entries pushed with it run.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, ConfigError } from '../src/index.js';
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
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  const rec = recorder();
  const w = recordingWorker(o, 'f', rec);
  cleanup.push(() => w.stop());
  await w.start();
  return { o, c, rec };
}

const entry = (id: string, fields: string) => `{"id":"${id}","function":"f","data":"{}"${fields}}`;

describe('hand-pushed entries with "priority" and "group"', () => {
  it('in one push: groups take turns in the order they came, each by priority then FIFO; 1e3, 2.0, -0 and null read as JSON.parse reads them', async () => {
    const { o, rec } = await setup();
    const entries = [
      entry('a1', ',"group":"A"'),
      entry('a2', ',"group":"A","priority":2.0'),
      entry('n1', ''),
      entry('b1', ',"group":"B","priority":-0'),
      entry('a3', ',"group":"A","priority":1e3'),
      entry('b2', ',"group":"B","priority":1000'),
      entry('n2', ',"group":null,"priority":null'),
      entry('b3', ',"group":"B","priority":-1000'),
    ];
    await pushEntries(redis, o.keyPrefix, entries);
    await rec.started(entries.length);
    // A came first, then no group, then B
    expect(rec.ids()).toEqual(['a3', 'n1', 'b2', 'a2', 'n2', 'b1', 'a1', 'b3']);
  });

  it('whatever Client.submit refuses as a priority or a group is parked, reason bad_option; the entries pushed with it run', async () => {
    const { o, c, rec } = await setup();
    const bad: [string, string][] = [
      ['p-above', ',"priority":1001'],
      ['p-below', ',"priority":-1001'],
      ['p-fraction', ',"priority":0.5'],
      ['p-string', ',"priority":"5"'],
      ['p-bool', ',"priority":true'],
      ['p-array', ',"priority":[1]'],
      ['p-object', ',"priority":{"n":1}'],
      ['p-huge', ',"priority":1e400'],
      ['g-empty', ',"group":""'],
      ['g-long', `,"group":"${'g'.repeat(129)}"`],
      ['g-long-utf8', `,"group":"${'é'.repeat(65)}"`],
      ['g-number', ',"group":42'],
      ['g-bool', ',"group":false'],
      ['g-array', ',"group":["A"]'],
      ['g-object', ',"group":{}'],
    ];
    // what Client.submit says of each (the same values, given to it)
    for (const [id, fields] of bad) {
      const opts = JSON.parse(`{${fields.slice(1)}}`) as Record<string, unknown>;
      await expect(c.submit('f', null, { id, ...opts }), id).rejects.toThrow(ConfigError);
    }
    const good = [entry('ok-1', ',"group":"é"'), entry('ok-2', `,"group":"${'é'.repeat(64)}","priority":-1000`)];
    await pushEntries(redis, o.keyPrefix, [good[0]!, ...bad.map(([id, fields]) => entry(id, fields)), good[1]!]);
    await rec.started(2);
    expect(rec.ids().sort()).toEqual(['ok-1', 'ok-2']);
    await until(async () => (await c.deadLetters({ limit: 100 })).length >= bad.length, 'every bad entry parked');
    const dead = await c.deadLetters({ limit: 100 });
    const reasons = Object.fromEntries(dead.map((d) => [d.id, d.reason]));
    expect(reasons).toEqual(Object.fromEntries(bad.map(([id]) => [id, 'bad_option'])));
    for (const d of dead) {
      expect(d.message, d.id).toMatch(d.id!.startsWith('p-') ? /"priority" must be an integer from -1000 to 1000/ : /"group" must be a string of/);
      expect(d.code).toBe('ERR_INVALID_TASK');
    }
    // nothing else was started, or lost
    await new Promise((r) => setTimeout(r, 200));
    expect(rec.starts).toHaveLength(2);
  });
});

describe('a task placed by Client.submit (group or priority) over the workers\' maxPayloadBytes', () => {
  it('is parked too_large when claimed, recorded on the task, and the tasks placed with it run', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const rec = recorder();
    const w = recordingWorker(o, 'f', rec, { maxPayloadBytes: 2048 });
    cleanup.push(() => w.stop());
    // placed before any worker saw them: no worker checked their size on the way in
    await c.submit('f', 'x'.repeat(5000), { id: 'big', group: 'G' });
    await c.submit('f', 'small', { id: 'small', group: 'G' });
    await w.start();
    expect(await c.wait('small', { timeout: 5_000 })).toMatchObject({ outcome: 'succeeded' });
    const big = await c.wait('big', { timeout: 5_000 });
    expect(big).toMatchObject({ state: 'END', outcome: 'failed', parked: { reason: 'too_large' } });
    expect(rec.ids()).toEqual(['small']);
    const [letter] = await c.deadLetters({ limit: 1 });
    expect(letter).toMatchObject({ reason: 'too_large', id: 'big', task: true });
  });
});
