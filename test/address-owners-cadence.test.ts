/**
 * A process's heartbeats land every heartbeatInterval plus the renew's round trip (the next one
 * is timed from the end of the last: actors/ticker.ts). One whose round trip is long (a slow
 * link, a large batch) but whose heartbeats are never overdue is alive at every read, to the
 * worker (what its stop counts) and to the dashboard (what it shows) alike.
 */
import { expect, it } from 'vitest';
import { OwnerEntries } from '../src/address-owners.js';

it('a process heartbeating every 2.6 intervals, never overdue, is live at every read once it moved', () => {
  const every = 100;
  const cadence = 260; // (100 ms interval + 160 ms round trip)
  const judge = new OwnerEntries();
  const notLive: number[] = [];
  for (let now = 1_000_000; now < 1_003_000; now += 50) {
    const last = 1_000_000 + Math.floor((now - 1_000_000) / cadence) * cadence;
    const r = judge.read(new Map([['b-1-aaaaaaaa', { overdue: last + 3 * every, every }]]), now);
    if (now > 1_000_000 + cadence && !r.live.includes('b-1-aaaaaaaa')) notLive.push(now - last);
  }
  expect(notLive, 'ms since its last heartbeat at the reads that did not count it live').toEqual([]);
});
