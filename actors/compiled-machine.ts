/**
 * A machine stepped by a small interpreter instead of xstate's general one: the same statechart
 * (states, transitions, guards, actions and delays are read from the machine's own StateNodes,
 * with the implementations it was provided with), for the subset of statechart features the
 * task machine uses. Compiling a machine that uses anything else throws, naming the feature.
 *
 * Why: the worker runs one task actor per task. Interpreted by xstate, a task's life (created,
 * run, settled, END written) costs about 50 µs of CPU, most of a no-op task's cost on the
 * worker; this interpreter does the same steps in a few µs (bench/xstate-cost.ts). It is
 * checked against xstate's own interpretation by the task machine's model-based test
 * (test/model/task.test.ts), which replays every path with both and compares state, context,
 * the transitions taken (reported to the inspector as xstate reports them) and the effects.
 *
 * Supported: atomic, compound and final states (final only as children of the root), event
 * transitions with an optional named guard, a single target or none, `reenter`, named actions
 * (custom or `assign`), entry actions, `after` delays; `context` and `output` functions.
 * Not supported (throws at compile time): parallel and history states, `always`, `invoke`,
 * exit actions other than the cancels `after` adds, wildcard events, raise without a delay,
 * inline guard combinators.
 */
import { matchesState, type ActorLogic, type ActorScope, type AnyStateMachine, type EventObject, type Snapshot, type StateValue } from 'xstate';

/** the parts of xstate's StateNode and TransitionDefinition read here */
interface XNode {
  id: string;
  key: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  parent?: XNode;
  states: Record<string, XNode>;
  initial?: { target: XNode[] };
  entry: unknown[];
  exit: unknown[];
  transitions: Map<string, XTransition[]>;
  always?: unknown[];
  invoke: unknown[];
  output?: unknown;
}
interface XTransition {
  source: XNode;
  target?: XNode[];
  reenter: boolean;
  guard?: unknown;
  actions: unknown[];
  eventType: string;
}

interface Node {
  x: XNode;
  parent?: Node;
  depth: number;
  initial?: Node;
  final: boolean;
  entry: Step[];
  exit: Step[];
  on: Map<string, Transition[]>;
  /** the state value when this is the active leaf */
  value: StateValue;
}
interface Transition {
  x: XTransition;
  source: Node;
  target?: Node;
  guard?: { name: string; params: unknown };
  actions: Step[];
  /** computed once: states exited (deepest first) from each possible active leaf, and entered */
  domain?: Node;
}
type Step =
  | { kind: 'custom'; name: string; fn: (args: unknown, params: unknown) => void; params: unknown }
  | { kind: 'assign'; assignment: unknown; params: unknown }
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
  /** xstate's snapshot API, as far as callers of a task actor use it */
  matches(v: StateValue): boolean;
  /** @internal */
  leaf: Node;
  /** @internal delayed events scheduled by `after`, by id */
  timers: Map<string, unknown>;
}

type Impl = { actions: Record<string, unknown>; guards: Record<string, unknown>; delays: Record<string, unknown> };

const unsupported = (what: string, where: string) => new Error(`compiled machine: ${what} (in ${where}) is not supported`);

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
  const t = (fn as { type?: string }).type;
  if (t === 'xstate.assign') return { kind: 'assign', assignment: (fn as { assignment: unknown }).assignment, params };
  if (t === 'xstate.raise') {
    const r = fn as { event: unknown; id?: string; delay?: string | number };
    if (r.delay === undefined || typeof r.event !== 'object') throw unsupported('raise without a delay', where);
    return { kind: 'schedule', id: r.id ?? (r.event as EventObject).type, event: r.event as EventObject, delay: r.delay };
  }
  if (t === 'xstate.cancel') return { kind: 'cancel', id: (fn as { sendId: string }).sendId };
  if (typeof t === 'string' && t.startsWith('xstate.')) throw unsupported(`built-in action ${t}`, where);
  if (typeof fn !== 'function') throw unsupported(`action ${String(name)}`, where);
  return { kind: 'custom', name: name ?? (fn as { name: string }).name, fn: fn as (args: unknown, params: unknown) => void, params };
}

function compileNodes(machine: AnyStateMachine, impl: Impl): { root: Node; byX: Map<XNode, Node> } {
  const byX = new Map<XNode, Node>();
  const build = (x: XNode, parent: Node | undefined, path: string[]): Node => {
    if (x.type === 'parallel' || x.type === 'history') throw unsupported(`${x.type} state`, x.id);
    if (x.always?.length) throw unsupported('always', x.id);
    if (x.invoke.length) throw unsupported('invoke', x.id);
    if (x.type === 'final' && parent?.parent) throw unsupported('a final state below the root', x.id);
    if (x.type === 'final' && x.output !== undefined) throw unsupported("a final state's own output", x.id);
    let value: StateValue = path.at(-1) ?? '';
    for (let i = path.length - 2; i >= 0; i--) value = { [path[i]!]: value };
    const node: Node = {
      x,
      parent,
      depth: path.length,
      final: x.type === 'final',
      entry: x.entry.map((a) => actionStep(a, impl, x.id)),
      exit: x.exit.map((a) => actionStep(a, impl, x.id)),
      on: new Map(),
      value,
    };
    if (node.exit.some((s) => s.kind !== 'cancel')) throw unsupported('exit actions', x.id);
    byX.set(x, node);
    for (const [k, c] of Object.entries(x.states)) build(c, node, [...path, k]);
    return node;
  };
  const root = build(machine.root as unknown as XNode, undefined, []);
  for (const [x, node] of byX) {
    if (x.initial?.target.length) node.initial = byX.get(x.initial.target[0]!);
    for (const [type, ts] of x.transitions) {
      if (type.includes('*')) throw unsupported(`wildcard event "${type}"`, x.id);
      node.on.set(
        type,
        ts.map((t) => {
          if ((t.target?.length ?? 0) > 1) throw unsupported('several targets', x.id);
          let guard: Transition['guard'];
          if (t.guard !== undefined) {
            const g = t.guard as string | { type?: unknown; params?: unknown };
            const name = typeof g === 'string' ? g : typeof g === 'object' && typeof g.type === 'string' ? g.type : undefined;
            if (name === undefined || typeof impl.guards[name] !== 'function') throw unsupported('a guard that is not a named function', x.id);
            guard = { name, params: typeof g === 'object' ? g.params : undefined };
          }
          const tr: Transition = {
            x: t,
            source: node,
            target: t.target?.[0] ? byX.get(t.target[0]) : undefined,
            guard,
            actions: t.actions.map((a) => actionStep(a, impl, `${x.id} on ${type}`)),
          };
          return tr;
        }),
      );
    }
  }
  return { root, byX };
}

const isDescendant = (n: Node, of: Node): boolean => {
  for (let p = n.parent; p; p = p.parent) if (p === of) return true;
  return false;
};

/** xstate's transition domain (getTransitionDomain) for a single-target transition */
function domainOf(t: Transition, root: Node): Node | undefined {
  const target = t.target!;
  if (!t.x.reenter && (target === t.source || isDescendant(target, t.source))) return t.source;
  for (let a = target.parent; a; a = a.parent) if (t.source === a || isDescendant(t.source, a)) return a;
  return t.x.reenter ? undefined : root;
}

export function compileMachine<C extends object>(machine: AnyStateMachine): ActorLogic<CompiledSnapshot<C>, EventObject, unknown> {
  const impl = machine.implementations as unknown as Impl;
  const { root } = compileNodes(machine, impl);
  const config = machine.config as { context?: unknown; output?: unknown };

  const resolveDelay = (d: string | number, args: unknown): number => {
    if (typeof d === 'number') return d;
    const v = impl.delays[d];
    if (typeof v === 'function') return (v as (a: unknown) => number)(args);
    if (typeof v === 'number') return v;
    throw new Error(`compiled machine: delay "${d}" has no implementation`);
  };

  /** run steps in order: assigns update the context the next steps see, as in xstate */
  function run(steps: Step[], snap: State<C>, event: EventObject, scope: ActorScope<any, any>, deferred: boolean): void {
    for (const s of steps) {
      const args = { context: snap.context, event, self: scope.self, system: scope.system };
      if (s.kind === 'assign') {
        const a = s.assignment;
        const p = typeof s.params === 'function' ? (s.params as (x: unknown) => unknown)(args) : s.params;
        let partial: Record<string, unknown>;
        if (typeof a === 'function') partial = (a as (x: unknown, p: unknown) => Record<string, unknown>)({ ...args, spawn: noSpawn }, p);
        else {
          partial = {};
          for (const [k, v] of Object.entries(a as Record<string, unknown>)) partial[k] = typeof v === 'function' ? v({ ...args, spawn: noSpawn }, p) : v;
        }
        snap.context = { ...snap.context, ...partial };
      } else if (s.kind === 'custom') {
        const p = typeof s.params === 'function' ? (s.params as (x: unknown) => unknown)(args) : s.params;
        if (deferred) scope.defer(() => s.fn(args, p));
        else s.fn(args, p);
      } else if (s.kind === 'schedule') {
        const clock = (scope.self as unknown as { clock: { setTimeout(f: () => void, ms: number): unknown } }).clock;
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
          (scope.self as unknown as { clock: { clearTimeout(h: unknown): void } }).clock.clearTimeout(h);
          snap.timers.delete(s.id);
        }
      }
    }
  }

  /** enter `target` and its initial descendants, from below `domain` (or `domain` itself too) */
  function enter(snap: State<C>, domain: Node | undefined, target: Node, includeDomain: boolean, event: EventObject, scope: ActorScope<any, any>, deferred: boolean) {
    const path: Node[] = [];
    for (let n: Node | undefined = target; n && n !== domain; n = n.parent) path.unshift(n);
    if (includeDomain && domain) path.unshift(domain);
    let leaf = target;
    while (leaf.initial) {
      leaf = leaf.initial;
      path.push(leaf);
    }
    for (const n of path) run(n.entry, snap, event, scope, deferred);
    snap.leaf = leaf;
    snap.value = leaf.value;
    if (leaf.final && leaf.parent === root) {
      snap.status = 'done';
      const out = config.output;
      // as xstate: the output function sees the final state's done event, not the trigger
      const done = { type: `xstate.done.state.${leaf.x.id}` };
      snap.output = typeof out === 'function' ? out({ context: snap.context, event: done, self: scope.self }) : out;
      clearTimers(snap, scope);
    }
  }

  function clearTimers(snap: State<C>, scope: ActorScope<any, any>) {
    const clock = (scope.self as unknown as { clock: { clearTimeout(h: unknown): void } }).clock;
    for (const h of snap.timers.values()) clock.clearTimeout(h);
    snap.timers.clear();
  }

  function makeSnapshot(context: C): State<C> {
    const snap: State<C> = {
      status: 'active',
      value: root.value,
      context,
      output: undefined,
      error: undefined,
      leaf: root,
      timers: new Map(),
      matches(v: StateValue) {
        return matchesState(v, this.value);
      },
    };
    return snap;
  }

  return {
    config: machine,
    getInitialSnapshot(scope, input) {
      const c = config.context;
      const context = (typeof c === 'function' ? c({ input, self: scope.self, spawn: noSpawn }) : (c ?? {})) as C;
      const snap = makeSnapshot(context);
      const init = { type: 'xstate.init', input } as EventObject;
      // as xstate, the initial entry actions run once the actor has started
      enter(snap, undefined, root, true, init, scope, true);
      return snap as CompiledSnapshot<C>;
    },
    transition(snapshot, event, scope) {
      if (snapshot.status !== 'active') return snapshot;
      if (event.type === 'xstate.stop') {
        clearTimers(snapshot, scope);
        return { ...snapshot, status: 'stopped' } as CompiledSnapshot<C>;
      }
      let chosen: Transition | undefined;
      search: for (let n: Node | undefined = snapshot.leaf; n; n = n.parent) {
        const ts = n.on.get(event.type);
        if (!ts) continue;
        for (const t of ts) {
          if (t.guard) {
            const g = impl.guards[t.guard.name] as (a: unknown, p: unknown) => boolean;
            if (!g({ context: snapshot.context, event }, t.guard.params)) continue;
          }
          chosen = t;
          break search;
        }
      }
      if (!chosen) return snapshot;
      // the same snapshot object would tell observers nothing changed: make a new one
      const snap: State<C> = { ...snapshot };
      try {
        if (chosen.target) {
          const domain = (chosen.domain ??= domainOf(chosen, root));
          const reenterDomain = chosen.x.reenter && chosen.source === domain;
          for (let n: Node | undefined = snapshot.leaf; n && (n !== domain || reenterDomain); n = n.parent) {
            run(n.exit, snap, event, scope, false);
            if (n === domain) break;
          }
          run(chosen.actions, snap, event, scope, false);
          enter(snap, domain, chosen.target, reenterDomain, event, scope, false);
        } else run(chosen.actions, snap, event, scope, false);
      } catch (e) {
        // the actor errors out (xstate's Actor catches this): no delayed event may outlive it
        clearTimers(snap, scope);
        throw e;
      }
      // reported as xstate reports a microstep (the model-based tests read the transitions)
      const sys = scope.system as unknown as { _sendInspectionEvent?(e: unknown): void };
      sys._sendInspectionEvent?.({ type: '@xstate.microstep', event, snapshot: snap, _transitions: [chosen.x], actorRef: scope.self });
      return snap as CompiledSnapshot<C>;
    },
    getPersistedSnapshot(snapshot) {
      return { status: snapshot.status, value: snapshot.value, context: snapshot.context, output: snapshot.output, error: snapshot.error } as unknown as CompiledSnapshot<C>;
    },
  };
}

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

