/** Schedules: `schedule` sets one (cron or every n ms), `unschedule` removes it, `schedules` lists them. */
import { Option } from 'commander';
import type { Client } from '../../client.js';
import type { MonitorView } from '../../effects/monitors.js';
import { checkSchedule, MAX_EVERY_MS, MIN_EVERY_MS, type ScheduleInfo, type ScheduleOptions, type ScheduleSpec } from '../../schedule.js';
import type { CommandSpec, Invocation, Positional } from '../command-spec.js';
import { UsageError } from '../errors.js';
import { escapeControls, isoTime, quote } from '../format.js';
import { PROG } from '../io.js';
import { choiceOption, fieldOptions, fieldValues, integerOption, jsonOption } from '../options.js';
import { CLIENT_FIELDS } from '../../config.js';
import { runWithClient, withClient } from '../redis-session.js';
import { reportResult } from '../result.js';
import { FUNCTION, JSON_DATA, taskOptions, taskOptionValues } from './tasks.js';

/**
 * A running monitor fires a tick as it falls due (it wakes for it); a tick past by more than this
 * has no monitor to fire it, or one that cannot.
 */
const OVERDUE_MS = 5000;

/** "40 s", "12 min", "3 h", "2 d" */
function span(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 120 * 60) return `${Math.round(s / 60)} min`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/**
 * Why a schedule's tick is overdue, from the monitors' last sweeps: undefined when they could
 * not be read (an ACL user that may not), and the line says only that it is overdue.
 */
function overdueWhy(monitors: MonitorView[] | undefined): string {
  if (monitors === undefined) return 'is a monitor running? schedules fire only while one does';
  if (monitors.some((m) => m.health === 'active')) return 'though a monitor runs';
  const last = Math.max(...monitors.map((m) => m.lastSweep));
  return `no monitor runs to fire it${monitors.length ? ` (the last swept at ${isoTime(last) ?? '?'})` : ''}; schedules fire only while one does`;
}

/** `"nightly": cron "0 3 * * *" UTC -> "report", overlap skip`: what a schedule is */
function scheduleHead(name: string, s: Pick<ScheduleInfo, 'spec' | 'fn' | 'overlap'>): string {
  const when = 'every' in s.spec ? `every ${s.spec.every} ms` : `cron ${quote(s.spec.cron)} ${s.spec.tz}`;
  return `${quote(name)}: ${when} -> ${quote(s.fn)}${s.overlap === 'skip' ? ', overlap skip' : ''}`;
}

function describeSchedule(s: ScheduleInfo, monitors?: MonitorView[]): string {
  if (s.invalid !== undefined) return `${quote(s.name)}: not a schedule, never fired: ${escapeControls(s.invalid)} (set it again or unschedule it)`;
  const overdue = s.overdue > OVERDUE_MS ? ` (overdue by ${span(s.overdue)}: ${overdueWhy(monitors)})` : '';
  const next = s.next === null ? 'no tick left' : `next ${isoTime(s.next) ?? '?'}${overdue}`;
  const last = s.last === null ? 'not fired yet' : `last ${isoTime(s.last) ?? '?'} (${escapeControls(s.lastId ?? '')})`;
  const skipped = s.skipped ? `, ${s.skipped} skipped` : '';
  return `${scheduleHead(s.name, s)}; ${next}; ${last}${skipped}`;
}

/**
 * An unchanged schedule keeps its due time, long past when no monitor has run: `schedule` said
 * "next <a time gone>" where `schedules` says "(overdue by 9 min: no monitor runs to fire it)",
 * a deployment that sets its schedules at each start told nothing of it. Said as `schedules`
 * says it, of that very tick (read with its due time the one the set answered: another
 * client's set in between is not described); empty when it is not overdue, or cannot be read.
 */
async function overdueNote(client: Client, name: string, next: number): Promise<string> {
  const shown = (await client.schedules().catch(() => [])).find((x) => x.name === name && x.invalid === undefined && x.next === next);
  if (!shown || shown.overdue <= OVERDUE_MS) return '';
  return ` (overdue by ${span(shown.overdue)}: ${overdueWhy(await client.monitors().catch(() => undefined))})`;
}

const NAME: Positional = { syntax: '<name>', noun: 'schedule name', doc: "the schedule's name" };

async function runSchedule(inv: Invocation): Promise<number> {
  const [name, fn, data] = inv.args as [string, string, unknown];
  const v = inv.opts;
  const cron = v.cron as string | undefined;
  const every = v.every as number | undefined;
  if ((cron === undefined) === (every === undefined)) throw new UsageError(`schedule: give --cron <expr> or --every <ms>, not ${cron === undefined ? 'neither' : 'both'} (usage: ${inv.usage})`);
  if (typeof v.tz === 'string' && cron === undefined) throw new UsageError('schedule: --tz only goes with --cron');
  const spec: ScheduleSpec = cron !== undefined ? { cron, ...(typeof v.tz === 'string' ? { tz: v.tz } : {}) } : { every: every! };
  const options: ScheduleOptions = taskOptionValues(v);
  if (v.overlap !== undefined) options.overlap = v.overlap as 'allow' | 'skip';
  return withClient(inv, async (client) => {
    const r = await client.schedule(name, spec, fn, data, options);
    // Said from what this call set and what it answered (the next tick, read in its own step),
    // not read again: a schedule of that name another client set in between would be described.
    // (its definition as the library stores it, checked and normalised by the same function:
    // the cron trimmed, the zone UTC when none was given; unchanged, the one stored is the same)
    const { def } = checkSchedule(name, spec, fn, data, options);
    const next = r.next === null ? 'no tick left' : `next ${isoTime(r.next) ?? '?'}${r.changed ? '' : await overdueNote(client, name, r.next)}`;
    inv.io.stdout.write(`${r.changed ? 'scheduled' : 'unchanged'} ${scheduleHead(name, def)}; ${next}\n`);
    return 0;
  }, fieldValues(CLIENT_FIELDS, v));
}

export const SCHEDULE_COMMANDS: CommandSpec[] = [
  {
    name: 'schedule',
    summary: 'queue a task at every tick of a cron expression or every n ms (the monitors fire it)',
    details:
      "The cron expression is croner's: 5 fields, 6 with seconds first, or 7 with a year last (--cron\n" +
      '"0 3 * * *"), read in --tz (an IANA zone, default UTC). Each tick fires once whatever the number of monitors (at\n' +
      'least one must run); ticks missed while none ran fire once, for the latest. Setting the same\n' +
      'schedule again changes nothing; a changed one starts over from its next tick.',
    usage: '<name> <function> [json-data]  --cron <expr> [--tz zone] | --every <ms>  [options]',
    args: [NAME, FUNCTION, JSON_DATA],
    options: [
      new Option('--cron <expr>', 'a cron expression, e.g. "0 3 * * *" (not with --every)'),
      new Option('--tz <zone>', 'the time zone of --cron, e.g. Europe/Berlin (default UTC)'),
      // (the library's bounds, said of the flag: under 10 it was refused as `schedule "n": every must be ...`)
      integerOption('--every <ms>', `every this many ms, from ${MIN_EVERY_MS} to ${MAX_EVERY_MS} (not with --cron)`, MIN_EVERY_MS, MAX_EVERY_MS),
      choiceOption('--overlap <allow|skip>', 'skip: skip a tick while the last task is queued or running (default allow)', ['allow', 'skip']),
      ...taskOptions(),
      ...fieldOptions(CLIENT_FIELDS),
    ],
    run: runSchedule,
  },
  {
    name: 'unschedule',
    summary: 'remove a schedule: none of its ticks fires from now on',
    args: [NAME],
    run: runWithClient(async (client, inv) => {
      const name = inv.args[0] as string;
      if (await client.unschedule(name)) {
        inv.io.stdout.write(`unscheduled ${quote(name)}\n`);
        return 0;
      }
      inv.io.stderr.write(`${PROG}: no schedule named ${quote(name)}\n`);
      return 1;
    }),
  },
  {
    name: 'schedules',
    summary: 'list the schedules: when each fires next, and what it queued last',
    options: [jsonOption()],
    run: runWithClient(async (client, inv) => {
      const list = await client.schedules();
      // (read only when a tick is overdue, to say why; a user that may not read them is told less)
      const monitors = list.some((x) => x.invalid === undefined && x.overdue > OVERDUE_MS) ? await client.monitors().catch(() => undefined) : undefined;
      return reportResult(inv, list, (items) => (items.length === 0 ? ['no schedules set'] : items.map((x) => describeSchedule(x, monitors))));
    }),
  },
];
