/**
 * Schedule input: every mistake is a ConfigError naming the option, before anything is written;
 * cron ticks in a time zone are croner's, across a DST change too.
 */
import { describe, expect, it, vi } from 'vitest';
import { Cron } from 'croner';
import type { Redis } from 'ioredis';
import { Client, ConfigError } from '../src/index.js';
import { firstTick, ticksAt } from '../src/schedule.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('schedule input', () => {
  const cases: [string, unknown[], RegExp][] = [
    ['a cron that does not parse', ['n', { cron: 'every day' }, 'f'], /cron "every day" does not parse/],
    ['a cron field out of range', ['n', { cron: '61 * * * *' }, 'f'], /cron "61 \* \* \* \*" does not parse: .*minute/],
    ['a cron that never fires', ['n', { cron: '0 0 30 2 *' }, 'f'], /cron .* never fires/],
    ['a time zone that does not exist', ['n', { cron: '0 3 * * *', tz: 'Europe/Atlantis' }, 'f'], /tz must be an IANA time zone .*Europe\/Atlantis/],
    ['a time zone in lowercase that does not exist', ['n', { cron: '0 3 * * *', tz: 'europe/atlantis' }, 'f'], /tz must be an IANA time zone .*europe\/atlantis/],
    ['an empty time zone', ['n', { cron: '0 3 * * *', tz: '' }, 'f'], /tz must be an IANA time zone .*got ""/],
    ['a time zone that is not a string', ['n', { cron: '0 3 * * *', tz: 1 }, 'f'], /tz must be an IANA time zone .*got 1$/],
    ['every 0', ['n', { every: 0 }, 'f'], /every must be an integer number of ms from 10/],
    ['every < 0', ['n', { every: -5 }, 'f'], /every must be .* got -5/],
    ['every not an integer', ['n', { every: 1.5 }, 'f'], /every must be/],
    ['every as a string', ['n', { every: '100' }, 'f'], /every must be/],
    ['cron and every at once', ['n', { every: 100, cron: '* * * * *' }, 'f'], /spec \{ every \} takes nothing else/],
    ['an unknown spec field', ['n', { cron: '* * * * *', zone: 'UTC' }, 'f'], /unknown spec field "zone"/],
    ['no spec', ['n', null, 'f'], /spec must be/],
    ['an empty name', ['', { every: 100 }, 'f'], /name must be a non-empty string/],
    ['a name too long', ['x'.repeat(201), { every: 100 }, 'f'], /name must be .* at most 200 bytes/],
    ['a name with a newline', ['a\nb', { every: 100 }, 'f'], /without control characters/],
    ['a name that is not a string', [42, { every: 100 }, 'f'], /name must be/],
    ['no function', ['n', { every: 100 }, ''], /function name must be a non-empty string/],
    ['option id', ['n', { every: 100 }, 'f', null, { id: 'x' }], /option "id" is not for schedules/],
    ['option delay', ['n', { every: 100 }, 'f', null, { delay: 5 }], /option "delay" is not for schedules/],
    ['option runAt', ['n', { every: 100 }, 'f', null, { runAt: 5 }], /option "runAt" is not for schedules/],
    ['option key', ['n', { every: 100 }, 'f', null, { key: 'k' }], /option "key" is not for schedules/],
    ['an unknown option', ['n', { every: 100 }, 'f', null, { retries: 3 }], /unknown option "retries"/],
    ['a bad overlap', ['n', { every: 100 }, 'f', null, { overlap: 'never' }], /overlap must be 'allow' or 'skip'/],
    ['a bad priority', ['n', { every: 100 }, 'f', null, { priority: 5000 }], /priority must be an integer from -1000 to 1000/],
    ['a bad attempts', ['n', { every: 100 }, 'f', null, { attempts: 0 }], /attempts must be an integer from 1/],
    ['a bad backoff', ['n', { every: 100 }, 'f', null, { backoff: { type: 'linear', delay: 1 } }], /backoff.type must be/],
    ['an empty group', ['n', { every: 100 }, 'f', null, { group: '' }], /group/],
    ['data that is not JSON', ['n', { every: 100 }, 'f', { big: 1n }], /not JSON-serialisable/],
    ['data that JSON drops (a function)', ['n', { every: 100 }, 'f', () => 1], /is a function, which JSON cannot carry/],
  ];

  it.each(cases)('%s is a ConfigError naming it, and nothing is written', async (_what, args, message) => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const call = (c.schedule as (...a: unknown[]) => Promise<unknown>).bind(c);
    const err = await call(...args).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
    expect(await redis.keys(`${o.keyPrefix}*`)).toEqual([]);
  });

  it('unschedule refuses a bad name', async () => {
    const c = new Client({ redis: server.options() });
    cleanup.push(() => c.close());
    await expect(c.unschedule('' as string)).rejects.toBeInstanceOf(ConfigError);
  });
});

describe("whether a cron fires from now on is judged on Redis's clock, not the host's", () => {
  /** Redis's year, read by TIME */
  const redisYear = async () => new Date(Number((await redis.time())[0]) * 1000).getUTCFullYear();

  it('a host clock ahead of Redis does not refuse a cron whose ticks are still to come on Redis', async () => {
    const y = await redisYear();
    const c = new Client({ redis: server.options() });
    cleanup.push(() => c.close());
    vi.useFakeTimers({ toFake: ['Date'], now: Date.UTC(y + 2, 5, 1) });
    try {
      const r = await c.schedule('once', { cron: `0 0 0 1 1 * ${y + 1}` }, 'f');
      expect(r).toEqual({ changed: true, next: Date.UTC(y + 1, 0, 1) });
    } finally {
      vi.useRealTimers();
    }
  });

  it('a host clock behind Redis does not let in a cron whose last tick Redis has passed: refused, nothing written', async () => {
    const y = await redisYear();
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    vi.useFakeTimers({ toFake: ['Date'], now: Date.UTC(y - 2, 5, 1) });
    try {
      const err = await c.schedule('gone', { cron: `0 0 0 1 1 * ${y - 1}` }, 'f').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toBe(`schedule "gone": cron "0 0 0 1 1 * ${y - 1}" never fires from now on`);
    } finally {
      vi.useRealTimers();
    }
    expect(await redis.keys(`${o.keyPrefix}*schedules*`)).toEqual([]);
  });
});

describe('cron ticks in a time zone (croner)', () => {
  const nightly = { cron: '0 3 * * *', tz: 'Europe/Berlin' };

  it('are those croner computes', () => {
    const now = Date.UTC(2025, 5, 10, 12, 34, 56, 789);
    const c = new Cron('0 3 * * *', { timezone: 'Europe/Berlin', paused: true });
    expect(firstTick(nightly, now)).toBe(c.nextRun(new Date(now))!.getTime());
    for (const [cron, tz] of [['*/15 9-17 * * 1-5', 'America/New_York'], ['30 2 1 * *', 'Asia/Kolkata'], ['0 0 * * 0', 'UTC']]) {
      expect(firstTick({ cron: cron!, tz: tz! }, now)).toBe(new Cron(cron!, { timezone: tz, paused: true }).nextRun(new Date(now))!.getTime());
    }
  });

  it('03:00 in Berlin is 02:00 UTC before the spring change of 2025-03-30 and 01:00 UTC after it', () => {
    expect(firstTick(nightly, Date.UTC(2025, 2, 28, 12))).toBe(Date.UTC(2025, 2, 29, 2));
    expect(firstTick(nightly, Date.UTC(2025, 2, 29, 12))).toBe(Date.UTC(2025, 2, 30, 1));
    expect(firstTick(nightly, Date.UTC(2025, 2, 30, 12))).toBe(Date.UTC(2025, 2, 31, 1));
    // and back at the autumn change of 2025-10-26
    expect(firstTick(nightly, Date.UTC(2025, 9, 25, 12))).toBe(Date.UTC(2025, 9, 26, 2));
  });

  it('missed ticks: the firing is for the latest one not after now, and the next is the first after now', () => {
    const due = Date.UTC(2025, 2, 28, 2); // 03:00 CET on the 28th
    const now = Date.UTC(2025, 2, 30, 12); // two ticks later, across the change
    expect(ticksAt(nightly, due, now)).toEqual({ tick: Date.UTC(2025, 2, 30, 1), next: Date.UTC(2025, 2, 31, 1) });
    expect(ticksAt({ every: 1000 }, 5000, 8999)).toEqual({ tick: 8000, next: 9000 });
    expect(ticksAt({ every: 1000 }, 5000, 5000)).toEqual({ tick: 5000, next: 6000 });
  });

  it('a zone spelled in another case is the same zone: stored as the runtime names it, and one definition, not a change', async () => {
    const c = new Client({ redis: server.options() });
    cleanup.push(() => c.close());
    const first = await c.schedule('berlin', { cron: '0 3 * * *', tz: 'europe/berlin' }, 'f');
    expect(first.changed).toBe(true);
    const [s] = await c.schedules();
    expect(s!.spec).toEqual({ cron: '0 3 * * *', tz: 'Europe/Berlin' });
    // (before: each spelling its own definition, so the other one was a change)
    expect(await c.schedule('berlin', { cron: '0 3 * * *', tz: 'Europe/Berlin' }, 'f')).toEqual({ changed: false, next: first.next });
    expect(await c.schedule('berlin', { cron: '0 3 * * *', tz: 'EUROPE/BERLIN' }, 'f')).toEqual({ changed: false, next: first.next });
    // and UTC, however written, is the default's UTC
    await c.schedule('utc', { cron: '0 3 * * *' }, 'f');
    expect(await c.schedule('utc', { cron: '0 3 * * *', tz: 'utc' }, 'f')).toMatchObject({ changed: false });
  });

  it('a link is stored as its user wrote it, not as the zone it links to', async () => {
    const c = new Client({ redis: server.options() });
    cleanup.push(() => c.close());
    // (Node 20's Intl names these Asia/Calcutta, America/Los_Angeles and UTC)
    for (const tz of ['Asia/Kolkata', 'US/Pacific', 'Etc/UTC']) {
      await c.schedule(`link ${tz}`, { cron: '0 3 * * *', tz }, 'f');
      expect((await c.schedules()).find((s) => s.name === `link ${tz}`)!.spec).toEqual({ cron: '0 3 * * *', tz });
      expect(await c.schedule(`link ${tz}`, { cron: '0 3 * * *', tz }, 'f')).toMatchObject({ changed: false });
    }
  });

  it("a link spelled in another case is the same link: stored in tzdata's case, one definition, not a change", async () => {
    const c = new Client({ redis: server.options() });
    cleanup.push(() => c.close());
    // (Intl gives no case of its own for a link: each spelling was stored as written, and the
    // other spelling was a change, an `every` started over, as europe/berlin was before)
    for (const [written, name] of [
      ['asia/kolkata', 'Asia/Kolkata'],
      ['US/PACIFIC', 'US/Pacific'],
      ['etc/utc', 'Etc/UTC'],
      ['gmt', 'GMT'],
      ['etc/gmt+0', 'Etc/GMT+0'],
      ['est5edt', 'EST5EDT'],
    ]) {
      const first = await c.schedule(`case ${name}`, { cron: '0 3 * * *', tz: written }, 'f');
      expect(first.changed).toBe(true);
      expect((await c.schedules()).find((s) => s.name === `case ${name}`)!.spec, written).toEqual({ cron: '0 3 * * *', tz: name });
      expect(await c.schedule(`case ${name}`, { cron: '0 3 * * *', tz: name }, 'f'), name).toEqual({ changed: false, next: first.next });
    }
  });

  it('the default zone is UTC, whatever the host says', async () => {
    const c = new Client({ redis: server.options() });
    cleanup.push(() => c.close());
    await c.schedule('utc', { cron: '0 3 * * *' }, 'f');
    const [s] = await c.schedules();
    expect(s!.spec).toEqual({ cron: '0 3 * * *', tz: 'UTC' });
    expect(new Date(s!.next!).getUTCHours()).toBe(3);
  });
});
