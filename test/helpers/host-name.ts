/**
 * A process under a host name of its own (`unshare --uts`: a UTS namespace, then `hostname`), for
 * tests of what tells two hosts apart by name (worker process names are `<host>-<pid>-<random>`).
 * Needs root; `hostsAvailable()` tells a test to skip cleanly where it is missing.
 */
import { spawnSync } from 'node:child_process';

let available: boolean | undefined;

export function hostsAvailable(): boolean {
  available ??= process.platform === 'linux' && spawnSync('unshare', ['--uts', 'hostname', 'probe'], { stdio: 'ignore' }).status === 0;
  return available;
}

/** command prefix that runs a program under host name `name` */
export function onHost(name: string): string[] {
  return ['unshare', '--uts', 'sh', '-c', `hostname ${name} && exec "$0" "$@"`];
}
