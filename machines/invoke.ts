/** What the machines' states invoke, where every machine writes it the same way. */

/** An actor invoked under its own name: its id (the key of the machine's children) is its src. */
export const named = <const S extends string>(src: S) => ({ id: src, src });

/**
 * An invoked effect that the machine moves on from however it settles: when it resolves, by
 * `done` (a target, or a transition with its actions); when it fails, to `failed`, the failure
 * reported (the machine's reportError action).
 */
export const effect = <const S extends string, const D, const F extends string>(src: S, to: { done: D; failed: F }) => ({
  src,
  onDone: to.done,
  onError: { target: to.failed, actions: 'reportError' as const },
});
