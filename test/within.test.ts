/**
 * src/within.ts, the one bounded wait: what it resolves with, and that its timer does not
 * outlive the race (a bounded wait must not keep a process alive after its work is done).
 */
import { describe, expect, it } from 'vitest';
import { within } from '../src/within.js';

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('within', () => {
  it('resolves with the value, or undefined when the time is up or the promise rejects', async () => {
    expect(await within(1000, Promise.resolve(7))).toBe(7);
    expect(await within(10, new Promise(() => {}))).toBeUndefined();
    expect(await within(1000, Promise.reject(new Error('x')))).toBeUndefined();
  });

  it('leaves no timer behind, whichever side wins', async () => {
    const before = timers();
    await within(60_000, Promise.resolve(1));
    await within(60_000, Promise.reject(new Error('x')));
    await within(5, new Promise(() => {}));
    expect(timers()).toBe(before);
  });
});
