/**
 * Shared pieces of the model-based tests (xstate/graph): what a machine defines (every state node
 * and transition, cross-checked with toDirectedGraph), a pure stepper that reports which
 * transitions a step took, path generation with TestModel over an abstract state graph (every
 * edge, self-loops included, extended to a final state), an event generator derived from the
 * machine definition, and controllable fake effects for the system under test (promise actors
 * the replay settles, named actions that start an effect the replay settles and report back by
 * events, callback actors that record start/stop and can sendBack).
 */
import {
  createActor,
  fromCallback,
  type ActorLogic,
  type AnyActorLogic,
  type AnyActorRef,
  type AnyEventObject,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type AnyStateNode,
  type AnyTransitionDefinition,
  type InspectionEvent,
} from 'xstate';
import { TestModel, toDirectedGraph, type AdjacencyValue, type DirectedGraphNode } from 'xstate/graph';
import { promiseEffect } from '../../actors/promise-effect.js';

export type Snap = AnyMachineSnapshot;

// ---------------------------------------------------------------------------------------------
// The machine definition: every state node and every transition
// ---------------------------------------------------------------------------------------------

/**
 * A stable name for one transition definition: its source, its event (or "always"), its index
 * among the source's transitions for that event (guarded alternatives are separate transitions)
 * and its target. Computed the same way for a machine and for `machine.provide(...)`.
 */
export function transitionKey(t: AnyTransitionDefinition): string {
  const source = t.source as AnyStateNode;
  const targets = (t.target ?? []).map((n: AnyStateNode) => n.id).join(',') || '(no target)';
  if (!t.eventType) {
    const i = (source.always ?? []).indexOf(t);
    return `${source.id} (always)#${i} -> ${targets}`;
  }
  const i = (source.transitions.get(t.eventType) ?? []).indexOf(t);
  return `${source.id} ${t.eventType}#${i} -> ${targets}`;
}

export interface Definition {
  /** ids of every state node but the root */
  states: string[];
  /** transitionKey of every transition, eventless ones included */
  transitions: string[];
}

export function definitionOf(machine: AnyStateMachine): Definition {
  const states: string[] = [];
  const transitions: string[] = [];
  const walk = (node: AnyStateNode) => {
    if (node !== machine.root) states.push(node.id);
    for (const list of node.transitions.values()) for (const t of list) transitions.push(transitionKey(t));
    for (const t of node.always ?? []) transitions.push(transitionKey(t));
    for (const child of Object.values(node.states) as AnyStateNode[]) walk(child);
  };
  walk(machine.root);
  // Cross-check with xstate's own graph: same nodes, same evented edges (it leaves out `always`).
  const graphNodes: string[] = [];
  let graphEdges = 0;
  const visit = (g: DirectedGraphNode) => {
    graphNodes.push(g.id);
    graphEdges += g.edges.length;
    g.children.forEach(visit);
  };
  visit(toDirectedGraph(machine));
  const evented = transitions.filter((k) => !k.includes(' (always)#')).length;
  if (graphEdges !== evented || graphNodes.length !== states.length + 1) {
    throw new Error(`definition walk disagrees with toDirectedGraph: ${evented} vs ${graphEdges} edges`);
  }
  return { states, transitions };
}

// ---------------------------------------------------------------------------------------------
// A pure stepper that reports the transitions taken (through the inspection API)
// ---------------------------------------------------------------------------------------------

export interface StepResult {
  snapshot: Snap;
  /** transitionKey of every transition taken, in order, eventless ones included */
  transitions: string[];
  /** ids of every state node active at some microstep of the step */
  nodes: string[];
  /** executable actions the step asked for (sendTo, spawnChild, named actions...) */
  actions: Array<{ type: string; params?: any }>;
}

export interface Stepper {
  init(input: unknown): StepResult;
  step(snapshot: Snap, event: AnyEventObject): StepResult;
}

export const nodeIds = (s: Snap): string[] => ((s as any)._nodes as AnyStateNode[]).map((n) => n.id).filter((id) => id !== (s as any).machine.root.id);

/**
 * Like xstate's `transition()`, run against an inert actor scope (no action executes, no actor
 * starts), but with an inspector attached so each microstep's transitions are visible.
 */
export function pureStepper(machine: AnyStateMachine): Stepper {
  let transitions: string[] | undefined;
  let nodes = new Set<string>();
  let actions: StepResult['actions'] = [];
  const self = createActor(machine, {
    inspect: (ev: InspectionEvent) => {
      if (ev.type !== '@xstate.microstep' || !transitions) return;
      for (const t of ev._transitions) transitions.push(transitionKey(t));
      for (const id of nodeIds(ev.snapshot as Snap)) nodes.add(id);
    },
  });
  const scope = {
    self,
    system: self.system,
    id: '',
    sessionId: '',
    logger: () => {},
    defer: () => {},
    emit: () => {},
    stopChild: () => {},
    actionExecutor: (a: { type: string; params?: any }) => actions.push(a),
  };
  const run = (f: () => Snap): StepResult => {
    transitions = [];
    nodes = new Set();
    actions = [];
    const snapshot = f();
    for (const id of nodeIds(snapshot)) nodes.add(id);
    const out = { snapshot, transitions, nodes: [...nodes], actions };
    transitions = undefined;
    return out;
  };
  return {
    init: (input) => run(() => machine.getInitialSnapshot(scope as any, input) as Snap),
    step: (snapshot, event) => run(() => machine.transition(snapshot, event, scope as any) as Snap),
  };
}

/**
 * A stepper that computes each (abstract state, event) once. Sound when the abstraction keeps
 * everything the guards and the offered events depend on (it only drops counters, last probe
 * or sweep results, and such): the cached result is then right for every concrete state with
 * that abstraction, up to the ignored context. (Were it not, the replays, which compare the
 * running actor with these results step by step, would fail.)
 */
export function cached(base: Stepper, abstract: (s: Snap) => string): Stepper {
  const cache = new Map<string, StepResult>();
  return {
    init: (input) => base.init(input),
    step: (s, e) => {
      const key = `${abstract(s)}|${JSON.stringify(e)}`;
      let r = cache.get(key);
      if (!r) cache.set(key, (r = base.step(s, e)));
      return r;
    },
  };
}

/** An ActorLogic whose transitions are a Stepper's, for TestModel. */
export function logicOf(machine: AnyStateMachine, stepper: Stepper): ActorLogic<Snap, AnyEventObject, unknown> {
  return {
    config: machine.config,
    transition: (s: Snap, e: AnyEventObject) => stepper.step(s, e).snapshot,
    getInitialSnapshot: (_scope: unknown, input: unknown) => stepper.init(input).snapshot,
    getPersistedSnapshot: (s: Snap) => s,
  } as unknown as ActorLogic<Snap, AnyEventObject, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Events offered in a state: derived from the transitions of its active nodes
// ---------------------------------------------------------------------------------------------

export interface Payloads {
  /** outputs of invoked promise actors by src, for `xstate.done.actor.<id>` */
  done: Record<string, (s: Snap) => unknown[]>;
  /** errors of invoked promise actors by src, for `xstate.error.actor.<id>` */
  error: Record<string, (s: Snap) => unknown[]>;
  /** plain and wildcard event types (e.g. `xstate.done.actor.task.*`) */
  events: Record<string, (s: Snap) => AnyEventObject[]>;
}

/** the src of the actor invoked with this id on one of the snapshot's active nodes */
export function invokeSrc(s: Snap, id: string): string | undefined {
  for (const n of (s as any)._nodes as AnyStateNode[]) {
    for (const def of n.invoke) if (def.id === id) return def.src as string;
  }
  return undefined;
}

/**
 * Every event some active node has a transition for, with payloads. An event type nobody
 * supplied payloads for throws: a transition added to a machine must be added here too.
 */
export function eventsFor(s: Snap, p: Payloads): AnyEventObject[] {
  if (s.status !== 'active') return [];
  const out: AnyEventObject[] = [];
  const seen = new Set<string>();
  for (const node of (s as any)._nodes as AnyStateNode[]) {
    for (const type of node.transitions.keys()) {
      if (seen.has(type)) continue;
      seen.add(type);
      const m = /^xstate\.(done|error)\.actor\.(.+)$/.exec(type);
      if (type.startsWith('xstate.after.')) out.push({ type });
      else if (m && !type.endsWith('*')) {
        const src = invokeSrc(s, m[2]!);
        const table = m[1] === 'done' ? p.done : p.error;
        const make = src ? table[src] : undefined;
        if (!make) throw new Error(`model: no ${m[1]} payloads for actor "${src ?? m[2]}" (${type} in ${node.id})`);
        for (const v of make(s)) out.push(m[1] === 'done' ? { type, output: v } : { type, error: v });
      } else {
        const make = p.events[type];
        if (!make) throw new Error(`model: no events for "${type}" (handled in ${node.id})`);
        out.push(...make(s));
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Path generation
// ---------------------------------------------------------------------------------------------

/** A generated path: the events from the initial state, and the state they reach. */
export interface Path {
  events: AnyEventObject[];
  state: Snap;
}

/**
 * Paths that take every edge of the abstract state graph (`abstract` bounds the state space):
 * TestModel.getShortestPaths gives the shortest path to every abstract state, and each edge of
 * TestModel.getAdjacencyMap not already on one is taken at the end of the shortest path to its
 * source. Self-loops (targetless transitions, events that change only ignored context) count as
 * edges too. Paths that are a prefix of another are dropped.
 */
export function edgeCoveringPaths(
  logic: AnyActorLogic,
  opts: { input: unknown; abstract: (s: Snap) => string; events: (s: Snap) => AnyEventObject[]; limit?: number },
): Path[] {
  const model = testModel(logic, opts);
  const toState = new Map<string, AnyEventObject[]>();
  for (const p of model.getShortestPaths({ allowDuplicatePaths: true })) toState.set(opts.abstract(p.state), p.steps.slice(1).map((st) => st.event));
  const candidates: Path[] = [];
  const adjacency = model.getAdjacencyMap();
  for (const [key, { state: from, transitions }] of Object.entries(adjacency) as Array<[string, AdjacencyValue<Snap, AnyEventObject>]>) {
    const head = toState.get(key);
    if (!head) throw new Error(`no shortest path to ${key}`);
    candidates.push({ events: head, state: from });
    for (const { event, state } of Object.values(transitions)) candidates.push({ events: [...head, event], state });
  }
  // drop the paths that are a prefix of a longer one
  const keyOf = (evs: AnyEventObject[]) => evs.map((e) => JSON.stringify(e)).join('\n');
  candidates.sort((a, b) => b.events.length - a.events.length);
  const prefixes = new Set<string>();
  const out: Path[] = [];
  for (const c of candidates) {
    const k = keyOf(c.events);
    if (prefixes.has(k)) continue;
    out.push(c);
    for (let i = 0; i <= c.events.length; i++) prefixes.add(keyOf(c.events.slice(0, i)));
  }
  return out.reverse();
}

/** the abstract state graph of `logic`, as xstate/graph's TestModel explores it */
function testModel(logic: AnyActorLogic, opts: { input: unknown; abstract: (s: Snap) => string; events: (s: Snap) => AnyEventObject[]; limit?: number }) {
  return new TestModel<Snap, AnyEventObject, unknown>(logic as ActorLogic<Snap, AnyEventObject, unknown>, {
    input: opts.input,
    events: opts.events,
    serializeState: (s) => opts.abstract(s),
    // a bound, so that a model change that blows up the state space fails instead of hanging
    limit: opts.limit ?? 5_000,
  });
}

/**
 * Paths that take every edge of the abstract state graph, as edgeCoveringPaths, but fewer and
 * longer, for a graph too large for a path per edge: each path goes by the shortest path to a
 * state with an edge not taken yet, then walks on, taking an edge not taken yet from where it is
 * (or going by the fewest edges to the nearest state that has one), until `maxLength` events.
 */
export function edgeCoveringWalks(
  logic: AnyActorLogic,
  opts: { input: unknown; abstract: (s: Snap) => string; events: (s: Snap) => AnyEventObject[]; limit?: number; maxLength?: number },
): Path[] {
  const model = testModel(logic, opts);
  const maxLength = opts.maxLength ?? 60;
  const adjacency = model.getAdjacencyMap() as Record<string, AdjacencyValue<Snap, AnyEventObject>>;
  const toState = new Map<string, AnyEventObject[]>();
  for (const p of model.getShortestPaths({ allowDuplicatePaths: true })) toState.set(opts.abstract(p.state), p.steps.slice(1).map((st) => st.event));
  /** per state, the edges not taken yet: event key -> [event, target key] */
  const open = new Map<string, Map<string, [AnyEventObject, string]>>();
  for (const [key, { transitions }] of Object.entries(adjacency)) {
    const m = new Map<string, [AnyEventObject, string]>();
    for (const [ek, { event, state }] of Object.entries(transitions)) m.set(ek, [event, opts.abstract(state)]);
    if (m.size) open.set(key, m);
  }
  /** the fewest events from `from` to a state with an edge not taken yet */
  const toOpen = (from: string): { events: AnyEventObject[]; at: string } | undefined => {
    const seen = new Set([from]);
    let frontier = [{ at: from, events: [] as AnyEventObject[] }];
    while (frontier.length) {
      const next: typeof frontier = [];
      for (const f of frontier) {
        if (open.has(f.at)) return f;
        for (const { event, state } of Object.values(adjacency[f.at]!.transitions)) {
          const k = opts.abstract(state);
          if (seen.has(k)) continue;
          seen.add(k);
          next.push({ at: k, events: [...f.events, event] });
        }
      }
      frontier = next;
    }
    return undefined;
  };
  const out: Path[] = [];
  // shortest-path order: the states nearest the start first
  const starts = [...open.keys()].sort((a, b) => toState.get(a)!.length - toState.get(b)!.length);
  for (const start of starts) {
    while (open.has(start)) {
    const events = [...toState.get(start)!];
    let at = start;
    for (;;) {
      const edges = open.get(at);
      if (edges) {
        // an edge on to more edges not taken first, one into a final state last
        const rank = (target: string) => (open.has(target) ? 0 : Object.keys(adjacency[target]!.transitions).length ? 1 : 2);
        let best: [string, [AnyEventObject, string]] | undefined;
        for (const entry of edges) if (!best || rank(entry[1][1]) < rank(best[1][1])) best = entry;
        const [ek, [event, target]] = best!;
        edges.delete(ek);
        if (edges.size === 0) open.delete(at);
        events.push(event);
        at = target;
        if (events.length >= maxLength) break;
        continue;
      }
      const go = toOpen(at);
      if (!go || events.length + go.events.length >= maxLength) break;
      events.push(...go.events);
      at = go.at;
    }
    out.push({ events, state: adjacency[at]!.state });
    }
  }
  return out;
}

/** Replays events through a stepper: the expected result of every step (index 0: the start). */
export function expectedSteps(stepper: Stepper, input: unknown, events: AnyEventObject[]): StepResult[] {
  const out = [stepper.init(input)];
  for (const e of events) out.push(stepper.step(out.at(-1)!.snapshot, e));
  return out;
}

/** The fewest events that take the machine from `from` to a final state (breadth first). */
export function eventsToFinal(stepper: Stepper, from: Snap, events: (s: Snap) => AnyEventObject[], abstract: (s: Snap) => string): AnyEventObject[] {
  const seen = new Set([abstract(from)]);
  let frontier: Array<{ s: Snap; evs: AnyEventObject[] }> = [{ s: from, evs: [] }];
  while (frontier.length) {
    const next: typeof frontier = [];
    for (const { s, evs } of frontier) {
      if (s.status !== 'active') return evs;
      for (const e of events(s)) {
        const t = stepper.step(s, e).snapshot;
        const k = abstract(t);
        if (seen.has(k)) continue;
        seen.add(k);
        next.push({ s: t, evs: [...evs, e] });
      }
    }
    frontier = next;
  }
  throw new Error(`no final state reachable from ${abstract(from)}`);
}

/** A generated path, extended to a final state so that every replay also checks the end. */
export interface Plan {
  /** the path's events, then the extension */
  events: AnyEventObject[];
  /** how many of `events` are the extension (all of them for a hand-written scenario) */
  extension: number;
  expected: StepResult[];
  name: string;
}

/** A hand-written scenario, replayed like a generated path (it counts for no coverage). */
export function planOf(stepper: Stepper, input: unknown, events: AnyEventObject[], name: string): Plan {
  const expected = expectedSteps(stepper, input, events);
  if (expected.at(-1)!.snapshot.status === 'active') throw new Error(`scenario "${name}" does not end the machine`);
  return { events, extension: events.length, expected, name };
}

export function plansFor(
  paths: Path[],
  stepper: Stepper,
  input: unknown,
  events: (s: Snap) => AnyEventObject[],
  abstract: (s: Snap) => string,
): Plan[] {
  // the events offered in a state depend only on its abstraction, so one search per abstract state
  const toFinal = new Map<string, AnyEventObject[]>();
  return paths.map((path) => {
    const head = expectedSteps(stepper, input, path.events);
    const last = head.at(-1)!.snapshot;
    if (abstract(last) !== abstract(path.state)) throw new Error(`stepper and TestModel disagree on ${describeEvents(path.events)}`);
    const key = abstract(last);
    if (!toFinal.has(key)) toFinal.set(key, eventsToFinal(stepper, last, events, abstract));
    const tail = toFinal.get(key)!;
    const all = [...path.events, ...tail];
    const name = `${describeEvents(path.events)}${tail.length ? ` (+${tail.length} to the end)` : ''}`;
    return { events: all, extension: tail.length, expected: expectedSteps(stepper, input, all), name };
  });
}

export interface Coverage {
  states: Set<string>;
  transitions: Set<string>;
}

export function coverageOf(steps: StepResult[][], upTo?: (i: number) => number): Coverage {
  const states = new Set<string>();
  const transitions = new Set<string>();
  for (const [i, path] of steps.entries()) {
    for (const r of path.slice(0, upTo ? upTo(i) : undefined)) {
      r.nodes.forEach((n) => states.add(n));
      r.transitions.forEach((t) => transitions.add(t));
    }
  }
  return { states, transitions };
}

export const missing = (all: string[], got: Set<string>) => all.filter((x) => !got.has(x));

/** an event in a test name: its type, shortened, and its payload if any */
export function describeEvent(e: AnyEventObject): string {
  const { type, ...rest } = e;
  const t = type.replace(/^xstate\./, '').replace(/^(done|error)\.actor\.\d+\.(\w+)\.(.+)$/, '$1 @$3');
  // an actor's done or error event: its output or error; any other event: its whole payload
  const payload = !type.startsWith('xstate.')
    ? Object.keys(rest).length
      ? rest
      : undefined
    : 'output' in rest
      ? rest.output
      : 'error' in rest
        ? rest.error
        : undefined;
  const json = payload === undefined ? '' : JSON.stringify(payload);
  return json ? `${t} ${json.length > 40 ? `${json.slice(0, 39)}…` : json}` : t;
}

export const describeEvents = (events: AnyEventObject[]): string => events.map(describeEvent).join(' > ') || '(initial)';

// ---------------------------------------------------------------------------------------------
// Controllable effects for the system under test
// ---------------------------------------------------------------------------------------------

export interface Call<I = any, O = any> {
  src: string;
  input: I;
  /** aborted when an invoked actor's state is left, or by `abort` for an action's effect */
  signal: AbortSignal;
  status: 'pending' | 'resolved' | 'rejected';
  /** replay step during which it started */
  step: number;
  resolve(v: O): void;
  reject(e: unknown): void;
  /** fire the signal of an action's effect (an invoked actor's is xstate's to fire) */
  abort(reason?: unknown): void;
}

export interface Service {
  src: string;
  sendBack: (e: AnyEventObject) => void;
  live: boolean;
  step: number;
}

/**
 * Fake effects that record every start and stop. Promise actors and the effects of reporting
 * actions never settle on their own: the replay settles them. A promise actor whose state was
 * left has its signal aborted; an action's effect, when the machine's own abort action says so.
 */
export class Effects {
  step = 0;
  readonly calls: Call[] = [];
  readonly services: Service[] = [];

  /** a promise actor that the replay settles */
  promise<O = any, I = any>(src: string) {
    return promiseVia<O, I>(src, () => this);
  }

  /** a callback actor that records its start and stop */
  callback(src: string) {
    return callbackVia(src, () => this);
  }

  start<O, I>(src: string, input: I, signal: AbortSignal, abort: (reason?: unknown) => void = () => {}): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      const c: Call<I, O> = {
        src,
        input,
        signal,
        abort,
        status: 'pending',
        step: this.step,
        resolve: (v) => {
          c.status = 'resolved';
          resolve(v);
        },
        reject: (e) => {
          c.status = 'rejected';
          reject(e);
        },
      };
      this.calls.push(c);
    });
  }

  serve(src: string, sendBack: (e: AnyEventObject) => void): () => void {
    const s: Service = { src, sendBack, live: true, step: this.step };
    this.services.push(s);
    return () => {
      s.live = false;
    };
  }

  /** effects still running (not settled, not stopped or aborted) */
  running(src?: string): Call[] {
    return this.unsettled(src).filter((c) => !c.signal.aborted);
  }

  /** effects not settled yet, aborted or not (an aborted function may still report) */
  unsettled(src?: string): Call[] {
    return this.calls.filter((c) => c.status === 'pending' && (src === undefined || c.src === src));
  }

  /** the one running promise actor from `src` */
  pending(src: string): Call {
    const r = this.running(src);
    if (r.length !== 1) throw new Error(`expected one running "${src}", found ${r.length}`);
    return r[0]!;
  }

  live(src?: string): Service[] {
    return this.services.filter((s) => s.live && (src === undefined || s.src === src));
  }

  /** srcs of every running effect, sorted */
  liveSrcs(): string[] {
    return [...this.running().map((c) => c.src), ...this.live().map((s) => s.src)].sort();
  }
}

/**
 * Effects that find their recorder when they start: a machine provided once with these serves
 * every replay (machine.provide is not cheap), each replay pointing `fx` at its own Effects.
 */
export function promiseVia<O = any, I = any>(src: string, fx: () => Effects) {
  // as src/worker.ts provides its effects: run by a compiled machine without an xstate Actor
  return promiseEffect<O, I>(({ input, signal }) => fx().start<O, I>(src, input, signal));
}

/** how a reporting action's effect reports back: the event for each outcome */
export interface Report<I> {
  done(output: any, input: I): AnyEventObject;
  error(error: unknown, input: I): AnyEventObject;
}

/**
 * A named action that starts an effect which reports back by events, as the runtime's do (the
 * task machine's startRun and writeEnd): each execution records a Call with its own
 * AbortSignal (fired through `call.abort`), and once the replay settles the call, the event
 * `report` makes of the outcome is sent to the actor, unless it has stopped by then.
 */
export function reportingVia<I>(src: string, fx: () => Effects, input: (context: any, self: AnyActorRef) => I, report: Report<I>) {
  return ({ context, self }: { context: any; self: AnyActorRef }): void => {
    const i = input(context, self);
    const controller = new AbortController();
    const send = (e: AnyEventObject) => {
      if (self.getSnapshot().status === 'active') self.send(e);
    };
    fx()
      .start(src, i, controller.signal, (reason) => controller.abort(reason))
      .then(
        (output) => send(report.done(output, i)),
        (error: unknown) => send(report.error(error, i)),
      );
  };
}

export function callbackVia(src: string, fx: () => Effects) {
  return fromCallback<AnyEventObject>(({ sendBack }) => fx().serve(src, sendBack));
}

/** srcs of the actors invoked by the snapshot's active nodes, sorted */
export const invokedSrcs = (s: Snap): string[] =>
  s.status === 'active' ? ((s as any)._nodes as AnyStateNode[]).flatMap((n) => n.invoke.map((d: { src: unknown }) => String(d.src))).sort() : [];

/** let settled promises and sent events reach the actors */
export async function settle(rounds = 4): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/** transitions taken by the root actor of a system, for an `inspect` option */
export function rootTransitions(sink: () => string[] | undefined, noSystem = false) {
  return (ev: InspectionEvent) => {
    // (a machine record has no actor system: what it reports is its own)
    if (ev.type !== '@xstate.microstep' || (!noSystem && ev.actorRef.sessionId !== ev.rootId)) return;
    sink()?.push(...ev._transitions.map(transitionKey));
  };
}
