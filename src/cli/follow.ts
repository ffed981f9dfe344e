/**
 * Waiting for a task's end (`wait`, `submit --wait`): its events on stderr as they come (its
 * progress as a line redrawn in place on a terminal), a hint when it cannot start now, then the
 * task as JSON on stdout and the exit status its outcome says.
 */
import { CLIENT_PATIENCE_MS, type Client, type TaskInfo } from '../client.js';
import { Interrupted, RuntimeError } from './errors.js';
import { DEAD_LETTER_REASONS, type DeadLetterReason } from '../errors.js';
import { within } from '../within.js';
import { eventLine, isObject, isoTime, printJson, quote, shellWord, text } from './format.js';
import { PROG, type CliIO } from './io.js';
import { isProgress, ProgressDisplay } from './progress.js';
import { watchRedis } from './redis-session.js';

/** Whether an event (any value) is the final `end` */
const isEnd = (ev: unknown) => isObject(ev) && ev.event === 'end';

/** ms to wait for a task's `end` event once its hash says END */
const END_EVENT_GRACE_MS = 500;

/**
 * The `end` event of a task's stream. The hash can say END before the task's last events have
 * reached this subscriber (they come on another connection), and the last progress would be
 * lost; the runtime publishes `end` with the END, after all of them, so once it has come none
 * is still on its way. It is waited for a short while only: an end written by hand may have none.
 */
export class EndOfEvents {
  private seen: () => void = () => {};
  private readonly arrived = new Promise<void>((resolve) => (this.seen = resolve));

  /** every event of the stream goes through here; true for the end */
  note(ev: unknown): boolean {
    if (!isEnd(ev)) return false;
    this.seen();
    return true;
  }

  /** once the hash says END: the end event, or a short while */
  async drain(): Promise<void> {
    await within(END_EVENT_GRACE_MS, this.arrived);
  }
}

/** The task as JSON on stdout; 0 when it succeeded, else a one-line reason and 1. */
export function reportEnd(io: CliIO, t: TaskInfo): number {
  const { raw: _raw, ...shown } = t;
  printJson(io, shown);
  // cancelled (or stopped) is no success: `submit --wait && next` must not go on as if it were
  if (t.outcome === 'succeeded') return 0;
  // a stored error that is not one the runtime writes (edited by hand) is shown as stored
  const message: unknown = isObject(t.error) ? t.error.message : isObject(t.invalid) ? t.invalid.error : undefined;
  const why = message === undefined || message === null || message === '' ? '' : `: ${text(message)}`;
  const parked = isObject(t.parked) ? ` (parked as ${text(t.parked.reason)}; ${parkedAdvice(String(t.parked.reason), text(t.parked.key))})` : '';
  io.stderr.write(`${PROG}: task ${quote(t.id)} ended ${t.outcome ? text(t.outcome) : 'without an outcome'}${parked}${why}\n`);
  return 1;
}

/** what to do with a parked task: an entry parked for its own bytes would be parked again (retry-dead refuses it) */
function parkedAdvice(reason: string, key: string): string {
  const refused = Object.hasOwn(DEAD_LETTER_REASONS, reason) && 'refusedAsIs' in DEAD_LETTER_REASONS[reason as DeadLetterReason];
  return refused ? `queued again it would be parked again; \`${PROG} purge-dead ${key}\` removes it` : `\`${PROG} retry-dead ${key}\` queues it again`;
}

/** what `submit` answered when it was another task's id (its dedupe key's): that one is waited for */
class AnotherTask {
  constructor(readonly id: string) {}
}

/**
 * Submit a task and wait for its end (`submit --wait`): subscribed to its events before the
 * submit, so that none is missed (a function that fails or emits at once published them before
 * a subscription made after the submit was in place). `submit` queues the task as `id`; a
 * dedupe key held by another task makes it answer that task's id, which is then followed (the
 * hint then names that task's own function).
 */
export async function submitAndWait(io: CliIO, client: Client, id: string, timeout: number | undefined, fn: string, submit: () => Promise<string>): Promise<TaskInfo> {
  try {
    return await waitFor(io, client, id, timeout, fn, async () => {
      const given = await submit();
      if (given !== id) throw new AnotherTask(given);
    });
  } catch (e) {
    if (!(e instanceof AnotherTask)) throw e;
    return await waitFor(io, client, e.id, timeout);
  }
}

/**
 * Wait for the end of a task, printing its other events on stderr. `start`, when given, is run
 * once the task's events are subscribed to (its submit).
 */
export async function waitFor(io: CliIO, client: Client, id: string, timeout: number | undefined, fn?: string, start?: () => Promise<void>): Promise<TaskInfo> {
  const display = new ProgressDisplay(io.stderr, id);
  const end = new EndOfEvents();
  let over = false;
  const off = client.subscribe(id, (ev: unknown) => {
    if (end.note(ev)) return;
    if (isProgress(ev)) display.update(ev, () => eventLine(id, ev));
    else display.line(eventLine(id, ev));
  });
  const unwatch = watchRedis(client.config, (line) => display.line(line));
  // Ctrl-C ends the wait, not the task: said so, with the way to end the task too (the signal's
  // own death said nothing, and a user took the task for cancelled). Heard only from the submit
  // on: before it, nothing was queued.
  let interrupt: () => void = () => {};
  const interrupted = new Promise<never>((_, reject) => {
    interrupt = () => reject(new Interrupted(`interrupted: only the wait stopped, task ${quote(id)} goes on (\`${PROG} cancel ${shellWord(id)}\` cancels it)`));
  });
  interrupted.catch(() => {});
  try {
    if (start) {
      // (a channel refused by an ACL is logged by the client: the wait reads the hash all the
      // same.) A subscription Redis does not answer held the submit for good (the wait's timeout
      // starts after it): it waits the client's patience, as a call does, and then nothing is
      // submitted.
      let subscribed = false;
      await within(CLIENT_PATIENCE_MS, off.ready.then(() => (subscribed = true), () => (subscribed = true)));
      if (!subscribed) throw new RuntimeError(`cannot follow task ${quote(id)}'s events: Redis did not answer the subscription within ${CLIENT_PATIENCE_MS / 1000} s; nothing was submitted`);
      await start();
    }
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    const waiting = Promise.race([client.wait(id, { timeout }), interrupted]);
    // The hint's reads may wait the client's patience on a silent Redis: a wait that fails (its
    // timeout passed) does not wait for them, one that succeeds does. (Its failure is handled
    // here at once, and thrown by the await after.)
    const explaining = explainWait(display, client, id, fn, () => over);
    const state = await Promise.race([explaining, waiting.then(() => explaining, () => undefined)]);
    const t = await waiting;
    if (state !== 'END') await end.drain();
    return t;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    over = true;
    unwatch();
    off();
    display.end();
  }
}

/** how long a wait watches a RUNNING task's lease go unrenewed before it says no monitor runs (a worker renews each heartbeatInterval, 1 s by default) */
const STALE_AFTER_MS = 4000;

/**
 * Only a monitor takes back a task whose worker died: with none active in the swarm, a RUNNING
 * task on a dead worker never ends, and a wait for it, or a stop, would say nothing of that.
 * Returns what to say then (undefined with a monitor, or when the read fails: only a hint).
 */
export async function unwatchedRunning(client: Client): Promise<string | undefined> {
  try {
    if ((await client.monitors()).some((m) => m.health === 'active')) return undefined;
    return `no monitor runs: should its worker be gone, nothing takes the task back and it does not end (start \`${PROG} monitor\`)`;
  } catch {
    return undefined;
  }
}

/**
 * A task that cannot start now says why, once: no live worker serves its function, or it is
 * paused. Resolves with the task's state as read (after the subscription).
 */
async function explainWait(display: ProgressDisplay, client: Client, id: string, fn: string | undefined, over: () => boolean): Promise<string | undefined> {
  let t: TaskInfo | null = null;
  try {
    t = await client.get(id);
    if (t?.state === 'RUNNING') {
      // (said only of a lease seen unrenewed for a while: a live worker's task needs no word)
      const seen = t;
      void (async () => {
        await new Promise((r) => setTimeout(r, STALE_AFTER_MS).unref());
        const now = await client.get(id);
        if (over() || now?.state !== 'RUNNING' || now.attempt !== seen.attempt || now.worker !== seen.worker || now.update !== seen.update) return;
        const alone = await unwatchedRunning(client);
        if (alone && !over()) display.line(`task ${quote(id)} is RUNNING on ${now.worker ? text(now.worker) : '?'}, its lease not renewed for ${STALE_AFTER_MS / 1000} s; ${alone}`);
      })().catch(() => {});
      return t.state;
    }
    if (t?.state === 'END') return t.state;
    const name = fn ?? t?.function;
    if (name === undefined && t?.state !== 'QUEUED') return t?.state;
    const s = await client.stats();
    // (read after the wait ended: nothing to explain any more)
    if (over()) return t?.state;
    if (name === undefined) {
      // Still on the ingress list: a claim routes it to its function's queue, so its function is
      // not known here; with no live worker at all, none will claim it.
      if (s.workers === 0) display.line(`task ${quote(id)} waits, QUEUED: no live worker (it runs when one that serves its function starts)`);
      else if (s.paused) display.line(`task ${quote(id)} waits, QUEUED: the swarm is paused (\`${PROG} resume\`)`);
      return t?.state;
    }
    // (a delayed one says until when, and whether it is a retry: a wait that may be long)
    const waits =
      t?.state === 'DELAYED' ? `DELAYED until ${isoTime(t.runAt) ?? '?'}${t.reason === 'retry' ? ` (a retry: attempt ${t.attempt} failed)` : ''}` : 'QUEUED';
    const f = s.functions[name];
    if (!f || f.workers === 0) display.line(`task ${quote(id)} waits, ${waits}: no live worker serves function ${quote(name)} (it runs when one that does starts)`);
    // (each pause is lifted by its own resume: a bare `resume` leaves a paused function paused)
    else if (s.paused || f.paused) {
      const what = s.paused && f.paused ? `the swarm and function ${quote(name)} are` : s.paused ? 'the swarm is' : `function ${quote(name)} is`;
      const how = [s.paused ? `\`${PROG} resume\`` : '', f.paused ? `\`${PROG} resume ${name.startsWith('-') ? '-- ' : ''}${shellWord(name)}\`` : ''].filter(Boolean).join(' and ');
      display.line(`task ${quote(id)} waits, ${waits}: ${what} paused (${how})`);
    }
    else if (t?.state === 'DELAYED') display.line(`task ${quote(id)} waits, ${waits}`);
  } catch {
    // only a hint: the wait itself goes on
  }
  return t?.state;
}
