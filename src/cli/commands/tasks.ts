/**
 * One task at a time: `submit`, `get`, `wait`, `cancel`, `control`, `events`; and the task
 * options `submit` and `schedule` share.
 */
import { Option } from 'commander';
import { checkKey, type SubmitOptions } from '../../submission.js';
import { checkGroup } from '../../effects/limits.js';
import { isPlainControl, PLAIN_CONTROLS, WATCH_TTL, type ControlInput } from '../../wire.js';
import type { CommandSpec, Invocation, Positional } from '../command-spec.js';
import { RuntimeError, UsageError } from '../errors.js';
import { TaskNotFoundError } from '../../errors.js';
import { CLIENT_FIELDS } from '../../config.js';
import { escapeControls, eventLine, printJson, quote, showJson, text } from '../format.js';
import { EndOfEvents, reportEnd, submitAndWait, unwatchedRunning, waitFor } from '../follow.js';
import { PROG } from '../io.js';
import { fieldOptions, fieldValues, integerOption, parsedOption } from '../options.js';
import { isProgress, ProgressDisplay } from '../progress.js';
import { parkedEntry, requireTask, runWithClient, taskNotFound, warningLines, watchRedis, withClient } from '../redis-session.js';
import { isUnservedNote } from '../../served-functions.js';
import { MAX_TIMEOUT, parseBackoff, parseJson, parseRunAt } from '../values.js';

/** what a task carries, for `submit` and `schedule` alike (the library's SubmitOptions) */
export function taskOptions(): Option[] {
  return [
    integerOption('--priority <n>', 'an integer from -1000 to 1000, higher runs sooner (default 0)', -1000, 1000),
    new Option('--group <name>', 'fairness group, e.g. a tenant: the groups with queued tasks take turns'),
    integerOption('--attempts <n>', 'tries in all when the function throws, times out or its worker dies (default 1)', 1, 1000),
    parsedOption('--backoff <ms|exponential:ms[:max]>', 'the wait before each retry: fixed ms, or doubled after each failure up to max (default 0)', parseBackoff),
    integerOption('--timeout <ms>', 'per attempt: abort it after ms, fail it abortTimeout later (default none)', 1, MAX_TIMEOUT),
    new Option('--manual-end', 'keep the task hash after it ends, listed in end-task'),
  ];
}

/** The values of taskOptions() given, as the library takes them (it checks their ranges). */
export function taskOptionValues(o: Record<string, unknown>): SubmitOptions {
  const out: SubmitOptions = {};
  for (const key of ['priority', 'group', 'attempts', 'backoff', 'timeout'] as const) if (o[key] !== undefined) (out as Record<string, unknown>)[key] = o[key];
  if (o.manualEnd === true) out.manualEnd = true;
  return out;
}

export const JSON_DATA: Positional = { syntax: '[json-data]', noun: 'json-data', doc: 'the task\'s data as JSON, e.g. \'{"frame":1}\' (default null)', parse: (raw) => parseJson('json-data', raw) };
export const FUNCTION: Positional = { syntax: '<function>', noun: 'function name', doc: 'the task function to run' };
const TASK_ID: Positional = { syntax: '<id>', noun: 'task id', doc: "the task's id" };
/** what `wait` and `events` take: the task they follow to its end, and how long they follow it */
const followedTask = (): Pick<CommandSpec, 'args' | 'options'> => ({ args: [TASK_ID], options: [integerOption('--timeout <ms>', 'give up after this many ms (default: never)', 1, MAX_TIMEOUT)] });

/** the plain-word messages as the help and the errors list them: "stop, reload, watch" */
const PLAIN_WORDS = PLAIN_CONTROLS.join(', ');

function parseControl(raw: string): ControlInput {
  if (isPlainControl(raw)) return raw;
  // (a bare word is meant as one of the plain messages: say which there are, not that it is no JSON)
  if (/^[A-Za-z][\w-]*$/.test(raw) && !['true', 'false', 'null'].includes(raw)) {
    throw new UsageError(`control message "${raw}" is none of ${PLAIN_WORDS}; a custom event is JSON {"event_name": "...", "event": ...}`);
  }
  const v = parseJson('control message', raw);
  if (!v || typeof v !== 'object' || Array.isArray(v) || typeof (v as { event_name?: unknown }).event_name !== 'string' || (v as { event_name: string }).event_name === '') {
    throw new UsageError(`control message must be ${PLAIN_WORDS} or JSON {"event_name": "...", "event": ...}, got ${escapeControls(raw)}`);
  }
  // (a key it does not know is usually a typo, "evnt": the message would go out without its event)
  for (const k of Object.keys(v)) if (k !== 'event_name' && k !== 'event') throw new UsageError(`control message: unknown key ${quote(k)} (known: event_name, event)`);
  return v as ControlInput;
}

async function runSubmit(inv: Invocation): Promise<number> {
  const { io, opts: v } = inv;
  const [fn, data] = inv.args as [string, unknown];
  const wait = v.wait === true;
  const timeout = v.waitTimeout as number | undefined;
  if (timeout !== undefined && !wait) throw new UsageError('submit: --wait-timeout only goes with --wait');
  const options = taskOptionValues(v);
  if (typeof v.id === 'string') {
    if (v.id === '') throw new UsageError('submit: --id must not be empty');
    // (the id is what `submit` prints for a script to read, one line: a control character in it
    // would be read as another line, or as nothing)
    if (escapeControls(v.id) !== v.id) throw new UsageError(`submit: --id must not hold control characters, got ${quote(v.id)}`);
    options.id = v.id;
  }
  if (v.delay !== undefined && v.runAt !== undefined) throw new UsageError('submit: give --delay or --run-at, not both');
  if (v.delay !== undefined) options.delay = v.delay as number;
  if (v.runAt !== undefined) options.runAt = v.runAt as number;
  if (typeof v.key === 'string') options.key = v.key;
  // The Client's warning of a function no live worker serves (src/served-functions.ts) is not
  // said with --wait, whose wait says it of the task (follow.ts explainWait), nor after a submit
  // that queued nothing new: the task it names has ended, or is another's (said first). (Its
  // read is answered a round trip after the submit: `unsaid` is set by then.)
  let unsaid = wait;
  const logger = warningLines(inv.warn, (t) => unsaid && isUnservedNote(t));
  return withClient(inv, async (client) => {
    // A submit that queues nothing new gives an id back all the same, which alone looked like a
    // new submission: a key another task holds (told by the id drawn here), or an --id whose very
    // same task was submitted before (told by reading it first; it may have ended long ago).
    // stderr says which it was.
    const before = options.id !== undefined ? await client.get(options.id).catch(() => null) : null;
    const unchanged = async (given: string, drawn: string): Promise<string | undefined> => {
      if (given !== drawn && options.key !== undefined) return `key ${quote(options.key)} is held by task ${quote(given)} (queued, delayed or running): nothing new submitted`;
      if (given === drawn && before) {
        // (read before the submit: an ended task's hash whose retention ran out in between was
        // gone when the submit ran, which then queued the task anew, and it will run: said as
        // "nothing new", the user was told it would not. Read again, it is not ended)
        if (before.state === 'END' && (await client.get(given).catch(() => before))?.state !== 'END') return undefined;
        const now = before.state === 'END' ? `ended ${before.outcome ?? '?'}` : before.state;
        return `task ${quote(given)} was submitted before, the very same task (${now}): nothing new submitted`;
      }
      return undefined;
    };
    if (!wait) {
      if (options.key === undefined && options.id === undefined) {
        io.stdout.write((await client.submit(fn, data, options)) + '\n');
        return 0;
      }
      if (options.group !== undefined) checkGroup('submit: group', options.group);
      if (options.key !== undefined) checkKey('submit: key', options.key);
      const drawn = options.id ?? client.drawId({ group: options.group, key: options.key });
      const taskId = await client.submit(fn, data, { ...options, id: drawn });
      // (set at once, before unchanged()'s read again: the Client's look is answered meanwhile;
      // a task found queued anew then goes without that warning)
      if (before || taskId !== drawn) unsaid = true;
      const note = await unchanged(taskId, drawn);
      if (note) inv.warn(`${note}; its id follows`);
      io.stdout.write(taskId + '\n');
      return 0;
    }
    // The id is drawn first (the client's drawId: written as an id it drew, queued_at and all),
    // to subscribe to the task's events before it is queued.
    // (its group and key checked first as the submit checks them, so that a mistake is named
    // as the user's submit, not as the draw this command makes for it)
    if (options.group !== undefined) checkGroup('submit: group', options.group);
    if (options.key !== undefined) checkKey('submit: key', options.key);
    const id = options.id ?? client.drawId({ group: options.group, key: options.key });
    const submit = async () => {
      const taskId = await client.submit(fn, data, { ...options, id });
      io.stderr.write(`${(await unchanged(taskId, id)) ?? `submitted ${escapeControls(taskId)}`}; waiting for its end\n`);
      return taskId;
    };
    return reportEnd(io, await submitAndWait(io, client, id, timeout, fn, submit));
  }, { ...fieldValues(CLIENT_FIELDS, v), logger });
}

/**
 * Every event as a JSON line on stdout until the task ends (the end is what its hash says: an
 * `end` event anyone can publish is only a hint, Client.wait reads the hash). On a terminal its
 * progress is also a line redrawn on stderr; elsewhere stdout's lines already hold it.
 */
const runEvents = runWithClient(async (client, inv) => {
  const { io } = inv;
  const [id] = inv.args as [string];
  const timeout = inv.opts.timeout as number | undefined;
  let finish: (code: number) => void = () => {};
  let fail: (e: Error) => void = () => {};
  const done = new Promise<number>((resolve, reject) => ((finish = resolve), (fail = reject)));
  done.catch(() => {}); // the timeout may pass while the task is still being read: awaited below
  const display = io.stderr.isTTY ? new ProgressDisplay(io.stderr, id) : undefined;
  const end = new EndOfEvents();
  const print = (ev: unknown) => io.stdout.write(showJson(ev) + '\n');
  const off = client.subscribe(id, (ev: unknown) => {
    end.note(ev);
    if (!display) return print(ev);
    display.around(() => print(ev));
    if (isProgress(ev)) display.update(ev, () => eventLine(id, ev));
  });
  const unwatch = watchRedis(client.config, (line) => (display ? display.line(line) : io.stderr.write(line + '\n')));
  const stop = () => finish(130);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const t = await client.get(id);
    if (t?.state === 'END') {
      io.stderr.write(`task ${escapeControls(id)} has already ended (${t.outcome ? text(t.outcome) : 'no outcome'}); "${PROG} get ${escapeControls(id)}" shows it\n`);
      return 0;
    }
    const shown = escapeControls(id);
    const parked = t ? undefined : await parkedEntry(client, id);
    io.stderr.write(t ? `following task ${shown} (${text(t.state)}); Ctrl-C to stop\n` : `task ${shown} is not known (yet)${parked ? `; ${parked}` : ''}; waiting for its events; Ctrl-C to stop\n`);
    client.wait(id, { timeout }).then(() => end.drain().then(() => finish(0)), fail);
    return await done;
  } finally {
    unwatch();
    off();
    display?.end();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
});

export const TASK_COMMANDS: CommandSpec[] = [
  {
    name: 'submit',
    summary: 'queue a task; prints its id',
    details: 'With --wait: exit status 0 when the task succeeded; 1 when it failed, was cancelled or stopped, or --wait-timeout passed.',
    args: [FUNCTION, JSON_DATA],
    options: [
      new Option('--id <id>', 'your own task id (default: a random one)'),
      ...taskOptions(),
      integerOption('--delay <ms>', 'start no sooner than ms from now (Redis time)', 0, MAX_TIMEOUT),
      parsedOption('--run-at <time>', 'start no sooner than this time: ISO 8601 or epoch ms (Redis time)', parseRunAt),
      new Option('--key <key>', 'dedupe key: while a task with it is queued, delayed or running, print its id instead'),
      new Option('--wait', 'wait for the end, showing events (and progress) on stderr; print the task as JSON'),
      integerOption('--wait-timeout <ms>', 'with --wait: give up after this many ms (default: never)', 1, MAX_TIMEOUT),
      ...fieldOptions(CLIENT_FIELDS),
    ],
    run: runSubmit,
  },
  {
    name: 'get',
    summary: 'print a task as JSON',
    args: [TASK_ID],
    run: runWithClient(async (client, inv) => {
      const { raw: _raw, ...shown } = await requireTask(client, inv.args[0] as string);
      printJson(inv.io, shown);
      return 0;
    }),
  },
  {
    name: 'wait',
    summary: 'wait for a task to end (its events and progress on stderr); print it as JSON',
    details: 'Exit status 0 when it succeeded; 1 when it failed, was cancelled or stopped, or the timeout passed.',
    ...followedTask(),
    run: runWithClient(async (client, inv) => {
      const id = inv.args[0] as string;
      const t = await requireTask(client, id);
      // as `submit --wait` and `events` do: a wait that may be long says what it waits for (and
      // waitFor, why the task cannot start now when it cannot)
      if (t.state !== 'END') inv.io.stderr.write(`task ${escapeControls(id)} is ${text(t.state)}; waiting for its end\n`);
      return reportEnd(inv.io, await waitFor(inv.io, client, id, inv.opts.timeout as number | undefined));
    }),
  },
  {
    name: 'cancel',
    summary: 'cancel a task: queued or delayed, it is removed (ends cancelled); running, it is stopped',
    details: 'Exit status 0 when it was cancelled or stopped, 1 when it had already ended.',
    args: [TASK_ID],
    run: runWithClient(async (client, inv) => {
      const id = inv.args[0] as string;
      const r = await client.cancel(id).catch(async (e: unknown) => Promise.reject(e instanceof TaskNotFoundError ? await taskNotFound(client, id) : e));
      const said = { cancelled: 'cancelled', stopping: 'running: stop sent (its worker ends it stopped)', ended: 'had already ended: nothing done' }[r];
      inv.io.stdout.write(`${quote(id)} ${said}\n`);
      const alone = r === 'stopping' ? await unwatchedRunning(client) : undefined;
      if (alone) inv.io.stderr.write(`${PROG}: ${alone}\n`);
      return r === 'ended' ? 1 : 0;
    }),
  },
  {
    name: 'control',
    summary: 'send a running task a control message',
    details: `A message is stop, reload (restart from the task's data), watch (its worker publishes the task machine's state as machine-state events, now and on each change, for ${WATCH_TTL / 1000} s), or a custom event as JSON: '{"event_name":"pause","event":{...}}'.`,
    args: [TASK_ID, { syntax: '<message>', noun: `message (${PLAIN_WORDS} or JSON {"event_name", "event"})`, doc: `${PLAIN_WORDS} or JSON {"event_name", "event"}`, parse: parseControl }],
    run: runWithClient(async (client, inv) => {
      const [id, message] = inv.args as [string, ControlInput];
      const t = await requireTask(client, id);
      // a stop is judged by what Redis found as it ran (cancel.lua), not by the read above: the
      // task may have been put back, retried or ended since
      if (message === 'stop') {
        const r = await client.control(id, message);
        if (r === 'cancelled') {
          // (RUNNING when read: its worker died or handed it back since, and it waited to run again)
          const between = t.state === 'DELAYED' ? "a retry's backoff" : 'queued to run again';
          inv.io.stdout.write(`task ${escapeControls(id)} was between attempts (${between}): cancelled, its next attempt will not run\n`);
          return 0;
        }
        // (read again: the worker the stop reached, or the outcome, may differ from the read above)
        const now = r === 'waiting' ? t : ((await client.get(id)) ?? t);
        if (r === 'stopping') {
          inv.io.stdout.write(`sent stop to task ${escapeControls(id)} (running on ${now.worker ? text(now.worker) : '?'})\n`);
          const alone = await unwatchedRunning(client);
          if (alone) inv.io.stderr.write(`${PROG}: ${alone}\n`);
          return 0;
        }
        // (waiting: what the stop found, told as of then: a claim may have taken it since)
        const how = r === 'ended' ? `has ended (${now.outcome ? text(now.outcome) : 'no outcome'})` : `was ${t.state === 'DELAYED' ? 'delayed' : 'queued'}, not running yet`;
        throw new RuntimeError(`task ${quote(id)} ${how}: control messages only reach running tasks${r === 'ended' ? '' : ` (to remove it: ${PROG} cancel ${escapeControls(id)})`}`);
      }
      if (t.state !== 'RUNNING') {
        const how = t.state === 'END' ? `has ended (${t.outcome ? text(t.outcome) : 'no outcome'})` : `is ${t.state === 'DELAYED' ? 'delayed' : 'queued'}, not running yet`;
        throw new RuntimeError(`task ${quote(id)} ${how}: control messages only reach running tasks`);
      }
      await client.control(id, message);
      const shown = typeof message === 'string' ? message : `event ${quote(message.event_name)}`;
      inv.io.stdout.write(`sent ${shown} to task ${escapeControls(id)} (running on ${t.worker ? text(t.worker) : '?'})\n`);
      return 0;
    }),
  },
  {
    name: 'events',
    summary: "print a task's events as JSON lines until it ends (Ctrl-C to stop)",
    details: 'Exit status 0 when it ended (or had already), 1 when the timeout passed first. On a terminal, its progress is also shown on stderr.',
    ...followedTask(),
    run: runEvents,
  },
];
