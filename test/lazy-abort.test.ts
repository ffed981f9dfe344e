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

  it('onAbort calls its listener once at the abort, without making the signal, and removed calls nothing', () => {
    const a = new LazyAbort();
    const calls: string[] = [];
    a.onAbort(() => calls.push('kept'));
    const off = a.onAbort(() => calls.push('removed'));
    off();
    a.abort(new Error('stop'));
    a.abort(new Error('again'));
    expect(calls).toEqual(['kept']);
    // (the signal was never read: made now, it is born aborted)
    expect(a.signal.aborted).toBe(true);
  });

  it('onAbort after the abort is never called, as an abort listener added to an aborted signal', () => {
    const a = new LazyAbort();
    a.abort();
    const calls: number[] = [];
    a.onAbort(() => calls.push(1))();
    a.onAbort(() => calls.push(2));
    expect(calls).toEqual([]);
  });

  it('onAbort and a listener on a signal already read both hear the abort', () => {
    const a = new LazyAbort();
    const calls: string[] = [];
    a.signal.addEventListener('abort', () => calls.push('signal'));
    a.onAbort(() => calls.push('onAbort'));
    a.abort();
    expect(calls.sort()).toEqual(['onAbort', 'signal']);
  });

  it('onAbort as an abort listener: one removed by another before its turn is not called; one that throws keeps neither the others nor the signal from hearing it', () => {
    const a = new LazyAbort();
    const signal = a.signal;
    const calls: string[] = [];
    let offSecond = () => {};
    a.onAbort(() => {
      calls.push('first');
      offSecond();
    });
    offSecond = a.onAbort(() => calls.push('second'));
    a.onAbort(() => {
      throw new Error('listener');
    });
    a.onAbort(() => calls.push('last'));
    expect(() => a.abort(new Error('stop'))).toThrow('listener');
    expect(calls).toEqual(['first', 'last']);
    expect(signal.aborted).toBe(true);
  });
});
