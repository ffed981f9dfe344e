/**
 * The ids Client makes for tasks are safe on a command line: none starts with "-", which the CLI
 * (task-swarm get / cancel / wait <id>) would read as an option. One nanoid in 64 did, and a CLI
 * test that cancelled a fresh task failed when it drew one.
 */
import { describe, expect, it } from 'vitest';
import { buildSubmission } from '../src/submission.js';

describe('task ids made by the client', () => {
  it('never start with "-" (10,000 of them; 156 would, by chance, without the rule)', () => {
    const ids = Array.from({ length: 10_000 }, () => buildSubmission('f', null, undefined).id);
    expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => /^[A-Za-z0-9_-]{21}$/.test(id))).toBe(true);
  });
});
