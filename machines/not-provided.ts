/**
 * Placeholders for the effects a machine names and its runtime provides (src/worker.ts,
 * src/monitor.ts): each throws, naming the machine and the effect, if the machine is run
 * without it.
 */
import { fromCallback, fromPromise, type AnyEventObject, type NonReducibleUnknown } from 'xstate';

const missing = (machine: string, name: string) => new Error(`${machine} machine: effect "${name}" not provided`);

export const promiseNotProvided = <O, I = NonReducibleUnknown>(machine: string, name: string) =>
  fromPromise<O, I>(async () => {
    throw missing(machine, name);
  });

export const callbackNotProvided = (machine: string, name: string) =>
  fromCallback<AnyEventObject>(() => {
    throw missing(machine, name);
  });

export const actionNotProvided = (machine: string, name: string) => () => {
  throw missing(machine, name);
};
