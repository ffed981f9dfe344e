/**
 * Follow a machine actor for its owner (Worker, Monitor): emit `state` on the owner each time
 * the state value changes, and log a crash of the machine itself (a bug: effects report their
 * failures as events).
 */
import type { EventEmitter } from 'node:events';
import type { AnyActorRef } from 'xstate';
import type { LoggerLike } from './logger.js';

export function emitStates(actor: AnyActorRef, owner: EventEmitter, log: LoggerLike, name: string): void {
  let last: unknown = undefined;
  actor.subscribe({
    next: (s: { value: unknown }) => {
      // every event makes a snapshot (a busy worker makes thousands a second): compare cheaply
      if (sameValue(s.value, last)) return;
      last = s.value;
      log.debug(`state ${said(s.value)}`);
      tell(owner, 'state', s.value, log, `the ${name}'s state event`);
    },
    error: (e: unknown) => log.error(`${name} machine crashed`, e),
  });
}

/**
 * An event of a Worker or a Monitor to its listeners, each on its own: one that throws must not
 * crash the machine it is told about, nor one that rejects (an unhandled rejection would end the
 * process), nor keep the others from hearing it. `what` names the event in the warning.
 */
export function tell(owner: EventEmitter, event: string, payload: unknown, log: LoggerLike, what: string): void {
  const report = (e: unknown) => {
    try {
      log.warn(`a listener of ${what} threw`, e);
    } catch {
      log.warn(`a listener of ${what} threw a value that cannot be logged`);
    }
  };
  // (the raw ones: a `once` listener's wrapper takes itself off as it is called)
  for (const listener of owner.rawListeners(event)) {
    try {
      const r = (listener as (p: unknown) => unknown).call(owner, payload);
      if (r instanceof Promise) r.catch(report);
    } catch (e) {
      report(e);
    }
  }
}

/** equal state values: a state name, or nested { parent: child } objects */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * a state value as JSON, made once per value: a compiled machine's state values are one object
 * per state, and a busy worker passes two states per claim
 */
const spelt = new WeakMap<object, string>();
function said(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  let s = spelt.get(value);
  if (s === undefined) spelt.set(value, (s = JSON.stringify(value)));
  return s;
}
