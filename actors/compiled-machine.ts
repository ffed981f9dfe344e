/**
 * A machine stepped by a small interpreter instead of xstate's general one: the same statechart
 * (states, transitions, guards, actions, delays and invoked actors are read from the machine's
 * own StateNodes, with the implementations it was provided with), for the subset of statechart
 * features the task and worker machines use. Compiling a machine that uses anything else
 * throws, naming the feature.
 *
 * Why: the worker steps one task machine per task and its own machine a few times per claim, and
 * xstate's general interpreter spent several times the CPU of these steps (measured in
 * docs/task-actors.md, with bench/xstate-cost.ts). It is checked against xstate's own interpretation by the machines'
 * model-based tests (test/model/), which replay every path with both and compare state,
 * context, the transitions taken (reported to the inspector as xstate reports a microstep) and
 * the effects.
 *
 * Supported: atomic, compound and final states (final only as children of the root); event
 * transitions (exact or `prefix.*` descriptors) with an optional named guard, a single target or
 * none, `reenter`; eventless (`always`) transitions; named actions (custom, `assign`,
 * `enqueueActions` enqueuing those or `stopChild`), entry actions, `after` delays; `invoke`
 * (started after the step, stopped on exit, as xstate does; a promise effect, promise-effect.ts,
 * runs without an xstate Actor), an unhandled error of an invoked actor failing the machine;
 * `context` and `output` functions.
 * What it reads of xstate that is not xstate's public API (state nodes, the parts of built-in
 * actions, the inspection hook) it reads through xstate-internals.ts, pinned to one xstate version.
 * Not supported (throws at compile time): parallel and history states, exit actions other than
 * the cancels `after` adds, the `*` descriptor, raise without a delay, inline guard combinators,
 * a final state's own output.
 */
import {
  createActor,
  matchesState,
  type ActorLogic,
  type ActorScope,
  type AnyActorLogic,
  type AnyActorRef,
  type AnyStateMachine,
  type EventObject,
  type Snapshot,
  type StateValue,
} from 'xstate';
import { EffectChild, effectFnOf } from './promise-effect.js';
import { builtIn, inspects, reportMicrostep, rootOf, type XNode, type XTransition } from './xstate-internals.js';

interface Node {
  x: XNode;
  parent?: Node;
  initial?: Node;
  final: boolean;
  entry: Step[];
  exit: Step[];
  invoke: { id: string; src: string | AnyActorLogic; logic: AnyActorLogic; input: unknown; systemId?: string }[];
  on: Map<string, Transition[]>;
  /** `prefix.*` descriptors, longest first (xstate's order), with their transitions */
  partial: { prefix: string; transitions: Transition[] }[];
  always: Transition[];
  /** the state value when this is the active leaf */
  value: StateValue;
  /** the active state nodes when this is the active leaf, root first */
  path: XNode[];
}
interface Transition {
  x: XTransition;
  source: Node;
  target?: Node;
  guard?: { name: string; params: unknown };
  actions: Step[];
  /** the transition domain, computed once */
  domain?: Node | null;
}
type Step =
  | { kind: 'custom'; name: string; fn: (args: unknown, params: unknown) => void; params: unknown }
  | { kind: 'assign'; assignment: unknown; params: unknown }
  | { kind: 'enqueue'; collect: (args: unknown, params: unknown) => void; params: unknown }
  | { kind: 'stop'; ref: AnyActorRef | string }
  | { kind: 'schedule'; id: string; event: EventObject; delay: string | number }
  | { kind: 'cancel'; id: string };

/** the snapshot of a compiled machine's actor, as xstate sees it */
export type CompiledSnapshot<C> = Snapshot<unknown> & State<C>;

interface State<C> {
  status: 'active' | 'done' | 'error' | 'stopped';
  value: StateValue;
  context: C;
  output: unknown;
  error: unknown;
  /** invoked actors, by invoke id, as on xstate's snapshots */
  children: Record<string, AnyActorRef>;
  /** xstate's snapshot API, as far as callers use it */
  matches(v: StateValue): boolean;
  /** the active state nodes, as on xstate's snapshots (read by the model-based tests) */
  _nodes: XNode[];
  /** @internal */
  leaf: Node;
  /** @internal delayed events scheduled by `after`, by id */
  timers: Map<string, unknown>;
}

type Impl = { actions: Record<string, unknown>; guards: Record<string, unknown>; delays: Record<string, unknown>; actors: Record<string, unknown> };
type Scope = ActorScope<any, any>;
type Clock = { setTimeout(f: () => void, ms: number): unknown; clearTimeout(h: unknown): void };

const unsupported = (what: string, where: string) => new Error(`compiled machine: ${what} (in ${where}) is not supported`);
const clockOf = (scope: Scope) => (scope.self as unknown as { clock: Clock }).clock;

function actionStep(a: unknown, impl: Impl, where: string): Step {
  let name: string | undefined;
  let params: unknown;
  let fn: unknown = a;
  if (typeof a === 'string') name = a;
  else if (a && typeof a === 'object' && typeof (a as { type?: unknown }).type === 'string') {
    name = (a as { type: string }).type;
    params = (a as { params?: unknown }).params;
  }
  if (name !== undefined) {
    fn = impl.actions[name];
    if (fn === undefined) throw unsupported(`action "${name}" with no implementation`, where);
  }
  const b = builtIn(fn);
  if (b?.kind === 'assign') return { kind: 'assign', assignment: b.assignment, params };
  if (b?.kind === 'enqueue') return { kind: 'enqueue', collect: b.collect, params };
  if (b?.kind === 'raise') {
    if (b.delay === undefined || typeof b.event !== 'object') throw unsupported('raise without a delay', where);
    return { kind: 'schedule', id: b.id ?? (b.event as EventObject).type, event: b.event as EventObject, delay: b.delay };
  }
  if (b?.kind === 'cancel') return { kind: 'cancel', id: b.sendId };
  if (b?.kind === 'stopChild') return { kind: 'stop', ref: b.actorRef };
  if (b) throw unsupported(`built-in action ${b.type}`, where);
  if (typeof fn !== 'function') throw unsupported(`action ${String(name)}`, where);
  return { kind: 'custom', name: name ?? (fn as { name: string }).name, fn: fn as (args: unknown, params: unknown) => void, params };
}

function compileNodes(machine: AnyStateMachine, impl: Impl): Node {
  const byX = new Map<XNode, Node>();
  const build = (x: XNode, parent: Node | undefined, path: string[], xs: XNode[]): Node => {
    if (x.type === 'parallel' || x.type === 'history') throw unsupported(`${x.type} state`, x.id);
    if (x.type === 'final' && parent?.parent) throw unsupported('a final state below the root', x.id);
    if (x.type === 'final' && x.output !== undefined) throw unsupported("a final state's own output", x.id);
    let value: StateValue = path.at(-1) ?? '';
    for (let i = path.length - 2; i >= 0; i--) value = { [path[i]!]: value };
    const node: Node = {
      x,
      parent,
      final: x.type === 'final',
      entry: x.entry.map((a) => actionStep(a, impl, x.id)),
      exit: x.exit.map((a) => actionStep(a, impl, x.id)),
      invoke: x.invoke.map((d) => {
        if (d.onSnapshot) throw unsupported('invoke with onSnapshot', x.id);
        const logic = (typeof d.src === 'string' ? impl.actors[d.src] : d.src) as AnyActorLogic | undefined;
        if (!logic) throw unsupported(`actor "${String(d.src)}" with no implementation`, x.id);
        if (d.systemId !== undefined && effectFnOf(logic)) throw unsupported('a promise effect with a systemId', x.id);
        return { id: d.id, src: d.src, logic, input: d.input, systemId: d.systemId };
      }),
      on: new Map(),
      partial: [],
      always: [],
      value,
      path: [...xs, x],
    };
    if (node.exit.some((s) => s.kind !== 'cancel')) throw unsupported('exit actions', x.id);
    byX.set(x, node);
    for (const [k, c] of Object.entries(x.states)) build(c, node, [...path, k], node.path);
    return node;
  };
  const root = build(rootOf(machine), undefined, [], []);
  const transition = (t: XTransition, node: Node, where: string): Transition => {
    if ((t.target?.length ?? 0) > 1) throw unsupported('several targets', where);
    let guard: Transition['guard'];
    if (t.guard !== undefined) {
      const g = t.guard as string | { type?: unknown; params?: unknown };
      const name = typeof g === 'string' ? g : typeof g === 'object' && typeof g.type === 'string' ? g.type : undefined;
      if (name === undefined || typeof impl.guards[name] !== 'function') throw unsupported('a guard that is not a named function', where);
      guard = { name, params: typeof g === 'object' ? g.params : undefined };
    }
    return { x: t, source: node, target: t.target?.[0] ? byX.get(t.target[0]) : undefined, guard, actions: t.actions.map((a) => actionStep(a, impl, where)) };
  };
  for (const [x, node] of byX) {
    if (x.initial?.target.length) node.initial = byX.get(x.initial.target[0]!);
    for (const [type, ts] of x.transitions) {
      const compiled = ts.map((t) => transition(t, node, `${x.id} on ${type}`));
      if (type === '*') throw unsupported('the "*" event descriptor', x.id);
      if (type.endsWith('.*')) node.partial.push({ prefix: type.slice(0, -1), transitions: compiled });
      else if (type.includes('*')) throw unsupported(`event descriptor "${type}"`, x.id);
      else node.on.set(type, compiled);
    }
    node.partial.sort((a, b) => b.prefix.length - a.prefix.length);
    node.always = (x.always ?? []).map((t) => transition(t, node, `${x.id} (always)`));
  }
  return root;
}

const isDescendant = (n: Node, of: Node): boolean => {
  for (let p = n.parent; p; p = p.parent) if (p === of) return true;
  return false;
};

/** xstate's transition domain (getTransitionDomain) for a single-target transition */
function domainOf(t: Transition, root: Node): Node | null {
  const target = t.target!;
  if (!t.x.reenter && (target === t.source || isDescendant(target, t.source))) return t.source;
  for (let a = target.parent; a; a = a.parent) if (t.source === a || isDescendant(t.source, a)) return a;
  return t.x.reenter ? null : root;
}

export function compileMachine<C extends object>(machine: AnyStateMachine): ActorLogic<CompiledSnapshot<C>, EventObject, unknown> {
  const impl = machine.implementations as unknown as Impl;
  const root = compileNodes(machine, impl);
  const config = machine.config as { context?: unknown; output?: unknown };

  const resolveDelay = (d: string | number, args: unknown): number => {
    if (typeof d === 'number') return d;
    const v = impl.delays[d];
    if (typeof v === 'function') return (v as (a: unknown) => number)(args);
    if (typeof v === 'number') return v;
    throw new Error(`compiled machine: delay "${d}" has no implementation`);
  };
  const resolve = (v: unknown, args: unknown) => (typeof v === 'function' ? (v as (a: unknown) => unknown)(args) : v);

  /** stop an actor once this step is over (as xstate's stopChild), and forget it as a child */
  function stop(snap: State<C>, ref: AnyActorRef, scope: Scope): void {
    // (a copy without it, made by hand: every pickup leaves the wait's state, and entries plus a
    // rest-destructuring made four arrays and two objects of the worker's few children there)
    const children = snap.children;
    for (const id in children) {
      if (children[id] !== ref) continue;
      const rest: Record<string, AnyActorRef> = {};
      for (const k in children) if (children[k] !== ref) rest[k] = children[k]!;
      snap.children = rest;
      break;
    }
    if (ref instanceof EffectChild) scope.defer(() => ref.stop());
    else scope.defer(() => scope.stopChild(ref));
  }

  // enqueueActions' `enqueue` and `check`, made once per compiled logic and shared by its actors:
  // they act on the collect call under way (collect is synchronous; `collecting` is restored
  // after a nested one). An `enqueue` kept and called after its collect returned throws.
  // Made once because an enqueueActions runs on hot steps (every claim) and these are 10 closures.
  let collecting: { queued: Step[]; args: unknown } | undefined;
  const current = () => {
    if (!collecting) throw new Error('compiled machine: enqueue called outside enqueueActions');
    return collecting;
  };
  const refuse = (what: string) => () => {
    throw unsupported(`enqueue.${what}`, 'enqueueActions');
  };
  const enqueue = Object.assign((a: unknown) => void current().queued.push(actionStep(a, impl, 'enqueueActions')), {
    assign: (assignment: unknown) => void current().queued.push({ kind: 'assign', assignment, params: undefined }),
    stopChild: (ref: AnyActorRef | string) => void current().queued.push({ kind: 'stop', ref }),
    // only known when the action runs: refused then, by name
    cancel: refuse('cancel'),
    emit: refuse('emit'),
    raise: refuse('raise'),
    sendParent: refuse('sendParent'),
    sendTo: refuse('sendTo'),
    spawnChild: refuse('spawnChild'),
  });
  const check = (g: unknown) => {
    const name = typeof g === 'string' ? g : (g as { type: string }).type;
    return (impl.guards[name] as (a: unknown, p: unknown) => boolean)(current().args, (g as { params?: unknown }).params);
  };

  /** run steps in order: assigns update the context the next steps see, as in xstate */
  function run(steps: Step[], snap: State<C>, event: EventObject, scope: Scope, deferred: boolean): void {
    // (most states have no exit or entry actions: no argument object for those)
    if (steps.length === 0) return;
    // one argument object per run of steps, renewed when an assign changes the context (an
    // action keeps the context it was called with, as in xstate)
    // (assigners get `spawn` too, as in xstate: one object serves both)
    let args = { context: snap.context, event, self: scope.self, system: scope.system, spawn: noSpawn };
    for (const s of steps) {
      if (args.context !== snap.context) args = { context: snap.context, event, self: scope.self, system: scope.system, spawn: noSpawn };
      if (s.kind === 'assign') {
        const a = s.assignment;
        const p = resolve(s.params, args);
        // (these copies are the hottest lines of a step: they stay V8's fast clone while the
        // contexts they see have few shapes, so the machines make every field of theirs at once,
        // test/model/*: "keeps the context's fields as they were made")
        if (typeof a === 'function') snap.context = { ...snap.context, ...(a as (x: unknown, p: unknown) => Record<string, unknown>)(args, p) };
        else {
          // every property assigner sees the context from before this assign, as in xstate
          const next = { ...snap.context } as Record<string, unknown>;
          for (const k in a as Record<string, unknown>) {
            const v = (a as Record<string, unknown>)[k];
            next[k] = typeof v === 'function' ? v(args, p) : v;
          }
          snap.context = next as C;
        }
      } else if (s.kind === 'custom') {
        const p = resolve(s.params, args);
        if (deferred) {
          // run later, with the context of now (`args` is renewed by later assigns)
          const at = args;
          scope.defer(() => s.fn(at, p));
        }
        else s.fn(args, p);
      } else if (s.kind === 'enqueue') {
        const queued: Step[] = [];
        const outer = collecting;
        collecting = { queued, args };
        try {
          s.collect({ ...args, enqueue, check }, resolve(s.params, args));
        } finally {
          collecting = outer;
        }
        run(queued, snap, event, scope, deferred);
      } else if (s.kind === 'stop') {
        const ref = typeof s.ref === 'string' ? snap.children[s.ref] : s.ref;
        if (ref) stop(snap, ref, scope);
      } else if (s.kind === 'schedule') {
        const clock = clockOf(scope);
        const ms = resolveDelay(s.delay, args);
        const self = scope.self;
        const timers = snap.timers;
        const go = () => {
          timers.delete(s.id);
          // an actor that errored during its start has no way to clear what it armed then
          if (self.getSnapshot().status === 'active') self.send(s.event);
        };
        if (deferred) scope.defer(() => timers.set(s.id, clock.setTimeout(go, ms)));
        else timers.set(s.id, clock.setTimeout(go, ms));
      } else {
        const h = snap.timers.get(s.id);
        if (h !== undefined) {
          clockOf(scope).clearTimeout(h);
          snap.timers.delete(s.id);
        }
      }
    }
  }

  /** start a state's invoked actors once this step is over, as xstate's spawnChild */
  function invoke(n: Node, snap: State<C>, event: EventObject, scope: Scope): void {
    for (const d of n.invoke) {
      const input = resolve(d.input, { context: snap.context, event, self: scope.self });
      const fn = effectFnOf(d.logic);
      if (fn) {
        // a promise effect runs without an xstate Actor (promise-effect.ts)
        const child = new EffectChild(d.id, d.src, fn, input, scope.self);
        snap.children = { ...snap.children, [d.id]: child as unknown as AnyActorRef };
        scope.defer(() => {
          if (snap.children[d.id] === (child as unknown as AnyActorRef)) child.start();
        });
        continue;
      }
      const ref = createActor(d.logic, { id: d.id, src: d.src, parent: scope.self, systemId: d.systemId, input });
      snap.children = { ...snap.children, [d.id]: ref };
      scope.defer(() => {
        // stopped within the step that started it: never runs
        if (snap.children[d.id] === ref) ref.start();
      });
    }
  }

  /** enter `target` and its initial descendants, from below `domain` (or `domain` itself too) */
  function enter(snap: State<C>, domain: Node | null, target: Node, includeDomain: boolean, event: EventObject, scope: Scope, deferred: boolean) {
    const path: Node[] = [];
    for (let n: Node | undefined = target; n && n !== domain; n = n.parent) path.unshift(n);
    if (includeDomain && domain) path.unshift(domain);
    let leaf = target;
    while (leaf.initial) {
      leaf = leaf.initial;
      path.push(leaf);
    }
    for (const n of path) {
      run(n.entry, snap, event, scope, deferred);
      invoke(n, snap, event, scope);
    }
    snap.leaf = leaf;
    snap.value = leaf.value;
    snap._nodes = leaf.path;
    if (leaf.final && leaf.parent === root) {
      snap.status = 'done';
      const out = config.output;
      // as xstate: the output function sees the final state's done event, not the trigger
      const done = { type: `xstate.done.state.${leaf.x.id}` };
      snap.output = typeof out === 'function' ? out({ context: snap.context, event: done, self: scope.self }) : out;
      halt(snap, scope);
    }
  }

  /** the machine is over (done, error, stopped): no delayed event, no invoked actor survives it */
  function halt(snap: State<C>, scope: Scope) {
    const clock = clockOf(scope);
    for (const h of snap.timers.values()) clock.clearTimeout(h);
    snap.timers.clear();
    for (const ref of Object.values(snap.children)) stop(snap, ref, scope);
  }

  const guardOk = (t: Transition, snap: State<C>, event: EventObject) =>
    !t.guard || (impl.guards[t.guard.name] as (a: unknown, p: unknown) => boolean)({ context: snap.context, event }, t.guard.params);

  /** xstate's selectTransitions for one active leaf: innermost state first, exact event first */
  function select(snap: State<C>, event: EventObject): Transition | undefined {
    const type = event.type;
    for (let n: Node | undefined = snap.leaf; n; n = n.parent) {
      const exact = n.on.get(type);
      if (exact) {
        for (const t of exact) if (guardOk(t, snap, event)) return t;
        continue;
      }
      for (const p of n.partial) {
        if (!type.startsWith(p.prefix)) continue;
        for (const t of p.transitions) if (guardOk(t, snap, event)) return t;
      }
    }
    return undefined;
  }

  function selectAlways(snap: State<C>, event: EventObject): Transition | undefined {
    for (let n: Node | undefined = snap.leaf; n; n = n.parent) for (const t of n.always) if (guardOk(t, snap, event)) return t;
    return undefined;
  }

  /** one microstep: exit, transition actions, entry; reported to the inspector as xstate does */
  function microstep(snap: State<C>, t: Transition, event: EventObject, scope: Scope, deferred: boolean) {
    if (t.target) {
      if (t.domain === undefined) t.domain = domainOf(t, root);
      const domain = t.domain;
      const reenterDomain = t.x.reenter && t.source === domain;
      for (let n: Node | undefined = snap.leaf; n && (n !== domain || reenterDomain); n = n.parent) {
        run(n.exit, snap, event, scope, deferred);
        for (const d of n.invoke) {
          const ref = snap.children[d.id];
          if (ref) stop(snap, ref, scope);
        }
        if (n === domain) break;
      }
      run(t.actions, snap, event, scope, deferred);
      enter(snap, domain, t.target, reenterDomain, event, scope, deferred);
    } else run(t.actions, snap, event, scope, deferred);
    // (asked first: the report's two objects, on every microstep of every task, only when heard)
    if (inspects(scope.system)) reportMicrostep(scope.system, { event, snapshot: snap, transitions: [t.x], actorRef: scope.self });
  }

  /** eventless transitions until none is enabled, as xstate's macrostep */
  function settle(snap: State<C>, event: EventObject, scope: Scope, deferred: boolean) {
    for (let i = 0; snap.status === 'active'; i++) {
      if (i > 1000) throw new Error('compiled machine: eventless transitions loop');
      const t = selectAlways(snap, event);
      if (!t) return;
      microstep(snap, t, event, scope, deferred);
    }
  }

  const makeSnapshot = (context: C): State<C> => new Snap<C>('active', root.value, context, undefined, undefined, {}, root.path, root, new Map());

  const logic: ActorLogic<CompiledSnapshot<C>, EventObject, unknown> & { implementations: AnyStateMachine['implementations'] } = {
    config: machine,
    // as on a machine: what it was provided with
    implementations: machine.implementations,
    getInitialSnapshot(scope, input) {
      const c = config.context;
      const context = (typeof c === 'function' ? c({ input, self: scope.self, spawn: noSpawn }) : (c ?? {})) as C;
      const snap = makeSnapshot(context);
      const init = { type: 'xstate.init', input } as EventObject;
      // as xstate, the initial entry actions run once the actor has started
      enter(snap, null, root, true, init, scope, true);
      settle(snap, init, scope, true);
      return snap as CompiledSnapshot<C>;
    },
    transition(snapshot, event, scope) {
      if (snapshot.status !== 'active') return snapshot;
      const snap = copy(snapshot as unknown as State<C>);
      if (event.type === 'xstate.stop') {
        halt(snap, scope);
        snap.status = 'stopped';
        return snap as CompiledSnapshot<C>;
      }
      const chosen = select(snapshot, event);
      try {
        if (chosen) microstep(snap, chosen, event, scope, false);
        else if (event.type.startsWith('xstate.error.actor.')) {
          // an invoked actor failed and no state handles it: so does the machine, as in xstate
          snap.status = 'error';
          snap.error = (event as { error?: unknown }).error;
          halt(snap, scope);
          return snap as CompiledSnapshot<C>;
        } else return snapshot;
        settle(snap, event, scope, false);
      } catch (e) {
        // the actor errors out (xstate's Actor catches this): nothing it armed may outlive it
        halt(snap, scope);
        throw e;
      }
      return snap as CompiledSnapshot<C>;
    },
    getPersistedSnapshot(snapshot) {
      return { status: snapshot.status, value: snapshot.value, context: snapshot.context, output: snapshot.output, error: snapshot.error } as unknown as CompiledSnapshot<C>;
    },
  };
  return logic;
}

/**
 * A compiled machine's snapshot: a class, so that the copy each step makes is one construction
 * (a spread of an object literal with a method was a slow clone on the hot path)
 */
class Snap<C> implements State<C> {
  constructor(
    public status: State<C>['status'],
    public value: StateValue,
    public context: C,
    public output: unknown,
    public error: unknown,
    public children: Record<string, AnyActorRef>,
    public _nodes: XNode[],
    public leaf: Node,
    public timers: Map<string, unknown>,
  ) {}

  matches(v: StateValue): boolean {
    return matchesState(v, this.value);
  }
}

const copy = <C>(s: State<C>): State<C> => new Snap(s.status, s.value, s.context, s.output, s.error, s.children, s._nodes, s.leaf, s.timers);

const noSpawn = () => {
  throw new Error('compiled machine: spawn is not supported');
};

/** compiled once per machine (a worker machine is provided with one task machine) */
const cache = new WeakMap<AnyStateMachine, ActorLogic<any, any, any>>();
export function compiled<C extends object>(machine: AnyStateMachine): ActorLogic<CompiledSnapshot<C>, EventObject, unknown> {
  let logic = cache.get(machine);
  if (!logic) cache.set(machine, (logic = compileMachine<C>(machine)));
  return logic;
}
