/**
 * The keys of each partition of a swarm (src/partitions.ts says what partitions are): their
 * prefixes, from the keyPrefix's hash tag. Apart from the rest of partitions.ts, which draws task
 * ids and so imports the submission and schedule modules, so that the connection module can
 * name the swarm's partitions without importing those (an import cycle that left a module
 * half-made when a test imported them first).
 */
import calculateSlot from 'cluster-key-slot';
import { hashTag } from './redis-forms.js';
import { buildKeys, type Keys } from './keys.js';
import type { RedisConfig } from './config.js';

const SLOTS = 16384;

/** the keyPrefix of partition `p` of `n` (the prefix itself when n is 1) */
export function partitionPrefix(keyPrefix: string, p: number, n: number): string {
  if (n === 1) return keyPrefix;
  const tag = hashTag(keyPrefix);
  if (tag === undefined) throw new Error(`partitionPrefix: keyPrefix ${JSON.stringify(keyPrefix)} holds no hash tag`);
  const open = keyPrefix.indexOf('{');
  const close = keyPrefix.indexOf('}', open + 1);
  const lo = Math.floor((p * SLOTS) / n);
  const hi = Math.floor(((p + 1) * SLOTS) / n);
  for (let k = 0; ; k++) {
    const t = k === 0 ? `${tag}:${p}` : `${tag}:${p}.${k}`;
    const slot = calculateSlot(`{${t}}`);
    if (slot >= lo && slot < hi) return `${keyPrefix.slice(0, open)}{${t}}${keyPrefix.slice(close + 1)}`;
  }
}

/** the keys of every partition, in order */
export function partitionKeys(c: RedisConfig): Keys[] {
  const n = c.partitions;
  return Array.from({ length: n }, (_, p) => buildKeys({ ...c, keyPrefix: partitionPrefix(c.keyPrefix, p, n) }));
}
