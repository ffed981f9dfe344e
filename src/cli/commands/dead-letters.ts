/** The dead-letter list: `dead` lists it by key, `retry-dead` and `purge-dead` act on one entry. */
import type { Client } from '../../client.js';
import { InvalidTaskError } from '../../errors.js';
import type { CommandSpec, Invocation, Positional } from '../command-spec.js';
import { RuntimeError, UsageError } from '../errors.js';
import { dateTime, isObject, quote, text } from '../format.js';
import { PROG } from '../io.js';
import { integerOption, jsonOption } from '../options.js';
import { runWithClient } from '../redis-session.js';
import { reportResult } from '../result.js';
import { isPlainInteger } from '../values.js';

/** One dead letter as a line; its fields are whatever the store holds, so every one is optional. */
function deadLetterLine(l: unknown): string {
  const o = isObject(l) ? l : {};
  const id = o.id === undefined || o.id === null || o.id === '' ? '' : `id=${text(o.id)}  `;
  return `key ${text(o.key ?? '?')}  ${dateTime(o.at)}  ${text(o.reason ?? '?')}  ${id}${text(o.message ?? '')}`;
}

const deadKey = (command: string): Positional => ({
  syntax: '<key>',
  noun: 'key (as listed by `dead`)',
  doc: "the dead letter's key, as `dead` lists it",
  // (a swarm of several partitions lists each key after its partition's number, `1/17`, as
  // Client.deadLetters gives it: that form was refused here as no number, so no letter of such a
  // swarm could be retried or purged from the command line; each part is a plain integer)
  parse: (key) => {
    const parts = key.split('/');
    if (parts.length > 2 || !parts.every((p) => isPlainInteger(p) && !p.startsWith('-'))) {
      throw new UsageError(`${command}: a dead letter's key is a number, as listed by \`${PROG} dead\`; got ${quote(key)}`);
    }
    return key;
  },
});

/**
 * retryDead's refusal of an entry that, queued as it stands, would only be parked again (its own
 * bytes are what was refused: bad JSON, no id, a bad option; or cut at 4 KB): nothing was done,
 * as for a key no letter has, so exit status 1 with a line saying why. It was an
 * InvalidTaskError, exit status 2, which says the command line was wrong: it was not.
 */
const refusedAsIs =
  (key: string) =>
  (e: unknown): never => {
    if (e instanceof InvalidTaskError) throw new RuntimeError(`nothing retried: ${e.message} (\`${PROG} purge-dead ${key}\` purges it)`);
    throw e;
  };

/** retry-dead and purge-dead: `act` on the dead letter named by its key, then say what it was (`done`). */
function onDead(act: (client: Client, key: string) => Promise<boolean>, done: string): (inv: Invocation) => Promise<number> {
  return runWithClient(async (client, inv) => {
    const key = inv.args[0] as string;
    const letter = await client.deadLetter(key);
    if (!letter || !(await act(client, key).catch(refusedAsIs(key)))) throw new RuntimeError(`no dead letter with key ${key} (retried, purged or dropped already; \`${PROG} dead\` lists them)`);
    inv.io.stdout.write(`${done} dead letter ${key}${letter.id ? ` (task ${text(letter.id)}, was ${text(letter.reason)})` : ` (${text(letter.reason)})`}\n`);
    return 0;
  });
}

export const DEAD_LETTER_COMMANDS: CommandSpec[] = [
  {
    name: 'dead',
    summary: 'list the dead letters, newest first, each with its key',
    details: 'A key names its entry for good: `retry-dead <key>` and `purge-dead <key>` take it, whatever was parked since.',
    options: [integerOption('--limit <n>', 'show at most n entries (default 20)', 1), jsonOption()],
    run: runWithClient(async (client, inv) => {
      const limit = (inv.opts.limit as number | undefined) ?? 20;
      const [letters, { dead }] = await Promise.all([client.deadLetters({ limit }), client.stats()]);
      return reportResult(inv, letters, () => {
        if (letters.length === 0) return ['no dead letters'];
        const older = dead > letters.length ? [`(${dead - letters.length} older not shown; --limit ${dead} shows all)`] : [];
        return [...letters.map(deadLetterLine), ...older];
      });
    }),
  },
  {
    name: 'retry-dead',
    summary: 'put the task of dead letter <key> (as listed by `dead`) back on the queue',
    details:
      'Exit status 1 when nothing was retried: no letter has that key (retried, purged or dropped already), or its entry\n' +
      'is refused as it stands (not JSON, no id or function, a bad option, kept cut at 4 KB, or no entry at all: a task\n' +
      'whose entry was removed by hand; a duplicate while the task whose id it holds is there), which would only be\n' +
      'parked again; the line says which. Purge such a letter\n' +
      'and send the task again, fixed.',
    args: [deadKey('retry-dead')],
    run: onDead((client, key) => client.retryDead(key), 'requeued'),
  },
  {
    name: 'purge-dead',
    summary: 'delete dead letter <key>, and its parked task with it',
    args: [deadKey('purge-dead')],
    run: onDead((client, key) => client.purgeDead(key), 'purged'),
  },
];
