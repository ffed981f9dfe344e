/**
 * The processes under one worker address, as a reader of `workers:owners` judges them from one
 * read to the next (src/lua/lib/address-owners.lua writes the entries:
 * `<process>@<overdue ms>@<heartbeatInterval ms>`; its last heartbeat there was overdue - 3
 * intervals). An entry that moves forward is a process that heartbeats there. One that has
 * missed two of its heartbeats (at the cadence seen), or never moved while a reader watched for
 * two and a half of its intervals, is a process gone: the one before a worker restarted at its address, or one killed
 * since (an entry is not overdue for three of its heartbeats). The worker (src/worker.ts) and
 * the dashboard (src/dashboard/worker-view.ts) judge alike.
 */

export interface OwnerEntry {
  /** Redis ms its heartbeats there are overdue */
  overdue: number;
  /** its heartbeatInterval, ms (0: not written, an older writer) */
  every: number;
}

interface Seen extends OwnerEntry {
  /** Redis ms of the read that first saw it */
  since: number;
  /** it moved forward while watched */
  moved: boolean;
  /**
   * its last move forward, ms: its cadence as seen (an interval and the heartbeat's round trip:
   * a slow link spaces heartbeats wider than the interval; more, when read less often)
   */
  gap?: number;
}

export interface OwnersRead {
  /** processes that moved forward since the read before: they heartbeat there */
  moved: string[];
  /** processes that heartbeat there: they moved while watched, and missed fewer than two heartbeats */
  live: string[];
  /** processes not watched long enough to tell one yet to heartbeat from one gone */
  unsure: string[];
  /** processes gone: two heartbeats missed, or still for two and a half of their intervals while watched */
  gone: string[];
}

export class OwnerEntries {
  private seen = new Map<string, Seen>();

  /** `entries`: the others under the address, none overdue; `now`: Redis ms of the read */
  read(entries: Map<string, OwnerEntry>, now: number): OwnersRead {
    const next = new Map<string, Seen>();
    const out: OwnersRead = { moved: [], live: [], unsure: [], gone: [] };
    for (const [name, e] of entries) {
      const before = this.seen.get(name);
      const movedNow = before !== undefined && e.overdue > before.overdue;
      if (movedNow) out.moved.push(name);
      const s: Seen = { ...e, since: before?.since ?? now, moved: movedNow || (before?.moved ?? false), gap: movedNow ? e.overdue - before!.overdue : before?.gap };
      next.set(name, s);
      // (its last heartbeat is overdue - 3 intervals: fresh while it missed fewer than two, at
      // the cadence seen; one never seen to move is given two and a half intervals)
      const fresh = now - (e.overdue - 3 * e.every) <= 2 * Math.max(e.every, s.gap ?? 0);
      if (!fresh || (!s.moved && now - s.since > 2.5 * e.every)) out.gone.push(name);
      else if (s.moved) out.live.push(name);
      else out.unsure.push(name);
    }
    this.seen = next;
    return out;
  }
}

/** the entries of one `workers:owners` field; junk is skipped (anything can write to Redis) */
export function parseOwners(field: string | undefined): Map<string, OwnerEntry> {
  const out = new Map<string, OwnerEntry>();
  for (const entry of (field ?? '').split(' ')) {
    const [name, overdue, every] = entry.split('@');
    const o = Number(overdue);
    if (name && Number.isFinite(o)) out.set(name, { overdue: o, every: Number(every) || 0 });
  }
  return out;
}
