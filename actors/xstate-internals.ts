/**
 * Every xstate internal the compiled interpreter (compiled-machine.ts) reads, in one place: the
 * shape of a machine's state nodes and transitions, what xstate's built-in action creators
 * (assign, enqueueActions, raise, cancel, stopChild) keep on the objects they return, and the
 * actor system's hook for inspection events. None of it is xstate's public API, so an upgrade
 * may change it without notice: package.json pins xstate exactly, and
 * test/machines/xstate-internals.test.ts checks each read against the installed xstate and fails,
 * naming this file, when the version is not the one these reads were checked on. The
 * model-based tests then replay every path of both machines on both interpreters.
 */
import type { AnyActorLogic, AnyActorRef, AnyStateMachine, EventObject } from 'xstate';

/** the xstate version these reads were checked on (the one package.json pins) */
export const XSTATE_VERSION_READ = '5.33.3';

/** the parts of xstate's StateNode read by the compiled interpreter */
export interface XNode {
  id: string;
  key: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  parent?: XNode;
  states: Record<string, XNode>;
  initial?: { target: XNode[] };
  entry: unknown[];
  exit: unknown[];
  transitions: Map<string, XTransition[]>;
  always?: XTransition[];
  invoke: XInvoke[];
  output?: unknown;
}
/** the parts of xstate's TransitionDefinition read */
export interface XTransition {
  source: XNode;
  target?: XNode[];
  reenter: boolean;
  guard?: unknown;
  actions: unknown[];
  eventType: string;
}
export interface XInvoke {
  id: string;
  src: string | AnyActorLogic;
  input?: unknown;
  systemId?: string;
  onSnapshot?: unknown;
}

/** a machine's root state node, as read here */
export const rootOf = (machine: AnyStateMachine): XNode => machine.root as unknown as XNode;

/** what one of xstate's built-in action creators returned, as far as the interpreter runs it */
export type BuiltIn =
  | { kind: 'assign'; assignment: unknown }
  | { kind: 'enqueue'; collect: (args: unknown, params: unknown) => void }
  | { kind: 'raise'; event: unknown; id?: string; delay?: string | number }
  | { kind: 'cancel'; sendId: string }
  | { kind: 'stopChild'; actorRef: AnyActorRef | string }
  /** another built-in (sendTo, emit, log, ...): not run by the interpreter */
  | { kind: 'other'; type: string };

/** the built-in action `fn` is, or undefined for a plain function (a custom action) */
export function builtIn(fn: unknown): BuiltIn | undefined {
  const t = (fn as { type?: unknown } | undefined)?.type;
  if (typeof t !== 'string' || !t.startsWith('xstate.')) return undefined;
  const a = fn as Record<string, unknown>;
  switch (t) {
    case 'xstate.assign':
      return { kind: 'assign', assignment: a.assignment };
    case 'xstate.enqueueActions':
      return { kind: 'enqueue', collect: a.collect as (args: unknown, params: unknown) => void };
    case 'xstate.raise':
      return { kind: 'raise', event: a.event, id: a.id as string | undefined, delay: a.delay as string | number | undefined };
    case 'xstate.cancel':
      return { kind: 'cancel', sendId: a.sendId as string };
    case 'xstate.stopChild':
      return { kind: 'stopChild', actorRef: a.actorRef as AnyActorRef | string };
    default:
      return { kind: 'other', type: t };
  }
}

/**
 * report a microstep to the actor system's inspectors, as xstate reports its own (the model
 * tests compare the transitions taken); a system without inspection (a machine record's) has no
 * such hook
 */
/** whether `system` has the hook reportMicrostep reports to (a machine record's has none unless watched) */
export const inspects = (system: unknown): boolean => typeof (system as { _sendInspectionEvent?: unknown })._sendInspectionEvent === 'function';

export function reportMicrostep(system: unknown, e: { event: EventObject; snapshot: unknown; transitions: XTransition[]; actorRef: unknown }): void {
  const sys = system as { _sendInspectionEvent?(e: unknown): void };
  sys._sendInspectionEvent?.({ type: '@xstate.microstep', event: e.event, snapshot: e.snapshot, _transitions: e.transitions, actorRef: e.actorRef });
}
