/**
 * Every number the command line takes is read by one rule (src/cli/values.ts INTEGER): decimal
 * digits, "-" before a negative one, nothing else. `--priority ' 5'` (a quoted variable with a
 * space in it) was taken as 5, and `--every 010` as 10, while `--run-at ' 5'` and
 * `--rate '100 / 1s'` each had a looser rule of their own. Each such value is now refused in one
 * line naming the flag, the value as typed, and how to write it; nothing is written.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { cliSwarm, expectOneLine } from './helpers/cli.js';

let server: RedisServer;
let redis: Redis;
let n = 0;

redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const swarm = () => cliSwarm(server, redis, `plainnum${++n}:`);

/** the line's start for a value refused by the rule: the flag, then the value quoted as typed */
const said = (flag: string, shown: string) => new RegExp(`^task-swarm: ${flag.replace(/[[\]]/g, '\\$&')} must be (an integer|an ISO 8601 time or epoch ms|max/ms[^\\n]*), got ${JSON.stringify(shown).replace(/[+.]/g, '\\$&')}`);

describe('a number written loosely is refused, whatever the flag', () => {
  it.each([
    [['submit', 'f', '--priority', ' 5'], '--priority', ' 5', ': write 5, without spaces'],
    [['submit', 'f', '--priority', '5 '], '--priority', '5 ', ': write 5, without spaces'],
    [['submit', 'f', '--priority', '+5'], '--priority', '+5', ': write 5, without a "+"'],
    [['submit', 'f', '--priority=-0'], '--priority', '-0', ': write 0, without a "-" on 0'],
    [['submit', 'f', '--attempts', '03'], '--attempts', '03', ': write 3, without leading zeros'],
    [['submit', 'f', '--timeout', '\t100'], '--timeout', '\\t100', ': write 100, without spaces'],
    [['submit', 'f', '--delay', ' 100 '], '--delay', ' 100 ', ': write 100, without spaces'],
    [['submit', 'f', '--run-at', ' 5'], '--run-at', ' 5', ': write 5, without spaces'],
    [['submit', 'f', '--run-at', '0100'], '--run-at', '0100', ': write 100, without leading zeros'],
    [['submit', 'f', '--backoff', ' 100'], '--backoff', ' 100', ': write 100, without spaces'],
    [['submit', 'f', '--backoff', 'exponential:050'], '--backoff delay', '050', ': write 50, without leading zeros'],
    [['submit', 'f', '--wait', '--wait-timeout', '+10'], '--wait-timeout', '+10', ': write 10, without a "+"'],
    [['schedule', 'n', 'f', '--every', '010'], '--every', '010', ': write 10, without leading zeros'],
    [['limit', 'f', '--concurrency', ' 2'], '--concurrency', ' 2', ': write 2, without spaces'],
    [['limit', 'f', '--rate', '100 / 1s'], '--rate', '100 / 1s', ''],
    [['limit', 'f', '--rate', '100/01s'], '--rate', '100/01s', ''],
    [['dead', '--limit', ' 1'], '--limit', ' 1', ': write 1, without spaces'],
    [['status', '--redis-durable-timeout', '1000 '], '--redis-durable-timeout', '1000 ', ': write 1000, without spaces'],
    [['status', '--redis-durable', ' 1'], '--redis-durable', ' 1', ': write 1, without spaces'],
    [['monitor', '--task-timeout', ' 3000'], '--task-timeout', ' 3000', ': write 3000, without spaces'],
    [['dashboard', '--port', ' 8080'], '--port', ' 8080', ': write 8080, without spaces'],
    // (an exponent, as one writes a large ms value: refused, with the integer it stands for)
    [['submit', 'f', '--delay', '1e3'], '--delay', '1e3', ': write 1000, without an exponent'],
    [['schedule', 'n', 'f', '--every', '6E4'], '--every', '6E4', ': write 60000, without an exponent'],
    [['submit', 'f', '--run-at', '1.7e12'], '--run-at', '1.7e12', ': write 1700000000000, without an exponent'],
    [['submit', 'f', '--delay', '1e30'], '--delay', '1e30', ''],
  ])('%j', async (argv, flag, shown, hint) => {
    const s = swarm();
    const r = await s.run(...argv);
    expectOneLine(r, 2, said(flag, shown));
    expect(r.stderr.endsWith(`${hint}\n`), r.stderr).toBe(true);
    expect(await s.keys()).toEqual([]);
    await s.client.close();
  });

  // (epoch ms past the last time a Date holds passed the flag, and the library refused it as
  // "submit: runAt must be a valid Date or epoch ms", naming no flag)
  it('--run-at past the last time a date holds is refused, naming the flag', async () => {
    const s = swarm();
    expectOneLine(await s.run('submit', 'f', '--run-at', '8640000000000001'), 2, /^task-swarm: --run-at must be at most 8640000000000000 epoch ms \(\+275760-09-13T00:00:00\.000Z, the last time a date holds\), got "8640000000000001"$/m);
    expect(await s.keys()).toEqual([]);
    expect(await s.run('submit', 'f', '--id', 'last', '--run-at', '8640000000000000')).toMatchObject({ code: 0, stdout: 'last\n' });
    await s.client.close();
  });

  // (--backoff is in ms as --delay is, but its refusal told nothing of 5s or 1e3)
  it.each([
    ['5s', ': a number of ms (5s is 5000)'],
    ['1e3', ': write 1000, without an exponent'],
  ])('--backoff %s is refused, told how to write it', async (raw, hint) => {
    const s = swarm();
    expectOneLine(await s.run('submit', 'f', '--backoff', raw), 2, new RegExp(`^task-swarm: --backoff must be ms \\(fixed\\) or exponential:ms\\[:max\\], got "${raw}"${hint.replace(/[()]/g, '\\$&')}$`, 'm'));
    expect(await s.keys()).toEqual([]);
    await s.client.close();
  });

  it('a dead letter key written loosely is refused as no key, not looked up', async () => {
    const s = swarm();
    expectOneLine(await s.run('retry-dead', '01'), 2, /^task-swarm: retry-dead: a dead letter's key is a number, as listed by `task-swarm dead`; got "01"$/m);
    await s.client.close();
  });

  it('the same numbers written plainly are taken', async () => {
    const s = swarm();
    const r = await s.run('submit', 'f', '--id', 'plain', '--priority=-5', '--attempts', '3', '--timeout', '100', '--delay', '0', '--backoff', 'exponential:50:100');
    expect(r).toMatchObject({ code: 0, stdout: 'plain\n', stderr: '' });
    expect(await s.client.get('plain')).toMatchObject({ priority: -5 });
    expect(await s.run('limit', 'f', '--concurrency', '2', '--rate', '100/1s')).toMatchObject({ code: 0 });
    await s.client.close();
  });

  // (a negative number is no flag: `--priority -5` was refused as "option --priority needs a
  // value (one starting with "-" goes as --priority=-value)", for a flag that takes -1000 to 1000)
  it('a negative number given after its flag, as one types it, is its value', async () => {
    const s = swarm();
    expect(await s.run('submit', 'f', '--id', 'neg', '--priority', '-5')).toMatchObject({ code: 0, stdout: 'neg\n', stderr: '' });
    expect(await s.client.get('neg')).toMatchObject({ priority: -5 });
    // out of bounds, or no integer, it is refused by the flag's own rule, named
    expectOneLine(await s.run('submit', 'f', '--priority', '-1001'), 2, /^task-swarm: --priority must be an integer >= -1000, got "-1001"$/m);
    expectOneLine(await s.run('submit', 'f', '--priority', '-0'), 2, /^task-swarm: --priority must be an integer, got "-0": write 0, without a "-" on 0$/m);
    expectOneLine(await s.run('submit', 'f', '--backoff', '-5'), 2, /^task-swarm: --backoff must be an integer >= 0, got "-5"$/m);
    expectOneLine(await s.run('submit', 'f', '--priority', '-5', '--priority', '-3'), 2, /^task-swarm: option --priority given twice: give it once$/m);
    // a flag is still no value: a value forgotten before one is said so
    expectOneLine(await s.run('submit', 'f', '--priority', '--wait'), 2, /^task-swarm: option --priority needs a value/m);
    // (only the task submitted with -5 was queued)
    expect((await s.keys()).filter((k) => k.startsWith(`${s.prefix}task-`))).toEqual([`${s.prefix}task-neg`]);
    await s.client.close();
  });
});
