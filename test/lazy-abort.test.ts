/**
 * A run's AbortSignal is made only when the task function reads it; it must behave as if it had
 * existed all along.
 */
import { describe, expect, it } from 'vitest';
import { LazyAbort } from '../actors/lazy-abort.js';

describe('LazyAbort (a task run\'s AbortSignal, made on first read)', () => {
  it('a signal read before the abort fires its listeners with the reason', () => {
    const a = new LazyAbort();
    const signal = a.signal;
    const seen: unknown[] = [];
    signal.addEventListener('abort', () => seen.push(signal.reason));
    const reason = new Error('stop');
    a.abort(reason);
    expect(signal.aborted).toBe(true);
    expect(seen).toEqual([reason]);
    expect(a.signal).toBe(signal);
  });

  it('a signal first read after the abort is born aborted, with the reason', () => {
    const a = new LazyAbort();
    const reason = new Error('halted');
    a.abort(reason);
    expect(a.aborted).toBe(true);
    expect(a.signal.aborted).toBe(true);
    expect(a.signal.reason).toBe(reason);
  });

  it('only the first abort counts', () => {
    const a = new LazyAbort();
    const first = new Error('first');
    a.abort(first);
    a.abort(new Error('second'));
    expect(a.signal.reason).toBe(first);
  });
});
