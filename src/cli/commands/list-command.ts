/** A command that lists (limits, schedules): the list as JSON with --json, else a line each, or a line saying it is empty. */
import type { Client } from '../../client.js';
import type { Invocation } from '../command-spec.js';
import { printJson } from '../format.js';
import { runWithClient } from '../redis-session.js';

export function runList<T>(list: (client: Client) => Promise<T[]>, describe: (item: T) => string, none: string): (inv: Invocation) => Promise<number> {
  return runWithClient(async (client, inv) => {
    const items = await list(client);
    if (inv.opts.json === true) printJson(inv.io, items);
    else if (items.length === 0) inv.io.stdout.write(`${none}\n`);
    else for (const item of items) inv.io.stdout.write(describe(item) + '\n');
    return 0;
  });
}
