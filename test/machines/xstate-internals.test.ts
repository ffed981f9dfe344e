/**
 * The compiled interpreter reads xstate internals, all through actors/xstate-internals.ts. These
 * checks hold each read against the installed xstate, so that an upgrade that moves one fails
 * here, by name, before a model test fails somewhere far from the cause.
 */
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { assign, cancel, createActor, enqueueActions, fromPromise, raise, sendTo, setup, stopChild } from 'xstate';
import { builtIn, rootOf, reportMicrostep, XSTATE_VERSION_READ } from '../../actors/xstate-internals.js';

const require = createRequire(import.meta.url);

describe('the xstate internals the compiled interpreter reads', () => {
  it('were checked on the installed xstate version (upgrading: check each read below, then this pin)', () => {
    const installed = (require('xstate/package.json') as { version: string }).version;
    const pinned = (require('../../package.json') as { dependencies: Record<string, string> }).dependencies.xstate;
    expect(installed, 'actors/xstate-internals.ts was checked on another xstate').toBe(XSTATE_VERSION_READ);
    expect(pinned, 'package.json must pin xstate exactly, to the version actors/xstate-internals.ts was checked on').toBe(XSTATE_VERSION_READ);
  });

  it("read each built-in action creator's parts", () => {
    const assigner = { n: () => 1 };
    expect(builtIn(assign(assigner))).toEqual({ kind: 'assign', assignment: assigner });
    const collect = () => {};
    expect(builtIn(enqueueActions(collect))).toEqual({ kind: 'enqueue', collect });
    expect(builtIn(raise({ type: 'T' }, { id: 'r', delay: 5 }))).toEqual({ kind: 'raise', event: { type: 'T' }, id: 'r', delay: 5 });
    expect(builtIn(cancel('r'))).toEqual({ kind: 'cancel', sendId: 'r' });
    expect(builtIn(stopChild('child'))).toEqual({ kind: 'stopChild', actorRef: 'child' });
    expect(builtIn(sendTo('x', { type: 'T' }))).toMatchObject({ kind: 'other', type: 'xstate.sendTo' });
    expect(builtIn(() => {})).toBeUndefined();
  });

  it("read a machine's state nodes and transitions", () => {
    const m = setup({ guards: { g: () => true }, actions: { act: () => {} }, actors: { x: fromPromise(async () => {}) } }).createMachine({
      id: 'm',
      initial: 'a',
      states: {
        a: { entry: 'act', on: { GO: { target: 'b', guard: 'g', actions: 'act', reenter: true } }, always: { target: 'b', guard: 'g' }, invoke: { id: 'i', src: 'x' } },
        b: { type: 'final' },
      },
    });
    const root = rootOf(m);
    expect(root.type).toBe('compound');
    expect(root.initial?.target[0]).toBe(root.states.a);
    const a = root.states.a!;
    expect(a.parent).toBe(root);
    expect(a.entry).toEqual(['act']);
    const [go] = a.transitions.get('GO')!;
    expect(go).toMatchObject({ source: a, target: [root.states.b], reenter: true, eventType: 'GO' });
    expect(go!.guard).toBe('g');
    expect(go!.actions).toEqual(['act']);
    expect(a.always?.[0]?.target).toEqual([root.states.b]);
    expect(a.invoke[0]).toMatchObject({ id: 'i', src: 'x' });
    expect(root.states.b!.type).toBe('final');
  });

  it("report microsteps through the actor system's inspection hook", () => {
    const seen: unknown[] = [];
    const actor = createActor(setup({}).createMachine({}), { inspect: (e) => void (e.type === '@xstate.microstep' && seen.push(e)) });
    reportMicrostep(actor.system, { event: { type: 'E' }, snapshot: {}, transitions: [], actorRef: actor });
    expect(seen).toEqual([expect.objectContaining({ type: '@xstate.microstep', event: { type: 'E' }, _transitions: [] })]);
  });
});
