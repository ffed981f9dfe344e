/**
 * Mermaid statecharts of the three machines, generated from the machine definitions themselves
 * (xstate/graph), so docs/machines.md can never drift from the code: test/docs.test.ts checks it.
 */
import { toDirectedGraph, type DirectedGraphNode } from 'xstate/graph';
import type { AnyStateMachine } from 'xstate';

function label(event: string, guard: unknown): string {
  let e = event
    .replace(/^xstate\.after\.([^.]+)\..*$/, 'after $1')
    .replace(/^xstate\.done\.actor\.\d+\..*$/, 'done')
    .replace(/^xstate\.error\.actor\.\d+\..*$/, 'error')
    .replace(/^xstate\.done\.actor\.(.+)$/, 'done $1')
    .replace(/^xstate\.error\.actor\.(.+)$/, 'error $1');
  if (e === '') e = 'always';
  if (typeof guard === 'string') e += ` [${guard}]`;
  else if (typeof guard === 'function') e += ' [in state]';
  return e.replace(/[:;]/g, ' ');
}

const name = (id: string) => id.replace(/\./g, '_');

function render(node: DirectedGraphNode, depth: number, out: string[], root: string) {
  const pad = '  '.repeat(depth);
  for (const child of node.children) {
    const short = child.stateNode.key;
    const isFinal = child.stateNode.type === 'final';
    if (child.children.length) {
      out.push(`${pad}state ${name(child.id)} {`);
      const initial = child.stateNode.initial?.target?.[0];
      if (initial) out.push(`${pad}  [*] --> ${name(initial.id)}`);
      render(child, depth + 1, out, root);
      out.push(`${pad}}`);
    } else {
      out.push(`${pad}state "${short}" as ${name(child.id)}`);
    }
    if (isFinal) out.push(`${pad}${name(child.id)} --> [*]`);
  }
  for (const child of node.children) {
    const seen = new Set<string>();
    // Eventless (always) transitions are not in the directed graph's edges.
    for (const a of (child.stateNode.always ?? []) as unknown as { guard?: unknown; target?: { id: string }[] }[]) {
      for (const target of a.target ?? []) out.push(`${'  '.repeat(depth)}${name(child.id)} --> ${name(target.id)}: ${label('', a.guard)}`);
    }
    for (const edge of child.edges) {
      const t = edge.transition as unknown as { guard?: unknown; eventType: string };
      const line = `${'  '.repeat(depth)}${name(edge.source.id)} --> ${name(edge.target.id)}: ${label(t.eventType, t.guard)}`;
      if (seen.has(line)) continue;
      // Self-loops without a state change (actions only) are noise in a diagram.
      if (edge.source.id === edge.target.id && !(edge.transition as unknown as { reenter?: boolean }).reenter) continue;
      seen.add(line);
      out.push(line);
    }
  }
  void root;
}

export function mermaid(machine: AnyStateMachine): string {
  const g = toDirectedGraph(machine);
  const out = ['stateDiagram-v2'];
  const initial = machine.root.initial?.target?.[0];
  if (initial) out.push(`  [*] --> ${name(initial.id)}`);
  render(g, 1, out, g.id);
  return out.join('\n');
}
