/**
 * The chaos soak's tasks (test/chaos/run.ts): a seeded mix of what users queue, each kind with
 * what its end must show once the faults are over.
 *
 *   plain      `sleep`: succeeded
 *   grouped    `nap` in one of three groups (one at most 2 at once, one 1 at once, one at most 5
 *              starts a second), with a priority: succeeded
 *   delayed    `sleep` with a delay: succeeded, and no start seen before it was due
 *   flaky      `flaky` failing its first one or two tries, 4 attempts with a backoff: succeeded,
 *              or failed having used its 4 attempts (a worker's death spends one too)
 *   deduped    `sleep` with one of ten dedupe keys: whichever task the submit answered with
 *              (this one, or the live holder of its key) succeeded
 *   timeout    `sleep` for 2 s under a timeout of 100-400 ms, one attempt: failed, timed out (or
 *              parked after its worker died as often as the monitors allow)
 *   cancelled  `sleep`, cancelled 0-3 s after its submit: as the cancel answered (`cancelled`:
 *              ended cancelled; `stopping`: stopped, cancelled, or succeeded if it returned
 *              first; `ended`: as it ended, which may be by the cancel's first try, its reply
 *              lost with the connection)
 *   scheduled  the ticks of a schedule (every 2 s, `echo`), fired by the monitors (as they
 *              printed them, and as found in Redis): succeeded, no tick fired twice and no
 *              tick's task run to two ends (test/chaos/ticks.ts)
 *
 * And for all: no limit still counts a task once every task has ended.
 */
import { checkTicks, type TickCounts } from './ticks.js';
import { DuplicateTaskError, RedisUnavailableError, TaskNotFoundError, TaskSwarmError, type CancelResult, type Client, type TaskInfo } from '../../src/index.js';

type Kind = 'plain' | 'grouped' | 'delayed' | 'flaky' | 'deduped' | 'cancelled' | 'timeout' | 'scheduled';

interface Submitted {
  kind: Kind;
  /** Date.now() before its (first) submit was sent */
  sentAt: number;
  delay?: number;
  attempts?: number;
  cancel?: CancelResult;
}

const GROUPS = ['g-pair', 'g-one', 'g-rate'];
export const SCHEDULE = 'chaos-tick';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * a call Redis may be away for: tried again until it answers (what each call does then is the
 * test); an answer that is an error of the swarm's own (a duplicate, an unknown task) is thrown
 */
async function answered<T>(call: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (e) {
      if (e instanceof TaskSwarmError && !(e instanceof RedisUnavailableError)) throw e;
      await sleep(200);
    }
  }
}

export function mixedTasks(client: Client, rand: () => number, between: (a: number, b: number) => number) {
  const tasks = new Map<string, Submitted>();
  const cancels: Promise<void>[] = [];
  const counts: Partial<Record<Kind, number>> = {};

  const kindFor = (): Exclude<Kind, 'scheduled'> => {
    const r = rand();
    if (r < 0.35) return 'plain';
    if (r < 0.4) return 'timeout';
    if (r < 0.6) return 'grouped';
    if (r < 0.7) return 'delayed';
    if (r < 0.8) return 'flaky';
    if (r < 0.9) return 'deduped';
    return 'cancelled';
  };

  return {
    async setUp() {
      await answered(() => client.setLimit({ group: 'g-pair' }, { concurrency: 2 }));
      await answered(() => client.setLimit({ group: 'g-one' }, { concurrency: 1 }));
      await answered(() => client.setLimit({ group: 'g-rate' }, { rate: { max: 5, per: 1000 } }));
      await answered(() => client.schedule(SCHEDULE, { every: 2000 }, 'echo', { tick: true }));
    },

    async tearDown() {
      await answered(() => client.unschedule(SCHEDULE));
      await Promise.all(cancels);
    },

    /** submits task `id` of a kind drawn from the mix; a submit whose first try landed is answered as that task */
    async submitOne(id: string) {
      const kind = kindFor();
      counts[kind] = (counts[kind] ?? 0) + 1;
      const t: Submitted = { kind, sentAt: Date.now() };
      const ms = between(200, 3000);
      let submit: () => Promise<string>;
      switch (kind) {
        case 'grouped':
          submit = () => client.submit('nap', { ms: between(100, 1200) }, { id, group: GROUPS[between(0, 3)], priority: between(-3, 4) });
          break;
        case 'delayed':
          t.delay = between(100, 4000);
          submit = () => client.submit('sleep', { ms: between(100, 800) }, { id, delay: t.delay });
          break;
        case 'flaky':
          t.attempts = 4;
          submit = () => client.submit('flaky', { fails: between(1, 3), ms: between(50, 500) }, { id, attempts: 4, backoff: 150 });
          break;
        case 'timeout':
          submit = () => client.submit('sleep', { ms: 2000 }, { id, timeout: between(100, 400) });
          break;
        case 'deduped':
          submit = () => client.submit('sleep', { ms: between(200, 1500) }, { id, key: `k${between(0, 10)}` });
          break;
        default:
          submit = () => client.submit('sleep', { ms }, { id });
      }
      // (the same call again is the same submission: a retry of one that landed gets its id back,
      // or is refused as a duplicate when that task has ended and its key is free again)
      let got = id;
      try {
        got = await answered(submit);
      } catch (e) {
        if (!(e instanceof DuplicateTaskError)) throw e;
      }
      // a dedupe key held by a live task: that task is the one to watch (submitted earlier, or by a tick's retry)
      if (!tasks.has(got)) tasks.set(got, t);
      if (kind === 'cancelled') {
        cancels.push(
          (async () => {
            await sleep(between(0, 3000));
            // (its hash reaped already: it had ended)
            t.cancel = await answered(() => client.cancel(got)).catch((e: unknown) => {
              if (e instanceof TaskNotFoundError) return 'ended' as const;
              throw e;
            });
          })(),
        );
      }
    },

    /**
     * every task to watch: the ones submitted, and the ticks the schedule fired, as the monitors
     * printed them (`SCHEDULE fired <tick> <id> <name>`) and as found in Redis (`ticksInRedis`)
     */
    ids(scheduleLines: string[], ticksInRedis: string[]): string[] {
      const fired = scheduleLines.map((l) => l.split(' ')).filter(([, outcome, , id, name]) => outcome === 'fired' && name === SCHEDULE && id).map(([, , , id]) => id!);
      for (const id of [...fired, ...ticksInRedis]) if (!tasks.has(id)) tasks.set(id, { kind: 'scheduled', sentAt: 0 });
      return [...tasks.keys()];
    },

    kindOf: (id: string) => tasks.get(id)?.kind,

    summary: () =>
      Object.entries(counts)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ') + `, ${[...tasks.values()].filter((t) => t.kind === 'scheduled').length} scheduled`,

    /** what each task's end shows against what its kind allows; one line per wrong thing */
    check(ids: string[], infos: (TaskInfo | null)[], firstStart: Map<string, number>, ticks: TickCounts, running: Record<string, string>): string[] {
      const wrong: string[] = [];
      ids.forEach((id, i) => {
        const t = tasks.get(id)!;
        const info = infos[i];
        if (info?.state !== 'END') return; // (counted as lost)
        const outcome = info.outcome;
        const what = `${id} (${t.kind}${t.cancel ? `, cancel answered ${t.cancel}` : ''}) ended ${outcome} at attempt ${info.attempt}${info.error ? `: ${JSON.stringify(info.error)}` : ''}`;
        switch (t.kind) {
          case 'flaky':
            if (outcome !== 'succeeded' && info.attempt < t.attempts!) wrong.push(`${what}, with attempts left`);
            break;
          case 'timeout':
            if (outcome !== 'failed' || !['ERR_TIMEOUT', 'ERR_MAX_ATTEMPTS'].includes(info.error?.code ?? '')) wrong.push(what);
            break;
          case 'cancelled':
            if (t.cancel === 'cancelled' && outcome !== 'cancelled') wrong.push(what);
            if (t.cancel === 'stopping' && !['stopped', 'cancelled', 'succeeded'].includes(outcome ?? '')) wrong.push(what);
            // (`ended`: it had ended, perhaps by this cancel's own first try, whose reply was lost)
            if (t.cancel === undefined) wrong.push(`${what}: its cancel never answered`);
            break;
          default:
            if (outcome !== 'succeeded') wrong.push(what);
        }
        const started = firstStart.get(id);
        // (a line is read after it is written, never before: a start read before the due time ran early)
        if (t.delay !== undefined && started !== undefined && started < t.sentAt + t.delay - 20) wrong.push(`${id} (delayed ${t.delay} ms) started ${t.sentAt + t.delay - started} ms before it was due`);
      });
      wrong.push(...checkTicks(ticks));
      for (const [target, n] of Object.entries(running)) if (Number(n) !== 0) wrong.push(`limit target ${target} still counts ${n} running task(s) with every task ended`);
      return wrong;
    },
  };
}
