/**
 * Reading what a pure `transition()` step asks for, shared by the machines' unit tests: which
 * actors it invokes (with what input), which delayed events it schedules, and the events that
 * the runtime would send back for an invoked actor.
 */
import type { AnyActorRef } from 'xstate';

type Action = { type: string; params?: unknown };
type Snap = { children: Record<string, unknown>; value: unknown };

/** sources of the actors a step starts (invoked) */
export const invoked = (actions: readonly Action[]) => actions.filter((a) => a.type === 'xstate.spawnChild').map((a) => (a.params as { src: unknown }).src);

/** the input the actor from `src` that a step starts gets */
export const inputOf = (actions: readonly Action[], src: string) => {
  const a = actions.find((x) => x.type === 'xstate.spawnChild' && (x.params as { src: unknown }).src === src);
  return (a?.params as { actorRef?: { options?: { input?: unknown } } } | undefined)?.actorRef?.options?.input;
};

/** delayed events a step schedules: event type -> delay (ms) */
export const scheduled = (actions: readonly Action[]) =>
  Object.fromEntries(
    actions
      .filter((a) => a.type === 'xstate.raise' && (a.params as { delay?: number }).delay !== undefined)
      .map((a) => {
        const p = a.params as { event: { type: string }; delay: number };
        return [p.event.type, p.delay];
      }),
  );

/** the id of the running child actor from `src` */
export const childOf = (snap: Snap, src: string): string => {
  const hit = Object.entries(snap.children).find(([, ref]) => (ref as AnyActorRef | undefined)?.src === src);
  if (!hit) throw new Error(`no child actor from "${src}" in ${JSON.stringify(snap.value)}`);
  return hit[0];
};

/** the event of the child actor from `src` finishing with `output` */
export const doneEvent = <E>(snap: Snap, src: string, output?: unknown) => ({ type: `xstate.done.actor.${childOf(snap, src)}`, output }) as unknown as E;

/** the event of the child actor from `src` failing */
export const errorEvent = <E>(snap: Snap, src: string, error: unknown = new Error('fake failure')) =>
  ({ type: `xstate.error.actor.${childOf(snap, src)}`, error }) as unknown as E;

/** the event a delay fires */
export const afterEvent = <E>(delay: string, stateId: string) => ({ type: `xstate.after.${delay}.${stateId}` }) as unknown as E;
