/** A command that lists (limits, schedules): the list as JSON with --json, else a line each, or a line saying it is empty. */
import type { Client } from '../../client.js';
import type { Invocation } from '../command-spec.js';
import { runWithClient } from '../redis-session.js';
import { reportResult } from '../result.js';

export function runList<T>(list: (client: Client) => Promise<T[]>, describe: (item: T) => string, none: string): (inv: Invocation) => Promise<number> {
  return runWithClient(async (client, inv) => reportResult(inv, await list(client), (items) => (items.length === 0 ? [none] : items.map(describe))));
}
