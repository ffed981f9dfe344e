/**
 * One question asked of every primary of a Cluster at once (the server's version, the function
 * library), where one that does not answer is passed over: another shard down (frozen, cut off
 * by a partition, failing over) is not this swarm's concern until it serves the swarm's slot.
 *
 * Waiting for every answer held each start as long as a call's deadline on a silent node (a
 * worker's command timeout, 10 s for a client's first call): once one primary has answered,
 * the others get SILENT_NODE_GRACE_MS more, and one still silent then counts as not answering.
 * A node that answers within that and refuses still fails the caller. The node the swarm needs
 * is asked again by the swarm's own calls, which fail on their own when it is the silent one.
 */
import type { Redis } from 'ioredis';

/** how long the other primaries may take to answer once one has */
export const SILENT_NODE_GRACE_MS = 1000;

/** a primary passed over for its silence (a rejected result's reason) */
export class SilentNodeError extends Error {
  constructor(node: Redis, ms: number) {
    super(`node ${node.options.host}:${node.options.port} did not answer within ${ms} ms of another primary`);
    this.name = 'SilentNodeError';
  }
}

/** `ask` of each node: every result settled, or `graceMs` after the first answer, the silent ones rejected */
export async function askPrimaries<T>(nodes: Redis[], ask: (node: Redis) => Promise<T>, graceMs = SILENT_NODE_GRACE_MS): Promise<PromiseSettledResult<T>[]> {
  const results: (PromiseSettledResult<T> | undefined)[] = nodes.map(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  let cut: () => void = () => {};
  const graceOver = new Promise<void>((resolve) => (cut = resolve));
  const all = Promise.all(
    nodes.map((node, i) =>
      ask(node).then(
        (value) => {
          results[i] = { status: 'fulfilled', value };
          timer ??= setTimeout(cut, graceMs);
        },
        (reason: unknown) => void (results[i] = { status: 'rejected', reason }),
      ),
    ),
  );
  try {
    await Promise.race([all, graceOver]);
  } finally {
    clearTimeout(timer);
  }
  return results.map((r, i) => r ?? { status: 'rejected', reason: new SilentNodeError(nodes[i]!, graceMs) });
}
