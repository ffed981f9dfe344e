/**
 * An invoked effect that the machine moves on from however it settles: when it resolves to
 * `done`, when it fails to `failed`, the failure reported (the machine's reportError action).
 */
export const effect = <S extends string, D extends string, F extends string>(src: S, to: { done: D; failed: F }) => ({
  src,
  onDone: to.done,
  onError: { target: to.failed, actions: 'reportError' as const },
});
