/**
 * A role's ACL rules name the commands its scripts call, read from the Lua sources (src/acl.ts
 * scriptCommands, SCRIPT_CALL). A call whose command name is held in a variable is not read, and
 * Redis refuses it to the role mid-script: requeue.lua's first reads of its keys were so written,
 * and the shipped monitor user could not sweep (test/acl.test.ts caught it on CI). Every call
 * names its command where the reader sees it; lib/summed-call.lua, which sums a command over a
 * long list, and lib/refusal.lua's refusedAt, which asks whether Redis would refuse a read, take
 * their names from callers that give them literally.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCRIPT_CALL } from '../src/acl.js';

const LUA = join(import.meta.dirname, '../src/lua');
const files = [...readdirSync(LUA).map((f) => join(LUA, f)), ...readdirSync(join(LUA, 'lib')).map((f) => join(LUA, 'lib', f))].filter((f) => f.endsWith('.lua'));

describe("the commands a script calls, as the ACL rules read them", () => {
  it('are named literally at every call', () => {
    const hidden: string[] = [];
    for (const f of files) {
      // (the helpers that call the command their callers name: counted at those calls)
      if (f.endsWith('summed-call.lua') || f.endsWith('refusal.lua')) continue;
      const text = readFileSync(f, 'utf8');
      const calls = [...text.matchAll(/(?:redis\.p?call\(|pcall\(\s*redis\.p?call\s*,|summedCall\(|refusedAt\()/g)].length;
      const named = [...text.matchAll(SCRIPT_CALL)].length;
      if (calls !== named) hidden.push(`${f}: ${calls - named} call(s) with no literal command name`);
    }
    expect(hidden).toEqual([]);
  });
});
