/** Schedules: `schedule` sets one (cron or every n ms), `unschedule` removes it, `schedules` lists them. */
import { Option } from 'commander';
import type { ScheduleInfo, ScheduleOptions, ScheduleSpec } from '../../schedule.js';
import type { CommandSpec, Invocation, Positional } from '../command-spec.js';
import { UsageError } from '../errors.js';
import { escapeControls, isoTime, quote } from '../format.js';
import { PROG } from '../io.js';
import { choiceOption, integerOption, jsonOption } from '../options.js';
import { runWithClient, withClient } from '../redis-session.js';
import { runList } from './list-command.js';
import { FUNCTION, JSON_DATA, taskOptions, taskOptionValues } from './tasks.js';

function describeSchedule(s: ScheduleInfo): string {
  if (s.invalid !== undefined) return `${quote(s.name)}: not a schedule, never fired: ${escapeControls(s.invalid)} (set it again or unschedule it)`;
  const when = 'every' in s.spec ? `every ${s.spec.every} ms` : `cron ${quote(s.spec.cron)} ${s.spec.tz}`;
  const next = s.next === null ? 'no tick left' : `next ${isoTime(s.next) ?? '?'}`;
  const last = s.last === null ? 'not fired yet' : `last ${isoTime(s.last) ?? '?'} (${escapeControls(s.lastId ?? '')})`;
  const skipped = s.skipped ? `, ${s.skipped} skipped` : '';
  return `${quote(s.name)}: ${when} -> ${quote(s.fn)}${s.overlap === 'skip' ? ', overlap skip' : ''}; ${next}; ${last}${skipped}`;
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
  return withClient(inv.redis, async (client) => {
    const r = await client.schedule(name, spec, fn, data, options);
    const shown = (await client.schedules()).find((s) => s.name === name);
    inv.io.stdout.write(`${r.changed ? 'scheduled' : 'unchanged'} ${shown ? describeSchedule(shown) : quote(name)}\n`);
    return 0;
  });
}

export const SCHEDULE_COMMANDS: CommandSpec[] = [
  {
    name: 'schedule',
    summary: 'queue a task at every tick of a cron expression or every n ms (the monitors fire it)',
    details:
      "The cron expression is croner's: 5 fields, or 6 with seconds first (--cron \"0 3 * * *\"), read\n" +
      'in --tz (an IANA zone, default UTC). Each tick fires once whatever the number of monitors (at\n' +
      'least one must run); ticks missed while none ran fire once, for the latest. Setting the same\n' +
      'schedule again changes nothing; a changed one starts over from its next tick.',
    usage: '<name> <function> [json-data]  --cron <expr> [--tz zone] | --every <ms>  [options]',
    args: [NAME, FUNCTION, JSON_DATA],
    options: [
      new Option('--cron <expr>', 'a cron expression, e.g. "0 3 * * *" (not with --every)'),
      new Option('--tz <zone>', 'the time zone of --cron, e.g. Europe/Berlin (default UTC)'),
      integerOption('--every <ms>', 'every this many ms (not with --cron)', 1),
      choiceOption('--overlap <allow|skip>', 'skip: skip a tick while the last task is queued or running (default allow)', ['allow', 'skip']),
      ...taskOptions(),
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
    run: runList((c) => c.schedules(), describeSchedule, 'no schedules set'),
  },
];
