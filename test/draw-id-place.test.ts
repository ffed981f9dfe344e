/**
 * In a partitioned swarm an id `drawId` drew lies in the partition of the group or dedupe key it
 * was drawn for. Submitted with another group or key (or drawn for none and submitted with one),
 * the task landed where its id hashes, away from the place a submit with that group or key uses:
 * two submits with one dedupe key were both queued, and the task ran twice; a group's limit held
 * per partition. Such a submit is refused, naming the id, and nothing is written.
 */
import { describe, expect, it } from 'vitest';
import { Client, ConfigError } from '../src/index.js';
import { partitionOf, partitionOfPlace } from '../src/partitions.js';
import { quiet } from './helpers/order.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

const N = 4;
let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

let swarms = 0;
function client() {
  const c = new Client({ redis: server.options({ partitions: N, keyPrefix: `{place-${++swarms}}:` }), logger: quiet });
  cleanup.push(() => c.close());
  return c;
}

/** an id drawn by `c` (with `drawn`) that does not lie in `place`'s partition */
function drawnAway(c: Client, place: string, drawn: { group?: string; key?: string } = {}): string {
  for (;;) {
    const id = c.drawId(drawn);
    if (partitionOf(id, N) !== partitionOfPlace(place, N)) return id;
  }
}

/** tasks waiting, on the ingress or placed in f's queue, over every partition */
async function waiting(c: Client): Promise<number> {
  const s = await c.stats();
  return s.queued + (s.functions.f?.queued ?? 0);
}

async function refusal(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => v,
    (e: unknown) => e,
  );
}

describe('a drawn id submitted with another place than it was drawn for', () => {
  it('with a dedupe key another task holds: refused, not queued as a second task under the key', async () => {
    const c = client();
    const first = await c.submit('f', null, { key: 'invoice-42' });
    const id = drawnAway(c, 'invoice-42');
    const second = await refusal(c.submit('f', null, { id, key: 'invoice-42' }));
    expect(second).toBeInstanceOf(ConfigError);
    expect((second as Error).message).toMatch(new RegExp(`submit: task id "${id}" was drawn`));
    expect(await c.get(id)).toBeNull();
    expect(await waiting(c)).toBe(1);
    // drawn for the key, it meets the task that holds it
    expect(await c.submit('f', null, { id: c.drawId({ key: 'invoice-42' }), key: 'invoice-42' })).toBe(first);
  });

  it('with another group: refused; with the group it was drawn for, or none, queued', async () => {
    const c = client();
    const away = drawnAway(c, 'tenant-b', { group: 'tenant-a' });
    expect(await refusal(c.submit('f', null, { id: away, group: 'tenant-b' }))).toBeInstanceOf(ConfigError);
    expect(await c.get(away)).toBeNull();
    expect(await c.submit('f', null, { id: away, group: 'tenant-a' })).toBe(away);
    const plain = c.drawId({ group: 'tenant-a' });
    expect(await c.submit('f', null, { id: plain })).toBe(plain);
    expect(await waiting(c)).toBe(2);
  });

  it('in a submitMany: refused whole, naming its index, nothing written', async () => {
    const c = client();
    const ok = c.drawId({ group: 'g' });
    const away = drawnAway(c, 'g');
    const r = await refusal(
      c.submitMany([
        { fn: 'f', options: { id: ok, group: 'g' } },
        { fn: 'f', options: { id: away, group: 'g' } },
      ]),
    );
    expect(r).toBeInstanceOf(ConfigError);
    expect((r as Error).message).toMatch(/^submitMany\[1\]: /);
    expect(await waiting(c)).toBe(0);
  });

  it('an id of the caller\'s own is not checked: it lands where it hashes, as documented', async () => {
    const c = client();
    let own = 'own-0';
    for (let i = 1; partitionOf(own, N) === partitionOfPlace('g', N); i++) own = `own-${i}`;
    expect(await c.submit('f', null, { id: own, group: 'g' })).toBe(own);
  });
});
