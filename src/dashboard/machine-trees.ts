/**
 * The state trees of the three machines, read from the machine definitions themselves (as
 * tools/diagrams.ts does for docs/machines.md), for the page to draw: a chart cannot drift from
 * the machine it shows.
 */
import type { AnyStateMachine } from 'xstate';
import { monitorMachine } from '../../machines/monitor.js';
import { taskMachine } from '../../machines/task.js';
import { workerMachine } from '../../machines/worker.js';

export interface StateTree {
  /** the state's path from the machine's root, dot-joined ('' for the root) */
  path: string;
  key: string;
  type: string;
  /** the key of its initial child, when it has children */
  initial?: string;
  /** the events that leave it, and the paths of their targets */
  on: { event: string; targets: string[] }[];
  children: StateTree[];
}

interface Node {
  key: string;
  type: string;
  path: string[];
  states: Record<string, Node>;
  initial?: { target?: { key: string }[] };
  transitions: Map<string, { target?: { path: string[] }[] }[]>;
}

function tree(node: Node): StateTree {
  const on: StateTree['on'] = [];
  for (const [event, list] of node.transitions) {
    const targets = [...new Set(list.flatMap((t) => (t.target ?? []).map((s) => s.path.join('.'))))];
    if (targets.length) on.push({ event: event.replace(/^xstate\.after\.([^.]+)\..*$/, 'after $1').replace(/^xstate\.(done|error)\.actor\.\d+\..*$/, '$1').replace(/^xstate\.(done|error)\.actor\.(.+)$/, '$1 $2'), targets });
  }
  const t: StateTree = { path: node.path.join('.'), key: node.key, type: node.type, on, children: Object.values(node.states).map(tree) };
  const initial = node.initial?.target?.[0]?.key;
  if (initial) t.initial = initial;
  return t;
}

export function machineTree(machine: AnyStateMachine): StateTree {
  return tree(machine.root as unknown as Node);
}

let trees: Record<'worker' | 'monitor' | 'task', StateTree> | undefined;

/** computed once: the definitions do not change while the process runs */
export function machineTrees(): Record<'worker' | 'monitor' | 'task', StateTree> {
  return (trees ??= { worker: machineTree(workerMachine), monitor: machineTree(monitorMachine), task: machineTree(taskMachine) });
}
