/**
 * Data that is not a string but that JSON writes as one (a value whose toJSON gives a string, as
 * a decimal type's does; a String object) reaches the task function as that string, as a string
 * given as data does: '12345678901234567890' arrived as a number with its digits lost, '42' as 42
 * and '{"a":1}' as an object, the entry holding the text where the seed's form holds JSON. A
 * toJSON that throws is refused as data JSON cannot carry; a Date arrives as its ISO text.
 */
import { describe, expect, it } from 'vitest';
import { Logger } from 'tslog';
import { Client, InvalidTaskError, Worker } from '../src/index.js';
import { redisPerFile } from './helpers/suite.js';
import type { RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
const cleanup = redisPerFile((s: RedisServer) => {
  server = s;
});

const hidden = () => new Logger({ type: 'hidden' }) as never;

/** a number kept as its digits, written to JSON as a string (as decimal.js or big.js do) */
class Decimal {
  constructor(private readonly digits: string) {}
  toJSON(): string {
    return this.digits;
  }
}

async function swarm(): Promise<{ c: Client; seen: Map<string, unknown> }> {
  const o = server.options();
  const seen = new Map<string, unknown>();
  const w = new Worker({ port: 0, redis: o, logger: hidden() });
  w.addTaskFunction('echo', async (task) => {
    seen.set(task.id, task.data);
    return null;
  });
  await w.start();
  cleanup.push(() => w.stop());
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return { c, seen };
}

describe('data whose JSON is a string arrives as that string', () => {
  it('submit: a toJSON giving text that reads as JSON, and a String object, arrive as the text', async () => {
    const { c, seen } = await swarm();
    const given: [unknown, string][] = [
      [new Decimal('12345678901234567890'), '12345678901234567890'],
      [new Decimal('42'), '42'],
      [{ toJSON: () => '{"a":1}' }, '{"a":1}'],
      [new String('42'), '42'],
      [new Date(0), '1970-01-01T00:00:00.000Z'],
    ];
    for (const [data, text] of given) {
      const id = await c.submit('echo', data);
      await c.wait(id, { timeout: 5000 });
      expect(seen.get(id)).toBe(text);
      expect((await c.get(id))?.data).toBe(text);
    }
  });

  it('submitMany: the same', async () => {
    const { c, seen } = await swarm();
    const ids = await c.submitMany([{ fn: 'echo', data: new Decimal('7') }, { fn: 'echo', data: new Decimal('[1]') }]);
    for (const id of ids) await c.wait(id, { timeout: 5000 });
    expect(ids.map((id) => seen.get(id))).toEqual(['7', '[1]']);
  });

  it('a toJSON that throws is refused as data JSON cannot carry', async () => {
    const c = new Client({ redis: server.options() });
    cleanup.push(() => c.close());
    const bad = {
      toJSON(): string {
        throw new Error('no text');
      },
    };
    await expect(c.submit('echo', bad)).rejects.toThrow(InvalidTaskError);
    await expect(c.submit('echo', bad)).rejects.toThrow(/not JSON-serialisable: no text/);
  });
});
