/** What the machines' states invoke, where every machine writes it the same way. */

/** An actor invoked under its own name: its id (the key of the machine's children) is its src. */
export const named = <const S extends string>(src: S) => ({ id: src, src });

type Settled<D, F> = { onDone: D; onError: { target: F; actions: 'reportError' } };

/**
 * An invoked effect that the machine moves on from however it settles: when it resolves, by
 * `done` (a target, or a transition with its actions); when it fails, to `failed`, the failure
 * reported (the machine's reportError action). `input`, when given, is what the effect takes.
 */
export function effect<const S extends string, const D, const F extends string>(src: S, to: { done: D; failed: F }): { src: S } & Settled<D, F>;
export function effect<const S extends string, const I, const D, const F extends string>(src: S, to: { input: I; done: D; failed: F }): { src: S; input: I } & Settled<D, F>;
export function effect(src: string, { done, failed, ...input }: { input?: unknown; done: unknown; failed: string }) {
  return { src, ...input, onDone: done, onError: { target: failed, actions: 'reportError' } };
}
