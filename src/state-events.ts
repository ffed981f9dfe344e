/**
 * Follow a machine actor for its owner (Worker, Monitor): emit `state` on the owner each time
 * the state value changes, and log a crash of the machine itself (a bug: effects report their
 * failures as events).
 */
import type { EventEmitter } from 'node:events';
import type { AnyActorRef } from 'xstate';
import type { LoggerLike } from './logger.js';

export function emitStates(actor: AnyActorRef, owner: EventEmitter, log: LoggerLike, name: string): void {
  let last = '';
  actor.subscribe({
    next: (s: { value: unknown }) => {
      const v = JSON.stringify(s.value);
      if (v === last) return;
      last = v;
      log.debug(`state ${v}`);
      owner.emit('state', s.value);
    },
    error: (e: unknown) => log.error(`${name} machine crashed`, e),
  });
}
