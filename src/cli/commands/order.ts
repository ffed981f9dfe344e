/** The order of the queue: `limit`, `limits`, `pause`, `resume`; and `status`, which says what waits and why. */
import { Option } from 'commander';
import type { Client, SwarmStats } from '../../client.js';
import { LIMIT_MAX, type Limit, type LimitInfo, type LimitTarget } from '../../effects/limits.js';
import type { CommandSpec, Invocation, Positional } from '../command-spec.js';
import { UsageError } from '../errors.js';
import { escapeControls, quote, showJson } from '../format.js';
import { PROG } from '../io.js';
import { integerOption, jsonOption, parsedOption } from '../options.js';
import { runWithClient, withClient } from '../redis-session.js';
import { reportResult } from '../result.js';
import { parseRate } from '../values.js';
import { runList } from './list-command.js';

function describeLimit(l: LimitInfo): string {
  const target = l.function !== undefined ? `function ${quote(l.function)}` : `group ${quote(l.group ?? '')}`;
  if (l.invalid !== undefined) return `${target}: not a limit, ignored by the claims: ${showJson(l.invalid).slice(0, 120)} (set it again or --remove it)`;
  const parts = [l.concurrency !== undefined ? `concurrency ${l.concurrency}` : '', l.rate ? `rate ${l.rate.max} per ${l.rate.per} ms` : ''].filter(Boolean);
  return `${target}: ${parts.join(', ') || 'nothing set'} (running ${l.running})`;
}

async function runLimit(inv: Invocation): Promise<number> {
  const fn = inv.args[0] as string | undefined;
  const group = inv.opts.group as string | undefined;
  if ((fn === undefined) === (group === undefined)) throw new UsageError(`limit: name a function or --group <name>, not ${fn === undefined ? 'neither' : 'both'} (usage: ${inv.usage})`);
  const target: LimitTarget = fn !== undefined ? { function: fn } : { group: group! };
  const remove = inv.opts.remove === true;
  const limit: Limit = {};
  if (inv.opts.concurrency !== undefined) limit.concurrency = inv.opts.concurrency as number;
  if (inv.opts.rate !== undefined) limit.rate = inv.opts.rate as Limit['rate'];
  if (remove && Object.keys(limit).length) throw new UsageError('limit: --remove goes alone, without --concurrency or --rate');
  if (!remove && !Object.keys(limit).length) throw new UsageError('limit: give --concurrency n, --rate max/ms (or both), or --remove');
  return withClient(inv, async (client) => {
    await client.setLimit(target, remove ? null : limit);
    const shown = (await client.limits()).find((l) => (fn !== undefined ? l.function === fn : l.group === group));
    inv.io.stdout.write(shown ? describeLimit(shown) + '\n' : `${fn !== undefined ? `function ${quote(fn)}` : `group ${quote(group!)}`}: no limit\n`);
    if (fn !== undefined && !remove) await warnUnknownFunction(inv, client, fn);
    return 0;
  });
}

/**
 * A warning when no live worker serves `fn` and no task of it waits or runs: most often a
 * misspelt name, which `pause` and `limit` would otherwise take in silence (a function named
 * ahead of its deploy is legitimate, so it is no refusal). Nothing when the counts cannot be
 * read (an ACL user that may not), or when tasks not yet routed may be of it.
 */
async function warnUnknownFunction(inv: Invocation, client: Client, fn: string): Promise<void> {
  const s = await client.stats().catch(() => undefined);
  if (!s || s.queued > 0) return;
  const f = s.functions[fn];
  if (f && (f.workers > 0 || f.queued > 0 || f.running > 0 || f.delayed > 0)) return;
  const known = Object.entries(s.functions).filter(([name, x]) => name !== fn && (x.workers > 0 || x.queued > 0 || x.running > 0 || x.delayed > 0));
  const list = known.length ? ` (known: ${known.map(([name]) => quote(name)).sort().join(', ')})` : '';
  inv.warn(`no live worker serves function ${quote(fn)} and no task of it waits or runs: is the name right?${list}`);
}

const OPTIONAL_FUNCTION: Positional = { syntax: '[function]', noun: 'function name', doc: 'only this function (default: the whole swarm)' };

function runPause(what: 'pause' | 'resume'): (inv: Invocation) => Promise<number> {
  return (inv) => {
    const fn = inv.args[0] as string | undefined;
    if (fn === '') throw new UsageError(`${what}: the function name must not be empty`);
    return withClient(inv, async (client) => {
      const target = fn === undefined ? 'the swarm' : `function ${quote(fn)}`;
      if (what === 'pause') {
        await client.pause(fn);
        inv.io.stdout.write(`paused ${target}: no new claims; running tasks go on\n`);
        if (fn !== undefined) await warnUnknownFunction(inv, client, fn);
      } else inv.io.stdout.write((await client.resume(fn)) ? `resumed ${target}\n` : `${target} was not paused\n`);
      if (what === 'resume' && fn !== undefined && (await client.stats()).paused) inv.warn(`the swarm as a whole is still paused (\`${PROG} resume\`)`);
      return 0;
    });
  };
}

/** the swarm's counts, then a table of its functions */
function statusLines(s: SwarmStats): string[] {
  // (the top count is of tasks not routed to their function yet, on `new-task`: a worker's claim
  // routes them; named "queued" it read as the sum of the table's, which count the routed ones;
  // the line under it names them so too)
  const lines = [`incoming ${s.queued}  claimed ${s.tasks}  workers ${s.workers}  dead ${s.dead}  ended (manual_end) ${s.ended}${s.paused ? '  PAUSED (swarm)' : ''}`];
  if (s.queued > 0 && s.workers === 0) lines.push(`no live worker: the ${s.queued} incoming ${s.queued === 1 ? 'task waits' : 'tasks wait'} until one that serves ${s.queued === 1 ? 'its function' : 'their functions'} starts`);
  const names = Object.keys(s.functions).sort();
  if (names.length === 0) return lines;
  const width = Math.max(8, ...names.map((n) => escapeControls(n).length));
  lines.push(`${'function'.padEnd(width)}  ${'queued'.padStart(8)}  ${'running'.padStart(8)}  ${'delayed'.padStart(8)}  ${'workers'.padStart(8)}`);
  for (const n of names) {
    const f = s.functions[n]!;
    const notes = [f.paused ? 'paused' : '', f.queued > 0 && f.workers === 0 ? 'no live worker serves it: its tasks wait' : ''].filter(Boolean).join('; ');
    lines.push(`${escapeControls(n).padEnd(width)}  ${String(f.queued).padStart(8)}  ${String(f.running).padStart(8)}  ${String(f.delayed).padStart(8)}  ${String(f.workers).padStart(8)}${notes ? `  (${notes})` : ''}`);
  }
  return lines;
}

export const ORDER_COMMANDS: CommandSpec[] = [
  {
    name: 'limit',
    summary: 'set (or remove) a swarm-wide limit on a function or a group',
    details:
      'Enforced where tasks start, across all workers: at most --concurrency tasks of the function (or\n' +
      'group, across functions) run at once, at most max start in any ms milliseconds (--rate 100/1000;\n' +
      'the window may also be written 1s, 1m or 1h). Setting a limit replaces the one set before.',
    usage: '<function> | --group <name>  --concurrency n | --rate max/ms | --remove',
    args: [{ syntax: '[function]', noun: 'function name', doc: 'limit this function' }],
    options: [
      new Option('--group <name>', 'limit this group (across functions) instead of a function'),
      integerOption('--concurrency <n>', 'at most n tasks running at once', 1, LIMIT_MAX),
      parsedOption('--rate <max/ms>', 'at most max starts in any window of ms milliseconds', parseRate),
      new Option('--remove', 'remove the limit'),
    ],
    run: runLimit,
  },
  {
    name: 'limits',
    summary: 'list the limits set, each with its tasks running now',
    options: [jsonOption()],
    run: runList((c) => c.limits(), describeLimit, 'no limits set'),
  },
  {
    name: 'pause',
    summary: 'stop new claims across the swarm, or of one function; running tasks go on',
    args: [OPTIONAL_FUNCTION],
    run: runPause('pause'),
  },
  {
    name: 'resume',
    summary: 'let paused claims go on; idle workers start at once',
    args: [OPTIONAL_FUNCTION],
    run: runPause('resume'),
  },
  {
    name: 'status',
    summary: 'counts: incoming (not yet routed to a function), claimed, workers, dead letters, manually ended; per function',
    options: [jsonOption()],
    run: runWithClient(async (client, inv) => {
      const stats = await client.stats();
      // (a swarm run without a monitor looks healthy in the counts, and is not: said under them,
      // only in the text, and only when there is a swarm to say it of. A user that may not read
      // the monitors is told nothing.)
      const unwatched = inv.opts.json !== true && (stats.tasks > 0 || stats.workers > 0) && (await client.monitors().then((m) => !m.some((x) => x.health === 'active'), () => false));
      const note = `no monitor runs: a dead worker's tasks are not taken back, and ended ones stay claimed until one cleans them up (start \`${PROG} monitor\`)`;
      return reportResult(inv, stats, (s) => [...statusLines(s), ...(unwatched ? [note] : [])]);
    }),
  },
];
