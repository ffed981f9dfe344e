/** (the deployments live in tools/, shared with the bench's Sentinel scenario) */
import { Redis } from 'ioredis';
import { buildKeys } from '../../src/keys.js';
import { resolveRedisConfig } from '../../src/config.js';

export * from '../../tools/deployments.js';

/** the port of the primary serving the slot of the swarm on `keyPrefix`, asked of the first seed */
export async function swarmHome(seeds: { host: string; port: number }[], keyPrefix: string): Promise<number> {
  const key = buildKeys(resolveRedisConfig({ cluster: seeds, keyPrefix })).newQueue;
  const admin = new Redis({ port: seeds[0]!.port });
  try {
    const slot = Number(await admin.cluster('KEYSLOT', key));
    const slots = (await admin.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
    return slots.find(([a, b]) => slot >= a && slot <= b)![2][1];
  } finally {
    admin.disconnect();
  }
}
