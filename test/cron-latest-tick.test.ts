/**
 * A cron schedule's firing is for the latest tick not after now ("Missed ticks fire once, for the
 * latest": docs/semantics.md, Schedules), to the ms, however soon after that tick the monitor
 * wakes: croner reads a time at its whole second, and ticksAt (src/schedule.ts) asks it for the
 * ticks before the second that follows now's, not before now + 1 ms (which missed a tick up to a
 * second old: the monitor fired an older tick and moved the due time past the latest, which then
 * never fired).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Cron } from 'croner';
import { ticksAt } from '../src/schedule.js';

describe('a cron schedule whose monitor wakes late, within a second after its latest tick', () => {
  it('fires the latest tick not after now, not an older one (hourly, due 10:00, now 12:00:00.400)', () => {
    const hourly = { cron: '0 * * * *', tz: 'UTC' };
    const due = Date.UTC(2026, 0, 5, 10);
    const now = Date.UTC(2026, 0, 5, 12) + 400;
    expect(ticksAt(hourly, due, now)).toEqual({ tick: Date.UTC(2026, 0, 5, 12), next: Date.UTC(2026, 0, 5, 13) });
  });

  it("a nightly job missed yesterday and woken for at 03:00:00.500 today fires today's tick, not yesterday's", () => {
    const nightly = { cron: '0 3 * * *', tz: 'Europe/Berlin' };
    const yesterday = Date.UTC(2026, 0, 4, 2); // 03:00 CET
    const today = Date.UTC(2026, 0, 5, 2);
    expect(ticksAt(nightly, yesterday, today + 500).tick).toBe(today);
  });
});

describe('ticksAt at any time around a tick (property)', () => {
  // every second, every 7 s, each minute, hourly, nightly across Berlin's spring and autumn
  // changes (02:30 does not exist on the spring day), the last day of the month
  const specs = [
    { cron: '* * * * * *', tz: 'UTC' },
    { cron: '*/7 * * * * *', tz: 'UTC' },
    { cron: '* * * * *', tz: 'America/New_York' },
    { cron: '0 * * * *', tz: 'Asia/Kolkata' },
    { cron: '0 3 * * *', tz: 'Europe/Berlin' },
    { cron: '30 2 * * *', tz: 'Europe/Berlin' },
    { cron: '0 0 L * *', tz: 'UTC' },
  ];
  const starts = [Date.UTC(2025, 2, 28), Date.UTC(2025, 9, 24), Date.UTC(2026, 0, 5, 11, 59, 58)];

  /** the ticks from `start` on, as croner's nextRun steps through them (not previousRuns) */
  function ticksFrom(cron: string, tz: string, start: number, n: number): number[] {
    const c = new Cron(cron, { timezone: tz, paused: true });
    const out: number[] = [];
    let at = new Date(start);
    while (out.length < n) {
      const t = c.nextRun(at);
      if (!t) break;
      out.push(t.getTime());
      at = t;
    }
    return out;
  }

  it('picks the latest tick at or before now (never an older one, never a later one), and the next after it', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...specs),
        fc.constantFrom(...starts),
        fc.integer({ min: 3, max: 7 }),
        fc.integer({ min: 0, max: 2 }),
        fc.oneof(fc.integer({ min: -1500, max: 1500 }), fc.constantFrom(-1001, -1000, -999, -1, 0, 1, 999, 1000, 1001)),
        (spec, start, k, back, offset) => {
          const ticks = ticksFrom(spec.cron, spec.tz, start, 10);
          const due = ticks[k - 1 - back]!;
          const now = Math.max(due, ticks[k]! + offset);
          const latest = Math.max(due, ...ticks.filter((t) => t <= now));
          const next = ticks.find((t) => t > now)!;
          expect(ticksAt(spec, due, now), `${spec.cron} (${spec.tz}) due ${new Date(due).toISOString()} now ${new Date(now).toISOString()}`).toEqual({ tick: latest, next });
        },
      ),
      { numRuns: 2000 },
    );
  });
});
