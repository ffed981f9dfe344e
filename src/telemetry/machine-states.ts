/**
 * A machine's state as Prometheus sees it: one series per state the machine can be in, named by
 * its dotted path (`connected.waiting`), 1 for the current one and 0 for the others. The states
 * come from the machine definition itself, so every series exists from the start (an alert on
 * `state="halted"` has something to compare before the first halt) and a state added to the
 * machine shows up with no change here.
 */
import type { Gauge } from 'prom-client';

/** what this reads of a state node: its child states (xstate's StateNode) */
interface StateTree {
  states?: Record<string, StateTree>;
}

/** the dotted path of every leaf state of `root` (a compound state is in exactly one of its leaves) */
export function leafStates(root: StateTree): string[] {
  const walk = (node: StateTree, path: string): string[] => {
    const children = Object.entries(node.states ?? {});
    if (children.length === 0) return [path];
    return children.flatMap(([name, child]) => walk(child, path ? `${path}.${name}` : name));
  };
  return walk(root, '');
}

/** the leaf paths of a state value: `{ connected: 'waiting' }` is `connected.waiting` (several, in parallel states) */
export function valuePaths(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix ? `${prefix}.${value}` : value];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
    const path = prefix ? `${prefix}.${k}` : k;
    const below = valuePaths(v, path);
    return below.length ? below : [path];
  });
}

/**
 * `gauge{state}`: 1 for the current state of `root`, 0 for each other. `set(value)`, told on
 * every transition (a busy worker makes two per claim), only keeps the value; the gauge is
 * written from it when the registry is read (`collect`), every state of `root` at each read.
 */
export function stateGauge(root: StateTree): { set(value: unknown): void; collect(gauge: Gauge): void } {
  const states = leafStates(root);
  let current: unknown;
  return {
    set(value) {
      current = value;
    },
    collect(gauge) {
      const now = new Set(valuePaths(current));
      for (const s of states) gauge.set({ state: s }, now.has(s) ? 1 : 0);
    },
  };
}
